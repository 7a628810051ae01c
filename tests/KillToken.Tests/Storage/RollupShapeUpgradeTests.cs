using System.Text;
using KillToken.Core.Analytics;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Azure.Cosmos;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// A store written by a build before the per-cell rollups (rows per total, feature, provider, model and project) is
/// upgraded in place: its reports are rebuilt from its traces, each call counted once — on SQLite when the file opens,
/// on Cosmos DB the first time a workspace is read.
/// </summary>
internal static class OlderShape
{
    public static readonly DateTimeOffset Day1 = new(2025, 3, 13, 10, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Day2 = new(2025, 3, 14, 18, 30, 0, TimeSpan.Zero);

    public static RequestTrace[] Traces(string workspaceId) =>
    [
        Trace(workspaceId, Day1, "alpha", 0.25m),
        Trace(workspaceId, Day1.AddMinutes(7), "alpha", 0.5m) with { Status = 502, ErrorCode = "provider_error" },
        Trace(workspaceId, Day2, "beta", 1m) with { FinalProvider = "anthropic", FinalModel = "claude-3-5-haiku", WasFallback = true },
        Trace(workspaceId, Day2.AddMinutes(1), "beta", 0m) with { Status = 429, ErrorCode = "budget_exceeded", InputTokens = 0, OutputTokens = 0 },
    ];

    /// <summary>What the rebuilt cells must hold: the traces' own sums, per day and cell.</summary>
    public static Dictionary<(string Day, RollupCell Cell), UsageDelta> Expected(IEnumerable<RequestTrace> traces) => traces
        .GroupBy(t => (Core.Budgets.BudgetPeriods.At(t.CreatedAt).Day, RollupCell.Of(t)))
        .ToDictionary(g => g.Key, g => UsageDeltaMath.Sum(g.Select(UsageDelta.From)));

    public static void AssertCells(Dictionary<(string Day, RollupCell Cell), UsageDelta> expected, IReadOnlyList<RollupRow> rows)
    {
        Assert.IsFalse(rows.Any(r => r.Dimension is not (RollupDimensions.Cell or RollupDimensions.Template)), "no row of the older shape is read: " + string.Join(", ", rows.Select(r => r.Dimension)));
        var cells = rows.Where(r => r.Dimension == RollupDimensions.Cell).ToDictionary(r => (r.Day, RollupCell.Parse(r.Key)), r => r.Totals);
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), cells.Keys.ToList());
        foreach (var (slot, sum) in expected)
        {
            Assert.AreEqual(sum, cells[slot], slot.ToString());
        }
    }

    private static RequestTrace Trace(string workspaceId, DateTimeOffset at, string feature, decimal cost) => new()
    {
        Id = Ids.New("req"),
        WorkspaceId = workspaceId,
        ProjectId = "prj_upgrade",
        CreatedAt = at,
        Endpoint = "chat",
        Provider = "openai",
        FinalProvider = "openai",
        Model = "gpt-4o-mini",
        FinalModel = "gpt-4o-mini",
        OptimizationMode = "measure_only",
        Feature = feature,
        Status = 200,
        InputTokens = 100,
        OutputTokens = 50,
        TotalTokens = 150,
        CostUsd = cost,
        CostStatus = "priced",
        CacheStatus = "miss",
        Idempotency = "none",
        LatencyMs = 4,
    };
}

[TestClass]
public sealed class SqliteRollupShapeUpgradeTests
{
    [TestMethod]
    public async Task AFileWithOlderRollups_IsRebuiltFromItsTraces_WhenItOpens_AndKeepsCountingOnce()
    {
        var directory = Path.Combine(Path.GetTempPath(), "killtoken-tests", "shape-" + Guid.NewGuid().ToString("N"));
        var ws = Ids.New("ws");
        var traces = OlderShape.Traces(ws);
        try
        {
            await using (var before = Open(directory))
            {
                foreach (var trace in traces)
                {
                    await before.GetRequiredService<ITraceStore>().AppendAsync(trace);
                }

                await before.GetRequiredService<IUsageRollups>().QueryAsync(ws, "2025-03-01", "2025-03-31", null);
            }

            // Make the file look as an older build left it: its rows of the older shape, no shape mark, and one trace
            // from before traces were numbered.
            await using (var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "killtoken.db")};Pooling=False"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    DELETE FROM rollup_totals;
                    CREATE TABLE rollups (pk TEXT NOT NULL, day TEXT NOT NULL, dim TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                        PRIMARY KEY (pk, day, dim, key)) WITHOUT ROWID;
                    INSERT INTO rollups (pk, day, dim, key, body) VALUES ($ws, '2025-03-13', 'total', 'all', '{"requests":2}');
                    INSERT INTO rollups (pk, day, dim, key, body) VALUES ($ws, '2025-03-14', 'provider', 'openai', '{"requests":1}');
                    DELETE FROM marks WHERE name = 'rollups_shape';
                    UPDATE traces SET seq = NULL WHERE id = $first;
                    """;
                command.Parameters.AddWithValue("$ws", ws);
                command.Parameters.AddWithValue("$first", traces[0].Id);
                await command.ExecuteNonQueryAsync();
            }

            await using var after = Open(directory);
            var rollups = after.GetRequiredService<IUsageRollups>();
            OlderShape.AssertCells(OlderShape.Expected(traces), await rollups.QueryAsync(ws, "2025-03-01", "2025-03-31", null));

            var next = traces[2] with { Id = Ids.New("req"), CreatedAt = OlderShape.Day2.AddHours(1) };
            await after.GetRequiredService<ITraceStore>().AppendAsync(next);
            OlderShape.AssertCells(OlderShape.Expected([.. traces, next]), await rollups.QueryAsync(ws, "2025-03-01", "2025-03-31", null));

            await using var check = new SqliteConnection($"Data Source={Path.Combine(directory, "killtoken.db")};Pooling=False");
            await check.OpenAsync();
            await using var legacy = check.CreateCommand();
            legacy.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollups'";
            Assert.AreEqual(0L, (long)(await legacy.ExecuteScalarAsync())!, "the older rows' table is dropped");
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static ServiceProvider Open(string directory) =>
        new ServiceCollection().AddSingleton(TimeProvider.System).AddKillTokenSqliteStore(directory).BuildServiceProvider();
}

[TestClass]
public sealed class CosmosRollupShapeUpgradeTests
{
    [TestMethod]
    public async Task AWorkspaceWithOlderRollups_IsRebuiltFromItsTraces_OnItsFirstRead_Once()
    {
        var database = CosmosEmulator.NewDatabaseName("shape");
        var ws = Ids.New("ws");
        var traces = OlderShape.Traces(ws);
        await using var first = Open(database);
        try
        {
            // An older build's workspace: the traces, and rollup rows of the older shape (the new rows are missing).
            var store = (CosmosTraceStore)first.GetRequiredService<ITraceStore>();
            foreach (var trace in traces)
            {
                await store.WriteTraceAsync(trace, CancellationToken.None);
            }

            var context = first.GetRequiredService<CosmosStoreContext>();
            foreach (var day in new[] { "2025-03-13", "2025-03-14" })
            {
                var legacy = $$"""{"id":"rollup:{{day}}:total:all","type":"rollup","workspaceId":"{{ws}}","day":"{{day}}","dimension":"total","key":"all","requests":2}""";
                using var body = new MemoryStream(Encoding.UTF8.GetBytes(legacy));
                using var created = await context.Workspaces.CreateItemStreamAsync(body, new PartitionKey(ws));
                created.EnsureSuccessStatusCode();
            }

            OlderShape.AssertCells(OlderShape.Expected(traces),
                await first.GetRequiredService<IUsageRollups>().QueryAsync(ws, "2025-03-01", "2025-03-31", RollupDimensions.Cell));
            using (var gone = await context.Workspaces.ReadItemStreamAsync("rollup:2025-03-13:total:all", new PartitionKey(ws)))
            {
                Assert.AreEqual(System.Net.HttpStatusCode.NotFound, gone.StatusCode, "the older rows are deleted once their days are rebuilt");
            }

            // Another instance (nothing remembered in memory) reads the marker and rebuilds nothing: a trace written
            // without its rollups now stays out until the daily close repairs its day.
            await store.WriteTraceAsync(traces[0] with { Id = Ids.New("req") }, CancellationToken.None);
            await using var second = Open(database);
            OlderShape.AssertCells(OlderShape.Expected(traces),
                await second.GetRequiredService<IUsageRollups>().QueryAsync(ws, "2025-03-01", "2025-03-31", RollupDimensions.Cell));
        }
        finally
        {
            await first.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(database).DeleteStreamAsync();
        }
    }

    private static ServiceProvider Open(string database) =>
        new ServiceCollection().AddSingleton(TimeProvider.System).AddKillTokenCosmosStore(CosmosEmulator.Shared.StoreOptions(database)).BuildServiceProvider();
}
