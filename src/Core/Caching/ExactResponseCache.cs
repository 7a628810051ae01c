namespace KillToken.Core.Caching;

/// <summary>Storage for exact-cache entries, scoped to a workspace; entries expire.</summary>
public interface ICacheStore
{
    Task<CachedResponse?> GetAsync(string workspaceId, string key, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task SetAsync(string workspaceId, string key, CachedResponse response, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);
}

/// <summary>§3 step 5: the exact cache over an <see cref="ICacheStore"/>, switched by KILLTOKEN_CACHE_ENABLED, with a TTL.</summary>
public sealed class ExactResponseCache(ICacheStore store, GatewayOptions options, TimeProvider time) : IResponseCache
{
    public bool Enabled => options.CacheEnabled;

    public Task<CachedResponse?> TryGetAsync(string workspaceId, string key, CancellationToken cancellationToken = default) =>
        store.GetAsync(workspaceId, key, time.GetUtcNow(), cancellationToken);

    public Task SetAsync(string workspaceId, string key, CachedResponse response, CancellationToken cancellationToken = default) =>
        store.SetAsync(workspaceId, key, response, time.GetUtcNow() + options.CacheTtl, cancellationToken);
}
