using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>A server's private key and certificate as PEM files (what Node's TLS reads).</summary>
internal sealed record TestServerCertificate(string KeyFile, string CertificateFile);

/// <summary>
/// A throw-away CA made in the test run (no openssl, no private key checked in): its certificate as a PEM file, and
/// server certificates it signs for chosen names, written to a temp folder that disposal deletes.
/// </summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly string _folder;

    private TestCertificateAuthority(string name)
    {
        _folder = Path.Combine(Path.GetTempPath(), "killtoken-tests", "ca-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2)); // outlives every leaf it signs
        CaFile = Path.Combine(_folder, "ca.pem");
        File.WriteAllText(CaFile, _certificate.ExportCertificatePem());
    }

    /// <summary>The CA certificate (PEM), what SMTP_CA_FILE names.</summary>
    public string CaFile { get; }

    public static TestCertificateAuthority Create(string name = "KillToken Test Relay CA") => new(name);

    /// <summary>A server certificate for <paramref name="dnsNames"/> and <paramref name="ipAddresses"/>, signed by this CA.</summary>
    public TestServerCertificate IssueServerCertificate(string[] dnsNames, IPAddress[] ipAddresses)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={(dnsNames.Length > 0 ? dnsNames[0] : ipAddresses[0].ToString())}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
        }

        foreach (var ip in ipAddresses)
        {
            names.AddIpAddress(ip);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // positive
        using var certificate = request.Create(_certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);

        var stem = Path.Combine(_folder, "server-" + Guid.NewGuid().ToString("N"));
        var result = new TestServerCertificate(stem + "-key.pem", stem + "-cert.pem");
        File.WriteAllText(result.KeyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(result.CertificateFile, certificate.ExportCertificatePem());
        return result;
    }

    /// <summary>A certificate for 127.0.0.1 and localhost: what the gateway reaches the test server by.</summary>
    public TestServerCertificate IssueLoopbackCertificate() => IssueServerCertificate(["localhost"], [IPAddress.Loopback]);

    public void Dispose()
    {
        _certificate.Dispose();
        _key.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
