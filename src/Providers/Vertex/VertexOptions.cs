using KillToken.Providers.Common;

namespace KillToken.Providers.Vertex;

/// <summary>Server settings of the Vertex AI adapter.</summary>
public sealed record VertexOptions
{
    /// <summary>The setting that overrides <see cref="TokenUrl"/> (tests, sovereign clouds).</summary>
    public const string TokenUrlSetting = "KILLTOKEN_GOOGLE_TOKEN_URL";

    /// <summary>
    /// <c>KILLTOKEN_GOOGLE_TOKEN_URL</c>: where service-account JWTs are exchanged for access tokens; also the JWT's
    /// <c>aud</c>. Default <c>https://oauth2.googleapis.com/token</c>.
    /// </summary>
    public Uri TokenUrl { get; init; } = new(ProviderEndpoints.GoogleTokenUrl);

    public static VertexOptions Read(Func<string, string?> readSetting)
    {
        ArgumentNullException.ThrowIfNull(readSetting);
        var configured = readSetting(TokenUrlSetting);
        if (string.IsNullOrWhiteSpace(configured))
        {
            return new VertexOptions();
        }

        if (!Uri.TryCreate(configured.Trim(), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            throw new InvalidOperationException($"{TokenUrlSetting} must be an absolute http(s) URL.");
        }

        return new VertexOptions { TokenUrl = url };
    }
}
