using KillToken.Core.Gateway;

namespace KillToken.Core.Caching;

public static class CacheStatus
{
    public const string Hit = "hit";
    public const string Miss = "miss";
    public const string Bypass = "bypass";
    public const string Disabled = "disabled";
    public const string Written = "write";
}

/// <summary>A stored successful answer, replayable without the provider.</summary>
public sealed record CachedResponse(string ResponseJson, long InputTokens, long OutputTokens, long CachedInputTokens, decimal? AvoidedCostUsd);

public interface IResponseCache
{
    /// <summary>False when the server switch turns the cache off.</summary>
    bool Enabled { get; }

    Task<CachedResponse?> TryGetAsync(string workspaceId, string key, CancellationToken cancellationToken = default);

    Task SetAsync(string workspaceId, string key, CachedResponse response, CancellationToken cancellationToken = default);
}

/// <summary>The spine's pass-through: nothing is stored, every request reports the cache as disabled.</summary>
public sealed class DisabledResponseCache : IResponseCache
{
    public bool Enabled => false;

    public Task<CachedResponse?> TryGetAsync(string workspaceId, string key, CancellationToken cancellationToken = default) => Task.FromResult<CachedResponse?>(null);

    public Task SetAsync(string workspaceId, string key, CachedResponse response, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
