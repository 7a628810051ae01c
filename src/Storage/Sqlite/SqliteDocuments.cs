using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace KillToken.Storage.Sqlite;

/// <summary>Cosmos-shaped access to SQLite: documents by (partition, id), and a global lookup space.</summary>
internal static class SqliteDocuments
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A point read that only matches a document of the expected kind (an id of another kind reads as missing).</summary>
    public static async Task<T?> GetAsync<T>(SqliteConnection connection, string pk, string id, string kind, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM documents WHERE pk = $pk AND id = $id AND kind = $kind";
        command.Parameters.AddWithValue("$pk", pk);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$kind", kind);
        var body = (string?)await command.ExecuteScalarAsync(cancellationToken);
        return body is null ? default : JsonSerializer.Deserialize<T>(body, Json);
    }

    public static async Task<List<T>> ListAsync<T>(SqliteConnection connection, string pk, string kind, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM documents WHERE pk = $pk AND kind = $kind";
        command.Parameters.AddWithValue("$pk", pk);
        command.Parameters.AddWithValue("$kind", kind);
        var result = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(JsonSerializer.Deserialize<T>(reader.GetString(0), Json)!);
        }

        return result;
    }

    /// <summary>
    /// One page of the documents of <paramref name="kind"/> that are their partition's own document (id = partition
    /// key), across partitions, in partition order after <paramref name="afterPk"/>.
    /// </summary>
    public static async Task<List<T>> ListPageAcrossPartitionsAsync<T>(SqliteConnection connection, string kind, string afterPk, int limit, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM documents WHERE pk > $after AND id = pk AND kind = $kind ORDER BY pk LIMIT $limit";
        command.Parameters.AddWithValue("$after", afterPk);
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$limit", limit);
        var result = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(JsonSerializer.Deserialize<T>(reader.GetString(0), Json)!);
        }

        return result;
    }

    public static async Task UpsertAsync<T>(SqliteConnection connection, string pk, string id, string kind, T document, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO documents (pk, id, kind, body) VALUES ($pk, $id, $kind, $body)
            ON CONFLICT (pk, id) DO UPDATE SET body = excluded.body, etag = etag + 1
            """;
        command.Parameters.AddWithValue("$pk", pk);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(document, Json));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<bool> DeleteAsync(SqliteConnection connection, string pk, string id, string kind, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM documents WHERE pk = $pk AND id = $id AND kind = $kind";
        command.Parameters.AddWithValue("$pk", pk);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$kind", kind);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public static async Task<T?> GetLookupAsync<T>(SqliteConnection connection, string id, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM lookups WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        var body = (string?)await command.ExecuteScalarAsync(cancellationToken);
        return body is null ? default : JsonSerializer.Deserialize<T>(body, Json);
    }

    /// <summary>Inserts a lookup; false when the id is taken (the unique-key check).</summary>
    public static async Task<bool> TryInsertLookupAsync<T>(SqliteConnection connection, string id, T value, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO lookups (id, body) VALUES ($id, $body) ON CONFLICT (id) DO NOTHING";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(value, Json));
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public static async Task UpsertLookupAsync<T>(SqliteConnection connection, string id, T value, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO lookups (id, body) VALUES ($id, $body) ON CONFLICT (id) DO UPDATE SET body = excluded.body";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(value, Json));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task DeleteLookupAsync(SqliteConnection connection, string id, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM lookups WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>Where a project lives, found by its id or its key hash without knowing the workspace.</summary>
internal sealed record ProjectPointer(string WorkspaceId, string ProjectId);

/// <summary>A user's workspaces, kept beside the user so listing them needs no cross-partition query.</summary>
internal sealed record UserMemberships(List<UserMembershipEntry> Items);

internal sealed record UserMembershipEntry(string WorkspaceId, string Role, DateTimeOffset JoinedAt);
