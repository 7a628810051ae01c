namespace KillToken.Core;

/// <summary>Server settings the request path reads (§7). Bound from environment / local.settings.json Values.</summary>
public sealed record GatewayOptions
{
    /// <summary><c>KILLTOKEN_MAX_BODY_BYTES</c>; larger bodies get 413 request_too_large.</summary>
    public long MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary><c>KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS</c>: lets credential endpoints point at loopback/private hosts (and http).</summary>
    public bool AllowPrivateEndpoints { get; init; }

    /// <summary><c>KILLTOKEN_CACHE_ENABLED</c>: the server switch of the exact cache.</summary>
    public bool CacheEnabled { get; init; } = true;

    /// <summary><c>KILLTOKEN_CACHE_TTL_SECONDS</c>.</summary>
    public TimeSpan CacheTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary><c>KILLTOKEN_PROVIDER_TIMEOUT_SECONDS</c>: one upstream attempt's limit.</summary>
    public TimeSpan ProviderTimeout { get; init; } = TimeSpan.FromSeconds(100);
}
