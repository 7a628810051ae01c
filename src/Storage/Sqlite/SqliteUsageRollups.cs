using System.Text.Json;
using KillToken.Core.Analytics;
using Microsoft.Data.Sqlite;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// Rollup rows per workspace, UTC day and dimension value. Increments are read-modify-write inside the store's single
/// write gate, which makes them atomic here (Cosmos DB uses patch increments instead).
/// </summary>
internal sealed class SqliteUsageRollups(SqliteDatabase db) : IUsageRollups
{
    public Task AddAsync(string workspaceId, string day, IReadOnlyList<(string Dimension, string Key)> keys, UsageDelta delta, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            foreach (var (dimension, key) in keys)
            {
                await using var read = connection.CreateCommand();
                read.Transaction = transaction;
                read.CommandText = "SELECT body FROM rollups WHERE pk = $pk AND day = $day AND dim = $dim AND key = $key";
                Bind(read, workspaceId, day, dimension, key);
                var body = (string?)await read.ExecuteScalarAsync(cancellationToken);
                var current = body is null ? new UsageDelta() : JsonSerializer.Deserialize<UsageDelta>(body, Json)!;

                await using var write = connection.CreateCommand();
                write.Transaction = transaction;
                write.CommandText = "INSERT INTO rollups (pk, day, dim, key, body) VALUES ($pk, $day, $dim, $key, $body) ON CONFLICT (pk, day, dim, key) DO UPDATE SET body = excluded.body";
                Bind(write, workspaceId, day, dimension, key);
                write.Parameters.AddWithValue("$body", JsonSerializer.Serialize(UsageDeltaMath.Sum([current, delta]), Json));
                await write.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<RollupRow>>(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT day, dim, key, body FROM rollups WHERE pk = $pk AND day >= $from AND day <= $to" + (dimension is null ? string.Empty : " AND dim = $dim");
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$from", fromDay);
            command.Parameters.AddWithValue("$to", toDay);
            if (dimension is not null)
            {
                command.Parameters.AddWithValue("$dim", dimension);
            }

            var rows = new List<RollupRow>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(new RollupRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), JsonSerializer.Deserialize<UsageDelta>(reader.GetString(3), Json)!));
            }

            return rows;
        });

    private static void Bind(SqliteCommand command, string workspaceId, string day, string dimension, string key)
    {
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$day", day);
        command.Parameters.AddWithValue("$dim", dimension);
        command.Parameters.AddWithValue("$key", key);
    }
}
