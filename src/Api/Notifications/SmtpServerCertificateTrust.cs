using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KillToken.Api.Notifications;

/// <summary>
/// SMTP_CA_FILE: the CA certificates of a private relay, trusted in addition to the system roots. A certificate the system
/// already trusts passes as it is; otherwise only an unknown issuer can be forgiven, by a chain that ends at one of these
/// CAs and is valid for server authentication. A name mismatch or a missing certificate always fails. There is no switch
/// that skips validation.
/// </summary>
public sealed class SmtpServerCertificateTrust
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509Certificate2Collection _roots;
    private readonly TimeSpan _revocationFetchTimeout;

    private SmtpServerCertificateTrust(X509Certificate2Collection roots, TimeSpan revocationFetchTimeout)
    {
        _roots = roots;
        _revocationFetchTimeout = revocationFetchTimeout;
    }

    /// <summary>Reads every certificate in a PEM file; throws when the file is unreadable or holds none.</summary>
    public static SmtpServerCertificateTrust FromPemFile(string path, TimeSpan revocationFetchTimeout)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(path);
        if (roots.Count == 0)
        {
            throw new CryptographicException("The file holds no PEM certificate.");
        }

        return new SmtpServerCertificateTrust(roots, revocationFetchTimeout);
    }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var ownChain = new X509Chain();
        var policy = ownChain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(_roots);
        if (chain is not null)
        {
            // Intermediates the server sent: candidates for the path, never anchors.
            policy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        policy.ApplicationPolicy.Add(ServerAuthentication);
        // Revocation is checked where the certificate names a CRL or OCSP responder; private relay CAs rarely publish one,
        // so "unknown" is accepted, "revoked" is not.
        policy.RevocationMode = X509RevocationMode.Online;
        policy.UrlRetrievalTimeout = _revocationFetchTimeout;
        policy.VerificationFlags = X509VerificationFlags.IgnoreEndRevocationUnknown
            | X509VerificationFlags.IgnoreCertificateAuthorityRevocationUnknown
            | X509VerificationFlags.IgnoreRootRevocationUnknown;
        return ownChain.Build(leaf);
    }
}
