using System.Collections.Concurrent;
using KillToken.Core.Ports;

namespace KillToken.Core.Domain;

/// <summary>
/// What the request path needs of a workspace (negotiated prices, the workspace budget), read through a short in-memory
/// cache: a change reaches other instances within <see cref="CacheLifetime"/>; the instance that saved it sees it at once.
/// </summary>
public sealed class WorkspaceSettings(IWorkspaceStore workspaces, TimeProvider time)
{
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expires, WorkspaceRecord? Workspace)> _cache = new(StringComparer.Ordinal);

    public async Task<WorkspaceRecord?> GetAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(workspaceId, out var cached) && cached.Expires > now)
        {
            return cached.Workspace;
        }

        var workspace = await workspaces.GetAsync(workspaceId, cancellationToken);
        Remember(workspaceId, workspace, now);
        return workspace;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the stored workspace (read fresh, never from the cache, so no other field is
    /// written back stale) and makes this instance see the result at once. Null when the workspace does not exist.
    /// </summary>
    public async Task<WorkspaceRecord?> UpdateAsync(string workspaceId, Func<WorkspaceRecord, WorkspaceRecord> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (await workspaces.GetAsync(workspaceId, cancellationToken) is not { } stored)
        {
            return null;
        }

        var updated = change(stored) with { UpdatedAt = time.GetUtcNow() };
        await workspaces.UpdateAsync(updated, cancellationToken);
        Remember(workspaceId, updated, time.GetUtcNow());
        return updated;
    }

    /// <summary>Caches a read, unless a newer version is cached already (a read that began before an update and ended after it).</summary>
    private void Remember(string workspaceId, WorkspaceRecord? workspace, DateTimeOffset now) =>
        _cache.AddOrUpdate(workspaceId, (now + CacheLifetime, workspace), (_, cached) =>
            cached.Workspace is { } newer && workspace is not null && newer.UpdatedAt > workspace.UpdatedAt ? cached : (now + CacheLifetime, workspace));
}
