using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Caching;
using KillToken.Core.Gateway;
using KillToken.Core.Idempotency;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

// The gateway's hot-path ports on Cosmos DB (container `workspaces`, partition = workspace id): idempotency records and
// exact-cache entries as expiring documents. Cosmos DB deletes an item when its `ttl` (seconds after its last write) runs
// out, but lazily, so every read also checks the document's own `expiresAt` against the clock.

/// <summary>Document plumbing for the gateway stores: documents with a <c>ttl</c>, raw point reads, patches.</summary>
internal static class CosmosItems
{
    /// <summary>A write that may have been applied although it failed (its answer lost): never to be repeated blindly.</summary>
    public static bool OutcomeUnknown(Exception error) => error is KillToken.Core.Ports.StoreUnavailableException { OutcomeUnknown: true };

    /// <summary>Cosmos DB's largest document is 2 MB; a bigger one is refused with 413.</summary>
    public static bool IsTooLarge(ResponseMessage response) => response.StatusCode == HttpStatusCode.RequestEntityTooLarge;

    /// <summary>
    /// A record's JSON as a document of <paramref name="workspaceId"/>'s partition: <c>id</c>, <c>type</c>,
    /// <c>workspaceId</c> (the partition key path), the record's own properties, then <c>expiresAt</c> and <c>ttl</c> when given.
    /// </summary>
    public static MemoryStream Document<T>(T record, string id, string type, string workspaceId, int? ttlSeconds, DateTimeOffset? expiresAt = null)
    {
        var body = JsonSerializer.SerializeToNode(record, CosmosStoreContext.Json) as JsonObject
            ?? throw new ArgumentException("Only objects can be stored as documents.", nameof(record));
        var document = new JsonObject { ["id"] = id, ["type"] = type, ["workspaceId"] = workspaceId };
        foreach (var (name, value) in body.ToList())
        {
            if (name is "id" or "type" or "workspaceId" or "ttl")
            {
                continue;
            }

            body.Remove(name);
            document[name] = value;
        }

        if (expiresAt is { } expires)
        {
            document["expiresAt"] = expires;
        }

        if (ttlSeconds is { } ttl)
        {
            document["ttl"] = ttl;
        }

        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            document.WriteTo(writer);
        }

        stream.Position = 0;
        return stream;
    }

    /// <summary>Seconds from <paramref name="now"/> until <paramref name="expiresAt"/>, rounded up, at least 1 (Cosmos DB's minimum).</summary>
    public static int TtlSeconds(DateTimeOffset expiresAt, DateTimeOffset now) =>
        (int)Math.Clamp(Math.Ceiling((expiresAt - now).TotalSeconds), 1, int.MaxValue);

    /// <summary>A point read: the parsed document and its etag, or (null, null) when there is none.</summary>
    public static async Task<(JsonDocument? Document, string? ETag)> ReadAsync(Container container, string id, string partitionKey, CancellationToken cancellationToken)
    {
        using var response = await container.ReadItemStreamAsync(id, new PartitionKey(partitionKey), cancellationToken: cancellationToken);
        if (CosmosStoreContext.IsMissingItem(response))
        {
            return (null, null);
        }

        response.EnsureSuccessStatusCode();
        return (await JsonDocument.ParseAsync(response.Content, cancellationToken: cancellationToken), response.Headers.ETag);
    }

    public static bool IsType(JsonElement root, string type) =>
        root.TryGetProperty("type", out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);

    /// <summary>A number property as a long (Cosmos DB may hand integers back in floating-point notation); 0 when absent.</summary>
    public static long Int64(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number)
        {
            return 0;
        }

        return value.TryGetInt64(out var integer) ? integer : (long)Math.Round(value.GetDouble());
    }

    public static double Double(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : 0d;

    /// <summary>The document's <c>expiresAt</c> has passed (or is unreadable): treat it as gone, whatever the TTL sweep did.</summary>
    public static bool IsExpired(JsonElement root, DateTimeOffset now) =>
        !root.TryGetProperty("expiresAt", out var value) || value.ValueKind != JsonValueKind.String
        || !value.TryGetDateTimeOffset(out var expiresAt) || expiresAt <= now;
}

/// <summary>
/// Idempotency records: one document per (project, key) in the workspace's partition, id <c>idem:</c> + SHA-256 of
/// project and key (as in SQLite). The create is the lock: CreateItem succeeds for exactly one caller; a 409 reads the
/// holder, and a holder past its <c>expiresAt</c> (an abandoned hold, or a finished record past retention the TTL sweep
/// has not removed yet) is taken over with a replace conditioned on its etag, so of two racing takers only one wins and
/// the other re-reads the winner's record.
/// </summary>
internal sealed partial class CosmosIdempotencyStore(CosmosStoreContext db, TimeProvider time, ILogger<CosmosIdempotencyStore> logger) : IIdempotencyStore
{
    private const string Type = "idempotency";
    private const int MaxAttempts = 10;

    public async Task<IdempotencyRecord?> TryCreateAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        await db.EnsureReadyAsync(cancellationToken);
        var id = Id(record.ProjectId, record.Key);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using (var document = Document(workspaceId, id, record))
            {
                if (await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, workspaceId, cancellationToken))
                {
                    return null;
                }
            }

            var (existing, etag) = await ReadAsync(workspaceId, id, cancellationToken);
            if (existing is null)
            {
                // Deleted (abandoned) or swept between our create and our read: try the create again.
                continue;
            }

            if (existing.ExpiresAt > time.GetUtcNow())
            {
                return existing;
            }

            using (var document = Document(workspaceId, id, record))
            {
                if (await CosmosStoreContext.TryReplaceAsync(db.Workspaces, id, document, workspaceId, etag!, cancellationToken))
                {
                    return null;
                }
            }

            // Someone else replaced or deleted the expired record first: look again.
        }

        throw new CosmosConcurrencyException($"An idempotency record kept changing; gave up after {MaxAttempts} attempts.");
    }

    public async Task CompleteAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        await db.EnsureReadyAsync(cancellationToken);
        var id = Id(record.ProjectId, record.Key);
        using var document = Document(workspaceId, id, record);
        using var response = await db.Workspaces.UpsertItemStreamAsync(document, new PartitionKey(workspaceId), cancellationToken: cancellationToken);
        if (CosmosItems.IsTooLarge(response))
        {
            // An answer over Cosmos DB's 2 MB document limit cannot be kept for replays: free the key rather than leave
            // twins waiting on a hold that never completes. A retry under this key calls the provider again.
            LogOutcomeTooLarge(logger, record.ProjectId);
            await CosmosStoreContext.DeleteAsync(db.Workspaces, id, workspaceId, cancellationToken);
            return;
        }

        response.EnsureSuccessStatusCode();
    }

    public async Task DeleteAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        await CosmosStoreContext.DeleteAsync(db.Workspaces, Id(projectId, key), workspaceId, cancellationToken);
    }

    private static string Id(string projectId, string key) => "idem:" + CanonicalRequest.Sha256Hex(projectId + "\n" + key);

    private MemoryStream Document(string workspaceId, string id, IdempotencyRecord record) =>
        CosmosItems.Document(record, id, Type, workspaceId, CosmosItems.TtlSeconds(record.ExpiresAt, time.GetUtcNow()));

    private async Task<(IdempotencyRecord? Record, string? ETag)> ReadAsync(string workspaceId, string id, CancellationToken cancellationToken)
    {
        var (document, etag) = await CosmosItems.ReadAsync(db.Workspaces, id, workspaceId, cancellationToken);
        using (document)
        {
            return document is not null && CosmosItems.IsType(document.RootElement, Type)
                ? (document.RootElement.Deserialize<IdempotencyRecord>(CosmosStoreContext.Json), etag)
                : (null, null);
        }
    }

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "An idempotent answer for project {ProjectId} is over the 2 MB document limit; its key was freed instead of stored")]
    private static partial void LogOutcomeTooLarge(ILogger logger, string projectId);
}

/// <summary>
/// Exact-cache entries: one document per key in the workspace's partition (so no hit can cross workspaces), written
/// with an upsert and a <c>ttl</c>, read with a point read that also checks <c>expiresAt</c>.
/// </summary>
internal sealed partial class CosmosCacheStore(CosmosStoreContext db, TimeProvider time, ILogger<CosmosCacheStore> logger) : ICacheStore
{
    private const string Type = "cache";

    public async Task<CachedResponse?> GetAsync(string workspaceId, string key, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (document, _) = await CosmosItems.ReadAsync(db.Workspaces, Id(key), workspaceId, cancellationToken);
        using (document)
        {
            if (document is null || !CosmosItems.IsType(document.RootElement, Type) || CosmosItems.IsExpired(document.RootElement, now))
            {
                return null;
            }

            return document.RootElement.Deserialize<CachedResponse>(CosmosStoreContext.Json);
        }
    }

    public async Task SetAsync(string workspaceId, string key, CachedResponse response, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        await db.EnsureReadyAsync(cancellationToken);
        using var document = CosmosItems.Document(response, Id(key), Type, workspaceId, CosmosItems.TtlSeconds(expiresAt, time.GetUtcNow()), expiresAt);
        using var result = await db.Workspaces.UpsertItemStreamAsync(document, new PartitionKey(workspaceId), cancellationToken: cancellationToken);
        if (CosmosItems.IsTooLarge(result))
        {
            // Over the 2 MB document limit: not cached; the call itself is unaffected.
            LogEntryTooLarge(logger, workspaceId);
            return;
        }

        result.EnsureSuccessStatusCode();
    }

    private static string Id(string key) => CosmosIds.Key("cache", key);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "A response in workspace {WorkspaceId} is over the 2 MB document limit and was not cached")]
    private static partial void LogEntryTooLarge(ILogger logger, string workspaceId);
}
