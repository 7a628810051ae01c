using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KillToken.Providers.Bedrock;

/// <summary>An AWS access key pair, with the session token of temporary (STS) credentials.</summary>
internal sealed record AwsKeys(string AccessKeyId, string SecretAccessKey, string? SessionToken)
{
    public override string ToString() => $"AWS keys {AccessKeyId} (secret redacted)";
}

/// <summary>What a signature is made of, so tests can compare each step with AWS's published suite.</summary>
internal sealed record SigV4Signature(string CanonicalRequest, string StringToSign, string SignedHeaders, string Signature, string Authorization);

/// <summary>
/// AWS Signature Version 4, header form (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
/// canonical request → string to sign → HMAC-SHA256 key chain (date, region, service, "aws4_request") → signature.
/// BCL only: SHA-256 and HMAC-SHA256.
/// </summary>
internal static class SigV4Signer
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>SHA-256 of the empty payload.</summary>
    public const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>
    /// Signs <paramref name="request"/> in place: sets <c>Host</c>, <c>x-amz-date</c>, <c>x-amz-content-sha256</c>,
    /// <c>x-amz-security-token</c> (with a session token) and <c>Authorization</c>. The host signed is the one the request
    /// goes to (so a test server can verify it); region and service are the real ones.
    /// </summary>
    public static SigV4Signature Sign(HttpRequestMessage request, ReadOnlySpan<byte> payload, AwsKeys keys, string region, string service, DateTimeOffset now)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var host = uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";
        var amzDate = AmzDate(now);
        var payloadHash = Convert.ToHexStringLower(SHA256.HashData(payload));

        request.Headers.Host = host;
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", payloadHash);
        var headers = new List<KeyValuePair<string, string>>
        {
            new("host", host),
            new("x-amz-content-sha256", payloadHash),
            new("x-amz-date", amzDate),
        };
        if (!string.IsNullOrEmpty(keys.SessionToken))
        {
            request.Headers.TryAddWithoutValidation("x-amz-security-token", keys.SessionToken);
            headers.Add(new("x-amz-security-token", keys.SessionToken));
        }

        var signature = Compute(request.Method.Method, uri.AbsolutePath, uri.Query, headers, payloadHash, keys, region, service, now);
        request.Headers.TryAddWithoutValidation("Authorization", signature.Authorization);
        return signature;
    }

    /// <summary>
    /// The signature of one request. <paramref name="rawPath"/> and <paramref name="rawQuery"/> are as sent on the wire
    /// (percent-encoded); every header given is signed.
    /// </summary>
    public static SigV4Signature Compute(
        string method, string rawPath, string rawQuery, IEnumerable<KeyValuePair<string, string>> headers, string payloadHash,
        AwsKeys keys, string region, string service, DateTimeOffset timestamp)
    {
        var amzDate = AmzDate(timestamp);
        var dateStamp = amzDate[..8];

        var canonicalHeaders = headers
            .GroupBy(h => h.Key.Trim().ToLowerInvariant(), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Value: string.Join(',', g.Select(h => CollapseSpaces(h.Value)))))
            .ToList();
        var signedHeaders = string.Join(';', canonicalHeaders.Select(h => h.Name));

        var canonicalRequest = new StringBuilder()
            .Append(method.ToUpperInvariant()).Append('\n')
            .Append(CanonicalPath(rawPath)).Append('\n')
            .Append(CanonicalQuery(rawQuery)).Append('\n');
        foreach (var (name, value) in canonicalHeaders)
        {
            canonicalRequest.Append(name).Append(':').Append(value).Append('\n');
        }

        canonicalRequest.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHash);
        var canonical = canonicalRequest.ToString();

        var scope = $"{dateStamp}/{region}/{service}/aws4_request";
        var stringToSign = $"{Algorithm}\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";

        var key = Hmac(Encoding.UTF8.GetBytes("AWS4" + keys.SecretAccessKey), dateStamp);
        key = Hmac(key, region);
        key = Hmac(key, service);
        key = Hmac(key, "aws4_request");
        var signature = Hex(Hmac(key, stringToSign));

        var authorization = $"{Algorithm} Credential={keys.AccessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}";
        return new SigV4Signature(canonical, stringToSign, signedHeaders, signature, authorization);
    }

    public static string AmzDate(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// Every service but S3 signs the path encoded once more than it travels: the wire's <c>%3A</c> is signed as
    /// <c>%253A</c>. Empty → "/".
    /// </summary>
    internal static string CanonicalPath(string rawPath)
    {
        if (string.IsNullOrEmpty(rawPath))
        {
            return "/";
        }

        return string.Join('/', rawPath.Split('/').Select(UriEncode));
    }

    /// <summary>Parameters decoded, re-encoded the AWS way, sorted by name then value.</summary>
    internal static string CanonicalQuery(string rawQuery)
    {
        var query = rawQuery.StartsWith('?') ? rawQuery[1..] : rawQuery;
        if (query.Length == 0)
        {
            return string.Empty;
        }

        return string.Join('&', query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair =>
            {
                var at = pair.IndexOf('=', StringComparison.Ordinal);
                var name = at < 0 ? pair : pair[..at];
                var value = at < 0 ? string.Empty : pair[(at + 1)..];
                return (Name: UriEncode(Uri.UnescapeDataString(name)), Value: UriEncode(Uri.UnescapeDataString(value)));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => $"{p.Name}={p.Value}"));
    }

    /// <summary>RFC 3986 encoding as AWS defines it: unreserved characters kept, every other UTF-8 byte as %XX (upper case).</summary>
    internal static string UriEncode(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static string CollapseSpaces(string value) => string.Join(' ', value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries));

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
