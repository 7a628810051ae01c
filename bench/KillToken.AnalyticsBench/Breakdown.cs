using System.Collections.Concurrent;
using System.Diagnostics;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Ports;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.AnalyticsBench;

/// <summary>One step of a report, timed in process (no HTTP): p50 and p95 over the iterations.</summary>
internal sealed record Step(string Name, double P50Ms, double P95Ms, long Rows);

/// <summary>
/// Where a long-range report's time goes, measured in process on the same store: the SQL alone (the bench's own
/// read-only connection, strings read and nothing parsed), the store's read (<see cref="IUsageRollups.QueryAsync"/>: its
/// catch-up check, the SQL and one UsageDelta JSON document per row), the cell keys parsed (RollupCell.Parse, a JSON
/// array per row), and whole reports of <see cref="AnalyticsService"/> (the read plus the sums).
/// </summary>
internal static class Breakdown
{
    public static async Task<List<Step>> MeasureAsync(IServiceProvider services, string dbPath, string workspaceId, string from, string to, int iterations,
        CancellationToken cancellationToken)
    {
        var rollups = services.GetRequiredService<IUsageRollups>();
        var analytics = services.GetRequiredService<AnalyticsService>();
        var query = new AnalyticsQuery(from, to);
        var steps = new List<Step>();
        var connectionString = new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString();

        steps.Add(await TimeAsync("SQL only: rows of the range, every dimension (own connection, keys and three columns read)", iterations, () => Task.FromResult(RawRows(connectionString, workspaceId, from, to, null))));
        steps.Add(await TimeAsync("SQL only: rows of the range, dim = 'cell'", iterations, () => Task.FromResult(RawRows(connectionString, workspaceId, from, to, RollupDimensions.Cell))));
        steps.Add(await TimeAsync("IUsageRollups.QueryAsync, one day (the fixed cost: catch-up check + a tiny read)", iterations, async () =>
            (long)(await rollups.QueryAsync(workspaceId, to, to, RollupDimensions.Cell, cancellationToken)).Count));
        IReadOnlyList<RollupRow> rows = [];
        steps.Add(await TimeAsync("IUsageRollups.QueryAsync, the range (catch-up check + SQL + a UsageDelta per row)", iterations, async () =>
        {
            rows = await rollups.QueryAsync(workspaceId, from, to, RollupDimensions.Cell, cancellationToken);
            return rows.Count;
        }));
        steps.Add(await TimeAsync("RollupCell.Parse of every row's key (JSON array)", iterations, () =>
        {
            long n = 0;
            foreach (var row in rows)
            {
                n += RollupCell.Parse(row.Key).Feature.Length > 0 ? 1 : 0;
            }

            return Task.FromResult(n);
        }));
        steps.Add(await TimeAsync("UsageDeltaMath.Sum over every row (one new record per addition)", iterations, () =>
            Task.FromResult(UsageDeltaMath.Sum(rows.Select(r => r.Totals)).Requests)));
        steps.Add(await TimeAsync("AnalyticsService.ProvidersAsync (read + parse + sums)", iterations, async () =>
            (long)(await analytics.ProvidersAsync(workspaceId, query, cancellationToken)).Providers.Count));
        steps.Add(await TimeAsync("AnalyticsService.TrendsAsync", iterations, async () =>
            (long)(await analytics.TrendsAsync(workspaceId, query, cancellationToken)).Days.Count));
        steps.Add(await TimeAsync("AnalyticsService.OverviewAsync", iterations, async () =>
            (await analytics.OverviewAsync(workspaceId, query, cancellationToken)).Range.Requests));
        steps.Add(await TimeAsync("AnalyticsService.ExportAsync (analytics.json's report)", iterations, async () =>
            (long)(await analytics.ExportAsync(workspaceId, query, cancellationToken)).Days.Count));

        // What-if (not the gateway's code): the same service over a store whose ended days' rows are kept in memory once
        // read, so a report reads only today's rows from SQLite. It shows how much of the time is the per-row read.
        var cached = new AnalyticsService(new EndedDaysCache(rollups, services.GetRequiredService<TimeProvider>()),
            services.GetRequiredService<IProjectStore>(), services.GetRequiredService<IBudgetLedger>(), services.GetRequiredService<TimeProvider>());
        steps.Add(await TimeAsync("what-if, ended days' rows kept in memory: ProvidersAsync", iterations, async () =>
            (long)(await cached.ProvidersAsync(workspaceId, query, cancellationToken)).Providers.Count));
        steps.Add(await TimeAsync("what-if, ended days' rows kept in memory: TrendsAsync", iterations, async () =>
            (long)(await cached.TrendsAsync(workspaceId, query, cancellationToken)).Days.Count));
        steps.Add(await TimeAsync("what-if, ended days' rows kept in memory: ExportAsync", iterations, async () =>
            (long)(await cached.ExportAsync(workspaceId, query, cancellationToken)).Days.Count));
        return steps;
    }

    private static long RawRows(string connectionString, string workspaceId, string from, string to, string? dimension)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT day, dim, key, requests, cost, latency_ms FROM rollup_totals WHERE pk = $pk AND day >= $from AND day <= $to" + (dimension is null ? "" : " AND dim = $dim");
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$from", from);
        command.Parameters.AddWithValue("$to", to);
        if (dimension is not null)
        {
            command.Parameters.AddWithValue("$dim", dimension);
        }

        long n = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            n += reader.GetInt64(3) >= 0 ? 1 : 0;
            _ = reader.GetString(2);
            _ = reader.GetInt64(4) + reader.GetDouble(5);
        }

        return n;
    }

    private static async Task<Step> TimeAsync(string name, int iterations, Func<Task<long>> step)
    {
        long rows = 0;
        for (var i = 0; i < 5; i++)
        {
            rows = await step();
        }

        var times = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            rows = await step();
            times[i] = Stats.Ms(start, Stopwatch.GetTimestamp());
        }

        Array.Sort(times);
        return new Step(name, Stats.Percentile(times, 0.5), Stats.Percentile(times, 0.95), rows);
    }
}

/// <summary>
/// A what-if for the report: the rows of ended UTC days (which, in live traffic, no longer change) kept in memory after
/// their first read, today's always read from the store. A bench prototype only: a real one would be told by the
/// catch-up which (workspace, day) it wrote, and would keep parsed cells rather than row keys.
/// </summary>
internal sealed class EndedDaysCache(IUsageRollups inner, TimeProvider time) : IUsageRollups
{
    private readonly ConcurrentDictionary<(string Workspace, string From, string To, string? Dimension), IReadOnlyList<RollupRow>> _ended = new();

    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default)
    {
        var today = BudgetPeriods.At(time.GetUtcNow()).Day;
        if (string.CompareOrdinal(fromDay, today) >= 0)
        {
            return await inner.QueryAsync(workspaceId, fromDay, toDay, dimension, cancellationToken);
        }

        var lastEnded = string.CompareOrdinal(toDay, today) < 0 ? toDay : BudgetPeriods.At(time.GetUtcNow().AddDays(-1)).Day;
        if (!_ended.TryGetValue((workspaceId, fromDay, lastEnded, dimension), out var ended))
        {
            ended = await inner.QueryAsync(workspaceId, fromDay, lastEnded, dimension, cancellationToken);
            _ended[(workspaceId, fromDay, lastEnded, dimension)] = ended;
        }

        if (string.CompareOrdinal(toDay, today) < 0)
        {
            return ended;
        }

        var current = await inner.QueryAsync(workspaceId, today, toDay, dimension, cancellationToken);
        return [.. ended, .. current];
    }
}

/// <summary>
/// The export's trace scan with a rare filter, in SQL alone on the bench's own connection: the statement as the store
/// builds it (the serving provider read from each row's JSON body with json_extract); the same with that test on a plain
/// column instead (in this workload the requested and the serving provider are the same, so the rows match); and the
/// store's statement again with an index on (workspace_id, feature, created_at DESC, id DESC), created in the throw-away
/// file for the measurement and dropped after it.
/// </summary>
internal static class ExportScan
{
    public static List<Step> Measure(string dbPath, string workspaceId, DateTimeOffset from, DateTimeOffset to, string feature, string provider)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly }.ToString();
        const string Head = "SELECT body, created_at, id FROM traces WHERE workspace_id = $ws AND feature = $feature AND ";
        const string Tail = " AND created_at >= $from AND created_at <= $to ORDER BY created_at DESC, id DESC LIMIT 10000";
        List<Step> steps =
        [
            Time($"as the store asks: COALESCE(json_extract(body, '$.finalProvider'), provider) = '{provider}', feature = '{feature}', up to 10,000 rows",
                connectionString, Head + "COALESCE(json_extract(body, '$.finalProvider'), provider) = $provider" + Tail, workspaceId, from, to, feature, provider),
            Time($"what-if, the provider test on a column: provider = '{provider}', feature = '{feature}', up to 10,000 rows",
                connectionString, Head + "provider = $provider" + Tail, workspaceId, from, to, feature, provider),
        ];

        var writable = new SqliteConnectionStringBuilder { DataSource = dbPath, Pooling = false, DefaultTimeout = 60 }.ToString();
        Execute(writable, "CREATE INDEX bench_whatif_feature ON traces (workspace_id, feature, created_at DESC, id DESC)");
        try
        {
            // Without statistics (no ANALYZE) SQLite keeps choosing traces_recent, so the what-if names the index.
            steps.Add(Time($"what-if, as the store asks, with an index on (workspace_id, feature, created_at DESC, id DESC) used (INDEXED BY)",
                connectionString, Head.Replace("FROM traces", "FROM traces INDEXED BY bench_whatif_feature", StringComparison.Ordinal)
                    + "COALESCE(json_extract(body, '$.finalProvider'), provider) = $provider" + Tail, workspaceId, from, to, feature, provider));
        }
        finally
        {
            Execute(writable, "DROP INDEX bench_whatif_feature");
        }

        return steps;
    }

    private static void Bind(SqliteCommand command, string workspaceId, DateTimeOffset from, DateTimeOffset to, string feature, string provider)
    {
        command.Parameters.AddWithValue("$ws", workspaceId);
        command.Parameters.AddWithValue("$feature", feature);
        command.Parameters.AddWithValue("$provider", provider);
        command.Parameters.AddWithValue("$from", from.UtcTicks);
        command.Parameters.AddWithValue("$to", to.UtcTicks);
    }

    private static void Execute(string connectionString, string sql)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 600;
        command.ExecuteNonQuery();
    }

    private static Step Time(string name, string connectionString, string sql, string workspaceId, DateTimeOffset from, DateTimeOffset to, string feature, string provider)
    {
        var times = new double[3];
        long rows = 0;
        using (var connection = new SqliteConnection(connectionString))
        {
            connection.Open();
            using var explain = connection.CreateCommand();
            explain.CommandText = "EXPLAIN QUERY PLAN " + sql;
            Bind(explain, workspaceId, from, to, feature, provider);
            using var plan = explain.ExecuteReader();
            var details = new List<string>();
            while (plan.Read())
            {
                details.Add(plan.GetString(3));
            }

            name += " — plan: " + string.Join("; ", details);
        }

        for (var i = 0; i < times.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            Bind(command, workspaceId, from, to, feature, provider);
            rows = 0;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows += reader.GetString(0).Length > 0 ? 1 : 0;
            }

            times[i] = Stats.Ms(start, Stopwatch.GetTimestamp());
        }

        Array.Sort(times);
        return new Step(name, times[1], times[^1], rows);
    }
}
