using System.Globalization;
using System.Text.Json;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using Microsoft.Data.Sqlite;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// Rollup rows per workspace, UTC day and dimension value, kept from the traces themselves: every trace is committed
/// with the next sequence number (<see cref="SqliteTraceStore"/>), and the rollups hold every trace up to a mark. A
/// catch-up reads the traces after the mark (on a reader, off the writer), sums them, and writes the sums and the new
/// mark in one append — so a trace counts exactly once, and a crash loses nothing: whatever the last catch-up had not
/// reached is read again from the traces when the store next opens. Catch-ups run in the background
/// (<see cref="CatchUpInterval"/>) and before every query, so reports are never behind the traces.
/// (Cosmos DB uses patch increments per request instead.) Rows are plain columns (<see cref="RollupColumns"/>), so a
/// year of a workspace's rows reads without parsing, and days already read are served from memory
/// (<see cref="RollupDayCache"/>, invalidated by the catch-ups that write them).
/// <para>
/// The rows' shape is versioned (<see cref="Shape"/>): a file whose rows have an older shape (before the per-slice
/// <see cref="RollupDimensions.Cell"/> rows) has them rebuilt from its traces by the first catch-up after it opens:
/// every trace the counting mark covers (and those of files older than sequence numbers) is summed again, and the new
/// rows replace the old table in the append that records the shape. Holding the catch-up gate, nothing else moves the
/// mark meanwhile, and a trace committed during the read has a sequence number above it, for the next catch-up.
/// </para>
/// </summary>
internal sealed class SqliteUsageRollups : IUsageRollups, IAsyncDisposable
{
    public static readonly TimeSpan CatchUpInterval = TimeSpan.FromMilliseconds(500);
    private const string MarkName = "rollups";
    private const string ShapeMarkName = "rollups_shape";
    /// <summary>
    /// 2: cell and template rows in the columns of table <c>rollup_totals</c> (1: total, feature, template, provider,
    /// model and project rows as JSON in table <c>rollups</c>, dropped by the rebuild).
    /// </summary>
    private const long Shape = 2;
    private const int TracesPerCatchUp = 2_000;
    private readonly SqliteDatabase _db;
    private readonly SemaphoreSlim _catchUpGate = new(1, 1);
    private readonly Timer _timer;
    private readonly RollupDayCache _cache = new();
    private bool _shapeChecked;

    public SqliteUsageRollups(SqliteDatabase db)
    {
        _db = db;
        // The first tick also counts what a crash left uncounted, soon after the store opens.
        _timer = new Timer(_ => _ = CatchUpQuietlyAsync(), null, TimeSpan.Zero, CatchUpInterval);
    }

    /// <summary>Adds every trace committed after the mark to the rollups.</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken = default)
    {
        await _catchUpGate.WaitAsync(cancellationToken);
        try
        {
            if (!_shapeChecked)
            {
                await RebuildOlderShapeAsync(cancellationToken);
                _shapeChecked = true;
            }

            while (await CatchUpOnceAsync(cancellationToken) == TracesPerCatchUp)
            {
            }
        }
        finally
        {
            _catchUpGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync();
        await CatchUpQuietlyAsync();
        _catchUpGate.Dispose();
    }

    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default)
    {
        await CatchUpAsync(cancellationToken);
        if (!TryDays(fromDay, toDay, out var days))
        {
            return await ReadRowsAsync(workspaceId, fromDay, toDay, dimension, cancellationToken);
        }

        // Days already read come from memory; the rest (usually only today) from one read of the file.
        var known = new Dictionary<string, RollupRow[]>(StringComparer.Ordinal);
        foreach (var day in days)
        {
            if (_cache.TryGet(workspaceId, day, out var cached))
            {
                known[day] = cached;
            }
        }

        var missing = days.Where(d => !known.ContainsKey(d)).ToList();
        if (missing.Count > 0)
        {
            var generation = _cache.Generation;
            var read = (await ReadRowsAsync(workspaceId, missing[0], missing[^1], null, cancellationToken)).ToLookup(r => r.Day, StringComparer.Ordinal);
            foreach (var day in missing)
            {
                known[day] = [.. read[day]];
                _cache.Put(generation, workspaceId, day, known[day]);
            }
        }

        return [.. days.SelectMany(d => known[d]).Where(r => dimension is null || r.Dimension == dimension)];
    }

    /// <summary>Every UTC day from one to the other, when both are days (<c>yyyy-MM-dd</c>) in order.</summary>
    private static bool TryDays(string fromDay, string toDay, out List<string> days)
    {
        days = [];
        const string Format = "yyyy-MM-dd";
        if (!DateOnly.TryParseExact(fromDay, Format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var from)
            || !DateOnly.TryParseExact(toDay, Format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var to)
            || to < from || to.DayNumber - from.DayNumber > 3_660)
        {
            return false;
        }

        for (var day = from; day <= to; day = day.AddDays(1))
        {
            days.Add(day.ToString(Format, CultureInfo.InvariantCulture));
        }

        return true;
    }

    private Task<IReadOnlyList<RollupRow>> ReadRowsAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken) =>
        _db.ReadAsync<IReadOnlyList<RollupRow>>(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT day, dim, key, {RollupColumns.Select} FROM rollup_totals WHERE pk = $pk AND day >= $from AND day <= $to"
                + (dimension is null ? string.Empty : " AND dim = $dim");
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
                rows.Add(new RollupRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), RollupColumns.Read(reader, 3)));
            }

            return rows;
        });

    private async Task CatchUpQuietlyAsync()
    {
        try
        {
            await CatchUpAsync();
        }
        catch (Exception ex) when (ex is SqliteException or KillToken.Core.Ports.StoreUnavailableException or ObjectDisposedException or InvalidOperationException or JsonException)
        {
            // The next catch-up (or the next query) starts again from the mark; reports may lag, calls never fail for it.
        }
    }

    /// <summary>One batch: read and sum on a reader (a consistent snapshot), then write the sums and the mark together.</summary>
    /// <returns>How many traces the batch counted.</returns>
    private async Task<int> CatchUpOnceAsync(CancellationToken cancellationToken)
    {
        var (mark, last, sums) = await _db.ReadAsync(async connection =>
        {
            var from = await ReadMarkAsync(connection, cancellationToken);
            var to = from;
            var batch = new Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta>();
            var count = 0;
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT seq, body FROM traces WHERE seq > $mark ORDER BY seq LIMIT $limit";
            command.Parameters.AddWithValue("$mark", from);
            command.Parameters.AddWithValue("$limit", TracesPerCatchUp);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                to = reader.GetInt64(0);
                count++;
                Add(batch, JsonSerializer.Deserialize<RequestTrace>(reader.GetString(1), Json)!);
            }

            return (from, to, (Count: count, Rows: batch));
        });

        if (sums.Count == 0)
        {
            return 0;
        }

        await _db.AppendAsync(async connection =>
        {
            // Only this class moves the mark, one catch-up at a time: it is still where the batch was read from.
            if (await ReadMarkAsync(connection, cancellationToken) != mark)
            {
                throw new InvalidOperationException("The rollup mark moved during a catch-up.");
            }

            foreach (var ((workspaceId, day, dimension, key), delta) in sums.Rows)
            {
                await AddRowAsync(connection, workspaceId, day, dimension, key, delta, cancellationToken);
            }

            await WriteMarkAsync(connection, MarkName, last, cancellationToken);
            return true;
        }, CancellationToken.None);
        _cache.Invalidate(sums.Rows.Keys.Select(k => (k.Workspace, k.Day)).Distinct());
        return sums.Count;
    }

    /// <summary>
    /// Rebuilds the rows of a file written before the current <see cref="Shape"/>: everything the mark says was counted
    /// (and the traces of files older than the mark, which have no sequence number) is summed again into rows of today's
    /// shape, which replace the old rows in the append that records the shape. A new file just records it.
    /// </summary>
    private async Task RebuildOlderShapeAsync(CancellationToken cancellationToken)
    {
        var (shape, mark, rows) = await _db.ReadAsync(async connection =>
        {
            var current = await ReadMarkAsync(connection, ShapeMarkName, cancellationToken);
            var counted = await ReadMarkAsync(connection, MarkName, cancellationToken);
            var sums = new Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta>();
            if (current >= Shape)
            {
                return (current, counted, sums);
            }

            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT body FROM traces WHERE seq IS NULL OR seq <= $mark";
            command.Parameters.AddWithValue("$mark", counted);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                Add(sums, JsonSerializer.Deserialize<RequestTrace>(reader.GetString(0), Json)!);
            }

            return (current, counted, sums);
        });

        if (shape >= Shape)
        {
            return;
        }

        await _db.AppendAsync(async connection =>
        {
            if (await ReadMarkAsync(connection, MarkName, cancellationToken) != mark)
            {
                throw new InvalidOperationException("The rollup mark moved during a rebuild.");
            }

            await using (var clear = connection.CreateCommand())
            {
                clear.CommandText = "DELETE FROM rollup_totals; DROP TABLE IF EXISTS rollups;";
                await clear.ExecuteNonQueryAsync(cancellationToken);
            }

            foreach (var ((workspaceId, day, dimension, key), delta) in rows)
            {
                await AddRowAsync(connection, workspaceId, day, dimension, key, delta, cancellationToken);
            }

            await WriteMarkAsync(connection, ShapeMarkName, Shape, cancellationToken);
            return true;
        }, CancellationToken.None);
        _cache.Clear();
    }

    /// <summary>Adds one trace to the rows it counts in.</summary>
    private static void Add(Dictionary<(string Workspace, string Day, string Dimension, string Key), UsageDelta> sums, RequestTrace trace)
    {
        var delta = UsageDelta.From(trace);
        var day = BudgetPeriods.At(trace.CreatedAt).Day;
        foreach (var (dimension, key) in RollupDimensions.Of(trace))
        {
            var slot = (trace.WorkspaceId, day, dimension, key);
            sums[slot] = sums.TryGetValue(slot, out var sum) ? UsageDeltaMath.Sum([sum, delta]) : delta;
        }
    }

    private static Task<long> ReadMarkAsync(SqliteConnection connection, CancellationToken cancellationToken) =>
        ReadMarkAsync(connection, MarkName, cancellationToken);

    private static async Task<long> ReadMarkAsync(SqliteConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM marks WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return await command.ExecuteScalarAsync(cancellationToken) is long value ? value : 0;
    }

    private static async Task WriteMarkAsync(SqliteConnection connection, string name, long value, CancellationToken cancellationToken)
    {
        await using var move = connection.CreateCommand();
        move.CommandText = "INSERT INTO marks (name, value) VALUES ($name, $value) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        move.Parameters.AddWithValue("$name", name);
        move.Parameters.AddWithValue("$value", value);
        await move.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Adds a delta to its row in one statement: counts and money summed, the newest call's time kept.</summary>
    private static async Task AddRowAsync(SqliteConnection connection, string workspaceId, string day, string dimension, string key, UsageDelta delta,
        CancellationToken cancellationToken)
    {
        await using var write = connection.CreateCommand();
        write.CommandText = RollupColumns.Upsert;
        write.Parameters.AddWithValue("$pk", workspaceId);
        write.Parameters.AddWithValue("$day", day);
        write.Parameters.AddWithValue("$dim", dimension);
        write.Parameters.AddWithValue("$key", key);
        RollupColumns.Bind(write, delta);
        await write.ExecuteNonQueryAsync(cancellationToken);
    }
}
