using System.Text.Json;
using KillToken.Core.Analytics;
using Microsoft.Data.Sqlite;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// Rollup rows per workspace, UTC day and dimension value. The embedded store is one process, so increments are
/// summed in memory and written behind in one transaction (at most every <see cref="FlushInterval"/>, and before every
/// query), instead of a dozen statements per request on the single writer. A crash loses at most one interval of
/// report data, never a trace. (Cosmos DB uses patch increments per request instead.)
/// </summary>
internal sealed class SqliteUsageRollups : IUsageRollups, IAsyncDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(500);
    private readonly SqliteDatabase _db;
    private readonly Lock _pendingGate = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly Timer _timer;
    private Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta> _pending = [];

    public SqliteUsageRollups(SqliteDatabase db)
    {
        _db = db;
        _timer = new Timer(_ => _ = FlushQuietlyAsync(), null, FlushInterval, FlushInterval);
    }

    public Task AddAsync(string workspaceId, string day, IReadOnlyList<(string Dimension, string Key)> keys, UsageDelta delta, CancellationToken cancellationToken = default)
    {
        lock (_pendingGate)
        {
            foreach (var (dimension, key) in keys)
            {
                var slot = (workspaceId, day, dimension, key);
                _pending[slot] = _pending.TryGetValue(slot, out var sum) ? UsageDeltaMath.Sum([sum, delta]) : delta;
            }
        }

        return Task.CompletedTask;
    }

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await _flushGate.WaitAsync(cancellationToken);
        try
        {
            Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta> batch;
            lock (_pendingGate)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                batch = _pending;
                _pending = [];
            }

            await WriteAsync(batch, CancellationToken.None);
        }
        finally
        {
            _flushGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync();
        await FlushAsync();
        _flushGate.Dispose();
    }

    private async Task FlushQuietlyAsync()
    {
        try
        {
            await FlushAsync();
        }
        catch (Exception ex) when (ex is SqliteException or ObjectDisposedException or InvalidOperationException)
        {
            // The next flush retries what it can; reports may lag, requests never fail for it.
        }
    }

    private Task WriteAsync(Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta> batch, CancellationToken cancellationToken) =>
        _db.AppendAsync(async connection =>
        {
            // One append: the writer commits the whole batch atomically.
            foreach (var ((workspaceId, day, dimension, key), delta) in batch)
            {
                await using var read = connection.CreateCommand();
                read.CommandText = "SELECT body FROM rollups WHERE pk = $pk AND day = $day AND dim = $dim AND key = $key";
                Bind(read, workspaceId, day, dimension, key);
                var body = (string?)await read.ExecuteScalarAsync(cancellationToken);
                var current = body is null ? new UsageDelta() : JsonSerializer.Deserialize<UsageDelta>(body, Json)!;

                await using var write = connection.CreateCommand();
                write.CommandText = "INSERT INTO rollups (pk, day, dim, key, body) VALUES ($pk, $day, $dim, $key, $body) ON CONFLICT (pk, day, dim, key) DO UPDATE SET body = excluded.body";
                Bind(write, workspaceId, day, dimension, key);
                write.Parameters.AddWithValue("$body", JsonSerializer.Serialize(UsageDeltaMath.Sum([current, delta]), Json));
                await write.ExecuteNonQueryAsync(cancellationToken);
            }

            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken);
        return await _db.ReadAsync<IReadOnlyList<RollupRow>>(async connection =>
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
    }

    private static void Bind(SqliteCommand command, string workspaceId, string day, string dimension, string key)
    {
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$day", day);
        command.Parameters.AddWithValue("$dim", dimension);
        command.Parameters.AddWithValue("$key", key);
    }
}
