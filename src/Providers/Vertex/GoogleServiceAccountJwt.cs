using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Providers.Vertex;

/// <summary>
/// The signed JWT a service account trades for an access token (OAuth 2.0 JWT bearer grant, RFC 7523;
/// developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests): RS256 over
/// <c>{iss: clientEmail, scope, aud: token URL, iat, exp: iat + 1h}</c>, <c>kid</c> = the key's id when known.
/// </summary>
internal static class GoogleServiceAccountJwt
{
    public const string Scope = "https://www.googleapis.com/auth/cloud-platform";
    public const string GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    /// <summary>The assertion, or null when <paramref name="privateKeyPem"/> is not a PEM RSA private key.</summary>
    public static string? CreateAssertion(string clientEmail, string privateKeyPem, string? privateKeyId, Uri audience, DateTimeOffset now)
    {
        using var rsa = RSA.Create();
        try
        {
            // A key copied out of the service account's JSON file often keeps its escaped newlines.
            rsa.ImportFromPem(privateKeyPem.Replace("\\n", "\n", StringComparison.Ordinal));
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return null;
        }

        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT" };
        if (!string.IsNullOrWhiteSpace(privateKeyId))
        {
            header["kid"] = privateKeyId.Trim();
        }

        var issuedAt = now.ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["iss"] = clientEmail.Trim(),
            ["scope"] = Scope,
            ["aud"] = audience.AbsoluteUri,
            ["iat"] = issuedAt,
            ["exp"] = issuedAt + (long)Lifetime.TotalSeconds,
        };

        var signingInput = $"{Encode(header)}.{Encode(claims)}";
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{signingInput}.{Base64Url.EncodeToString(signature)}";
    }

    private static string Encode(JsonObject part) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(part.ToJsonString()));
}
