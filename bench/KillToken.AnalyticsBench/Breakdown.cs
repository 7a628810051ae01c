using System.Diagnostics;
using KillToken.Core.Analytics;
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

        steps.Add(await TimeAsync("SQL only: rows of the range, every dimension (own connection, strings read, nothing parsed)", iterations, () => Task.FromResult(RawRows(connectionString, workspaceId, from, to, null))));
        steps.Add(await TimeAsync("SQL only: rows of the range, dim = 'cell'", iterations, () => Task.FromResult(RawRows(connectionString, workspaceId, from, to, RollupDimensions.Cell))));
        steps.Add(await TimeAsync("IUsageRollups.QueryAsync, one day (the fixed cost: catch-up check + a tiny read)", iterations, async () =>
            (long)(await rollups.QueryAsync(workspaceId, to, to, RollupDimensions.Cell, cancellationToken)).Count));
        IReadOnlyList<RollupRow> rows = [];
        steps.Add(await TimeAsync("IUsageRollups.QueryAsync, the range (catch-up check + SQL + UsageDelta JSON per row)", iterations, async () =>
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
        return steps;
    }

    private static long RawRows(string connectionString, string workspaceId, string from, string to, string? dimension)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT day, dim, key, body FROM rollups WHERE pk = $pk AND day >= $from AND day <= $to" + (dimension is null ? "" : " AND dim = $dim");
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
            n += reader.GetString(3).Length > 0 ? 1 : 0;
            _ = reader.GetString(2);
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
