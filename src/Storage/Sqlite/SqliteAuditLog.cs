using System.Text.Json;
using KillToken.Core.Ports;
using KillToken.Storage.Audit;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// The audit log in the embedded store: its own append-only table, keyed by workspace and a key that sorts newest
/// first (inverted ticks, then the event id), so a page is one ordered range read.
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

    public Task<IReadOnlyList<AuditEvent>> ListAsync(string workspaceId, int limit, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<AuditEvent>>(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT body FROM audit_events WHERE pk = $pk ORDER BY sort_key LIMIT $limit";
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$limit", Math.Clamp(limit, 1, 1000));
            var events = new List<AuditEvent>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                events.Add(JsonSerializer.Deserialize<AuditEvent>(reader.GetString(0), Json)!);
            }

            return events;
        });
}
