using System.Text.Json;
using KillToken.Core.Caching;
using KillToken.Core.Gateway;
using KillToken.Core.Idempotency;
using Microsoft.Data.Sqlite;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>Idempotency records as expiring documents in the workspace's partition (a TTL'd item on Cosmos DB).</summary>
internal sealed class SqliteIdempotencyStore(SqliteDatabase db, TimeProvider time) : IIdempotencyStore
{
    private const string Kind = "idempotency";

    public Task<IdempotencyRecord?> TryCreateAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            var id = Id(record.ProjectId, record.Key);
            var existing = await GetLiveAsync(connection, workspaceId, id, cancellationToken);
            if (existing is not null)
            {
                return existing;
            }

            await PutAsync(connection, workspaceId, id, record, cancellationToken);
            return null;
        }, cancellationToken);

    public Task CompleteAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await PutAsync(connection, workspaceId, Id(record.ProjectId, record.Key), record, cancellationToken);
            return true;
        }, cancellationToken);

    public Task DeleteAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default) =>
        db.AppendAsync(connection => SqliteDocuments.DeleteAsync(connection, workspaceId, Id(projectId, key), Kind, cancellationToken), cancellationToken);

    private static string Id(string projectId, string key) => "idem:" + CanonicalRequest.Sha256Hex(projectId + "\n" + key);

    private async Task<IdempotencyRecord?> GetLiveAsync(SqliteConnection connection, string workspaceId, string id, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM documents WHERE pk = $pk AND id = $id AND (expires_at IS NULL OR expires_at > $now)";
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$now", time.GetUtcNow().ToUnixTimeMilliseconds());
        var body = (string?)await command.ExecuteScalarAsync(cancellationToken);
        return body is null ? null : JsonSerializer.Deserialize<IdempotencyRecord>(body, Json);
    }

    private static async Task PutAsync(SqliteConnection connection, string workspaceId, string id, IdempotencyRecord record, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO documents (pk, id, kind, body, expires_at) VALUES ($pk, $id, $kind, $body, $expires)
            ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at, etag = etag + 1
            """;
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$kind", Kind);
        command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(record, Json));
        command.Parameters.AddWithValue("$expires", record.ExpiresAt.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Exact-cache entries as expiring documents in the workspace's partition: no cross-workspace hit is possible.</summary>
internal sealed class SqliteCacheStore(SqliteDatabase db) : ICacheStore
{
    private const string Kind = "cache";

    public Task<CachedResponse?> GetAsync(string workspaceId, string key, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT body FROM documents WHERE pk = $pk AND id = $id AND expires_at > $now";
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$id", "cache:" + key);
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            var body = (string?)await command.ExecuteScalarAsync(cancellationToken);
            return body is null ? null : JsonSerializer.Deserialize<CachedResponse>(body, Json);
        });

    public Task SetAsync(string workspaceId, string key, CachedResponse response, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO documents (pk, id, kind, body, expires_at) VALUES ($pk, $id, $kind, $body, $expires)
                ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at, etag = etag + 1
                """;
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$id", "cache:" + key);
            command.Parameters.AddWithValue("$kind", Kind);
            command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(response, Json));
            command.Parameters.AddWithValue("$expires", expiresAt.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);
}
