using Microsoft.AspNetCore.Cors.Infrastructure;

namespace KillToken.Api.Hosting;

/// <summary>
/// The browser origins allowed to call the API across origins, read once at start-up: CORS_ORIGIN (one origin or a
/// comma-separated list), or, when it is not set, the origin of FRONTEND_URL; neither set means no CORS at all. Each entry
/// must be an exact http(s) origin (<c>https://app.example.com</c>, <c>http://localhost:5173</c>; one trailing slash is
/// tolerated, any other path is not); <c>*</c> and wildcard hosts are refused because the dashboard and the gateway are
/// called with an <c>Authorization</c> header or an API key. The self-host turns this into its CORS policy
/// (<see cref="ToPolicy"/>); in Azure the platform applies the same list (infra/main.bicep, <c>siteConfig.cors</c>).
/// </summary>
public sealed class CorsOrigins
{
    public const string PolicyName = "killtoken-browser";

    /// <summary>Browsers cache a preflight answer at most this long (Chromium caps it at 2 hours).</summary>
    public static readonly TimeSpan PreflightMaxAge = TimeSpan.FromHours(2);

    /// <summary>Every method the route table uses.</summary>
    public static IReadOnlyList<string> Methods { get; } = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>
    /// Request headers a browser may send: everything the gateway and the management API read, and what the official
    /// OpenAI, Anthropic and Google Gen AI JavaScript SDKs add on their own, so an SDK pointed at KillToken from a page passes
    /// its preflight.
    /// </summary>
    public static IReadOnlyList<string> RequestHeaders { get; } =
    [
        // Sessions, project keys and JSON bodies.
        "Authorization", "Content-Type",
        // The API key headers native SDKs send (ApiKeyAuthenticator) and TokenGuard's.
        "x-killtoken-key", "x-api-key", "api-key", "x-goog-api-key", "x-tokenguard-key",
        // KillToken's fields on the wrapper routes (WrapperHeaders).
        Core.Gateway.WrapperHeaders.ProviderHeader, Core.Gateway.WrapperHeaders.FeatureHeader, Core.Gateway.WrapperHeaders.IdempotencyKeyHeader,
        Core.Gateway.WrapperHeaders.CacheHeader, Core.Gateway.WrapperHeaders.OptimizationModeHeader,
        "Idempotency-Key",
        // Anthropic's SDK (anthropic-beta is passed on to the provider).
        "anthropic-version", Core.Gateway.WrapperHeaders.AnthropicBetaHeader, "anthropic-dangerous-direct-browser-access",
        // OpenAI's SDK.
        "OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta",
        // Google Gen AI SDK.
        "x-goog-api-client",
        // The Stainless-generated SDKs (OpenAI, Anthropic) describe themselves on every call.
        "x-stainless-lang", "x-stainless-package-version", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime",
        "x-stainless-runtime-version", "x-stainless-retry-count", "x-stainless-timeout", "x-stainless-helper-method",
        "x-stainless-helper", "x-stainless-poll-helper", "x-stainless-custom-poll-interval",
        // Set by the SDKs; browsers that let scripts set it (Firefox) list it in the preflight.
        "User-Agent",
    ];

    /// <summary>Response headers a page may read besides the CORS-safelisted ones.</summary>
    public static IReadOnlyList<string> ResponseHeaders { get; } = ["x-killtoken-metrics", "x-request-id", "Retry-After", "x-should-retry"];

    private CorsOrigins(IReadOnlyList<string> origins, string? source)
    {
        Origins = origins;
        Source = source;
    }

    /// <summary>Neither setting: no CORS headers on any answer.</summary>
    public static CorsOrigins None { get; } = new([], null);

    /// <summary>The allowed origins, normalized (<c>scheme://host[:port]</c>, lower case, default port left out), no duplicates.</summary>
    public IReadOnlyList<string> Origins { get; }

    /// <summary>The setting the origins came from (CORS_ORIGIN or FRONTEND_URL), null when there are none.</summary>
    public string? Source { get; }

    public bool IsEnabled => Origins.Count > 0;

    /// <summary>
    /// CORS_ORIGIN when set, else <paramref name="frontend"/>'s origin. Problems are added to <paramref name="errors"/>, each
    /// naming CORS_ORIGIN, and leave CORS off.
    /// </summary>
    public static CorsOrigins Read(string? corsOrigin, FrontendLinks frontend, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(frontend);
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(corsOrigin))
        {
            return frontend.Origin is { } origin ? new CorsOrigins([origin], SettingNames.FrontendUrl) : None;
        }

        var origins = new List<string>();
        var problems = errors.Count;
        foreach (var entry in corsOrigin.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // An entry with user info is not repeated: it may hold a password.
            var shown = entry.Contains('@', StringComparison.Ordinal) ? "an entry with user info (user@host)" : $"'{entry}'";
            if (entry.Contains('*', StringComparison.Ordinal))
            {
                errors.Add($"{SettingNames.CorsOrigin} must list exact origins: {shown} is refused, because the API is called with "
                    + "Authorization headers and API keys. Set the frontend's origin, such as https://app.example.com (several: comma-separated).");
            }
            else if (Parse(entry) is { } origin)
            {
                if (!origins.Contains(origin, StringComparer.Ordinal))
                {
                    origins.Add(origin);
                }
            }
            else
            {
                errors.Add($"{SettingNames.CorsOrigin}: {shown} is not an origin. Each entry must be scheme://host[:port] with http or https "
                    + "and no path, such as https://app.example.com or http://localhost:5173.");
            }
        }

        if (origins.Count == 0 && errors.Count == problems)
        {
            errors.Add($"{SettingNames.CorsOrigin} lists no origin; leave it empty for none.");
        }

        return errors.Count > problems ? None : new CorsOrigins(origins, SettingNames.CorsOrigin);
    }

    /// <summary><c>scheme://host[:port]</c> of an absolute http(s) URL, as a browser writes it in the <c>Origin</c> header.</summary>
    public static string OriginOf(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var port = uri.IsDefaultPort ? string.Empty : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost; // IdnHost drops an IPv6 address's brackets
        return (uri.Scheme + "://" + host + port).ToLowerInvariant();
    }

    /// <summary>The self-host's policy: these origins exactly, the routes' methods and headers, no cookies.</summary>
    public CorsPolicy ToPolicy() => new CorsPolicyBuilder()
        .WithOrigins([.. Origins])
        .WithMethods([.. Methods])
        .WithHeaders([.. RequestHeaders])
        .WithExposedHeaders([.. ResponseHeaders])
        .SetPreflightMaxAge(PreflightMaxAge)
        .Build();

    public override string ToString() => IsEnabled ? $"{string.Join(", ", Origins)} (from {Source})" : "none";

    private static string? Parse(string entry)
    {
        // An origin is scheme://host[:port]; one trailing slash is forgiven (a copied address), anything after it is a path.
        var text = entry.EndsWith('/') ? entry[..^1] : entry;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.UserInfo.Length > 0 || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0
            || text.IndexOfAny(['?', '#', '@', '\\']) >= 0
            || !text.StartsWith(uri.Scheme + "://", StringComparison.OrdinalIgnoreCase)
            || text.AsSpan(uri.Scheme.Length + 3).Contains('/'))
        {
            return null;
        }

        return OriginOf(uri);
    }
}
