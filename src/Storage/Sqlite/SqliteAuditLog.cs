using System.Text.Json;
using KillToken.Core.Ports;
using KillToken.Storage.Audit;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// The audit log in the embedded store: its own append-only table, keyed by workspace and a key that sorts newest
/// first (inverted ticks, then the event id), so a page is one ordered range read from the cursor's key.
/// </summary>
internal sealed class SqliteAuditLog(SqliteDatabase db) : IAuditLog
{
    public Task AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        return db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO audit_events (pk, sort_key, body) VALUES ($pk, $key, $body) ON CONFLICT (pk, sort_key) DO NOTHING";
            command.Parameters.AddWithValue("$pk", auditEvent.WorkspaceId);
            command.Parameters.AddWithValue("$key", AuditOrder.SortKey(auditEvent));
            command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(auditEvent, Json));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }, cancellationToken);
    }

    public Task<AuditPage> ListAsync(string workspaceId, AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var after = AuditOrder.After(query.Cursor);
        var take = AuditOrder.Take(query);
        return db.ReadAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT sort_key, body FROM audit_events
                WHERE pk = $pk AND sort_key > $after
                  AND ($event IS NULL OR json_extract(body, '$.event') = $event)
                  AND ($actor IS NULL OR json_extract(body, '$.actorId') = $actor)
                ORDER BY sort_key LIMIT $take
                """;
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$after", after ?? string.Empty);
            command.Parameters.AddWithValue("$event", (object?)query.Event ?? DBNull.Value);
            command.Parameters.AddWithValue("$actor", (object?)query.ActorId ?? DBNull.Value);
            command.Parameters.AddWithValue("$take", take + 1);
            var events = new List<AuditEvent>();
            string? lastKey = null;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (events.Count == take)
                {
                    return new AuditPage(events, AuditOrder.Cursor(lastKey!));
                }

                lastKey = reader.GetString(0);
                events.Add(JsonSerializer.Deserialize<AuditEvent>(reader.GetString(1), Json)!);
            }

            return new AuditPage(events, null);
        });
    }
}
