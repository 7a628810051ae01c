using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Analytics;

/// <summary>
/// What each analytics route asks of Cosmos DB does not grow with the number of traces: the gateway on
/// KILLTOKEN_STORE=cosmos (the test emulator, as the other Cosmos DB store tests start it, in every test pass), one
/// workspace seeded through <see cref="ITraceStore.AppendAsync"/> with N traces over several days in a fixed set of
/// rollup cells, every aggregate route called and its store operations counted (<see cref="CosmosOperationCounter"/>);
/// then 4×N more traces in the same cells and days, and every route must cost exactly the same operations, request
/// charge and rollup documents. The CSV export, which reads traces, is shown beside them for contrast (not asserted).
/// <para>
/// The emulator answers every operation with <c>x-ms-request-charge: 1</c> (tests/emulators/cosmos/README.md), so the
/// charge it reports is the operation count. The table also gives an estimate from Microsoft's published costs: a point
/// read of a ≤ 1 KB item 1 RU and a write of a 1 KB item ≈ 4.95 RU (learn.microsoft.com/azure/cosmos-db/request-units and
/// /understand-request-unit-consumption); a single-partition query ≈ 2.3 RU plus, for each document it returns, the
/// point-read rate of its size (an upper bound: no per-document query rate is published); the SDK's query-plan
/// requests are not charged.
/// </para>
/// </summary>
[TestClass]
public sealed class AnalyticsStoreCostTests
{
    private const int N = 200;
    private const int Days = 5;
    private const double QueryBaseRu = 2.3;
    private const double PointReadRuPerKb = 1.0;
    private const double WriteRuPerKb = 4.95;

    public TestContext TestContext { get; set; } = null!;

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static string _database = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _database = CosmosEmulator.NewDatabaseName("analytics-cost");
        _host = await GatewayHost.StartAsync(CosmosGatewaySettings.For(CosmosEmulator.Shared, _database, _openai),
            services => services.AddSingleton<CosmosOperationCounter>());
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    public async Task EveryAnalyticsRoute_ReadsTheSame_WithFiveTimesTheTraces()
    {
        Assert.IsInstanceOfType<CosmosUsageRollups>(((RollupsAfterPendingWrites)_host.Services.GetRequiredService<IUsageRollups>()).Rollups, "the gateway under test keeps its rollups on Cosmos DB");
        var (token, workspaceId) = await _host.SignUpAsync();
        var (alpha, apiKey) = await _host.CreateProjectAsync(token, workspaceId, new { name = "alpha", dailyBudgetUsd = 50m });
        var (beta, _) = await _host.CreateProjectAsync(token, workspaceId, new { name = "beta", monthlyBudgetUsd = 500m });

        // The range covers the seeded days, today and the month's first day, so the overview reads its month from the
        // same rows as its range (one rollup query, like every other report).
        var now = DateTimeOffset.UtcNow;
        var today = BudgetPeriods.At(now).Day;
        var firstSeeded = BudgetPeriods.At(now.AddDays(-(Days - 1))).Day;
        var monthStart = BudgetPeriods.At(now).Month + "-01";
        var from = string.CompareOrdinal(monthStart, firstSeeded) < 0 ? monthStart : firstSeeded;
        (string Project, string Provider, string Model, string Feature)[] cells =
        [
            (alpha, "openai", "gpt-4o-mini", "chat"),
            (alpha, "anthropic", "claude-3-5-haiku", "search"),
            (beta, "openai", "gpt-4o", "chat"),
            (beta, "gemini", "gemini-2.5-flash", "(untagged)"),
        ];

        var range = $"from={from}&to={today}";
        var routes = new (string Name, string Path, string Bearer, bool Aggregate)[]
        {
            ("overview", $"api/analytics/overview?workspaceId={workspaceId}&{range}", token, true),
            ("trends", $"api/analytics/trends?workspaceId={workspaceId}&{range}", token, true),
            ("providers", $"api/analytics/providers?workspaceId={workspaceId}&{range}", token, true),
            ("models", $"api/analytics/models?workspaceId={workspaceId}&{range}", token, true),
            ("projects", $"api/analytics/projects?workspaceId={workspaceId}&{range}", token, true),
            ("features", $"api/analytics/features?workspaceId={workspaceId}&{range}", token, true),
            ("/v1/exports/analytics.json", $"v1/exports/analytics.json?{range}", apiKey, true),
            ("export.csv (reads traces; not asserted)", $"api/analytics/export.csv?workspaceId={workspaceId}&{range}", token, false),
        };

        await SeedAsync(workspaceId, cells, now, 0, N);
        foreach (var route in routes)
        {
            await MeasureAsync(route.Path, route.Bearer); // caches warm (the workspace's rollup shape marker, query plans, metadata)
        }

        var small = new List<Cost>();
        foreach (var route in routes)
        {
            small.Add(await MeasureAsync(route.Path, route.Bearer));
        }

        var (smallDocs, smallBytes) = await RollupDocumentsAsync(workspaceId, from, today);
        var smallRows = (await _host.Services.GetRequiredService<IUsageRollups>().QueryAsync(workspaceId, from, today, RollupDimensions.Cell)).Count;

        await SeedAsync(workspaceId, cells, now, N, 4 * N);
        var large = new List<Cost>();
        foreach (var route in routes)
        {
            large.Add(await MeasureAsync(route.Path, route.Bearer));
        }

        var (largeDocs, largeBytes) = await RollupDocumentsAsync(workspaceId, from, today);
        var largeRows = (await _host.Services.GetRequiredService<IUsageRollups>().QueryAsync(workspaceId, from, today, RollupDimensions.Cell)).Count;
        var overview = await GatewayHost.ReadJsonAsync(await SendAsync(routes[0].Path, token), 200);

        // ---- The table ---------------------------------------------------------------------------------------------
        var constantCharge = small.Concat(large).SelectMany(c => c.Operations).All(o => o.RequestCharge == 1.0);
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Analytics routes on Cosmos DB (emulator), one workspace, {cells.Length} cells × {Days} days, range {from}..{today}:");
        table.AppendLine(CultureInfo.InvariantCulture, $"rollup cell documents in range: {smallDocs} ({smallBytes} B) at {N} traces, {largeDocs} ({largeBytes} B) at {5 * N} traces; IUsageRollups.QueryAsync rows: {smallRows} / {largeRows}");
        table.AppendLine(constantCharge
            ? "The emulator reported x-ms-request-charge = 1 for every operation: its RU column is the operation count; 'est. RU' uses Microsoft's published costs."
            : "The emulator reported request charges other than 1: its RU column is what it reported.");
        table.AppendLine();
        table.AppendLine(CultureInfo.InvariantCulture, $"| route | ops @{N} | ops @{5 * N} | reported RU @{N} | reported RU @{5 * N} | est. RU @{N} | est. RU @{5 * N} | operations @{5 * N} |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        for (var i = 0; i < routes.Length; i++)
        {
            var (s, l) = (small[i], large[i]);
            // An aggregate route's one rollup query returns the range's cell documents; the export's queries return traces.
            var (smallEstimate, largeEstimate) = routes[i].Aggregate
                ? (Estimate(s, smallDocs, smallBytes), Estimate(l, largeDocs, largeBytes))
                : (Estimate(s, 0, 0), Estimate(l, 0, 0));
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {routes[i].Name} | {s.Total} | {l.Total} | {s.RequestCharge:0.##} | {l.RequestCharge:0.##} | {smallEstimate:0.#}{(routes[i].Aggregate ? "" : " + traces")} | {largeEstimate:0.#}{(routes[i].Aggregate ? "" : " + traces")} | {string.Join(", ", l.Counts.Select(c => $"{c.Value}× {c.Key}"))} |");
        }

        TestContext.WriteLine(table.ToString());
        Console.WriteLine(table.ToString());

        // ---- What must hold ------------------------------------------------------------------------------------------
        Assert.AreEqual(5L * N, overview["range"]!["requests"]!.GetValue<long>(), "every seeded trace is counted");
        Assert.AreEqual(smallDocs, largeDocs, "the same cells and days: the same rollup documents");
        Assert.AreEqual(cells.Length * Days, smallRows, "one cell row per (day, cell) seeded");
        Assert.AreEqual(smallRows, largeRows);
        for (var i = 0; i < routes.Length; i++)
        {
            if (!routes[i].Aggregate)
            {
                continue;
            }

            var (s, l) = (small[i], large[i]);
            Assert.IsTrue(s.Operations.All(o => o.StatusCode is >= 200 and < 300 or 404), $"{routes[i].Name}: {string.Join("; ", s.Operations)}");
            CollectionAssert.AreEquivalent(s.Counts.ToList(), l.Counts.ToList(), $"{routes[i].Name}: the same operations at {N} and {5 * N} traces");
            Assert.AreEqual(s.Total, l.Total, routes[i].Name);
            Assert.AreEqual(s.RequestCharge, l.RequestCharge, 1e-9, $"{routes[i].Name}: the same request charge");
            Assert.IsFalse(l.Counts.Keys.Any(k => k.Contains("traces/", StringComparison.Ordinal)), $"{routes[i].Name} reads no traces: {string.Join(", ", l.Counts.Keys)}");
        }
    }

    /// <summary>One route's store operations: everything the counter saw from the request to 300 ms of quiet after it.</summary>
    private sealed record Cost(int Total, double RequestCharge, IReadOnlyDictionary<string, int> Counts, IReadOnlyList<CosmosOperation> Operations);

    private static async Task<Cost> MeasureAsync(string path, string bearer)
    {
        var counter = _host.Services.GetRequiredService<CosmosOperationCounter>();
        await QuietAsync(counter);
        counter.Reset();
        using (var response = await SendAsync(path, bearer))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(200, (int)response.StatusCode, $"{path}: {body}");
        }

        await QuietAsync(counter); // the CSV export writes its audit event after the last row
        return new Cost(counter.Total, counter.RequestCharge, counter.Counts, counter.Operations);
    }

    private static async Task<HttpResponseMessage> SendAsync(string path, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await _host.Client.SendAsync(request);
    }

    /// <summary>
    /// Estimated RU from Microsoft's published costs (see the class remarks): point reads 1 RU, writes 4.95 RU, queries
    /// 2.3 RU each plus the rollup documents the report's query returns at the point-read rate (≤ 1 KB each: 1 RU).
    /// </summary>
    private static double Estimate(Cost cost, int rollupDocuments, long rollupBytes)
    {
        var perDocumentKb = rollupDocuments == 0 ? 0 : Math.Max(1, Math.Ceiling(rollupBytes / 1024.0 / Math.Max(1, rollupDocuments)));
        var ru = 0.0;
        foreach (var operation in cost.Operations)
        {
            ru += operation.Operation switch
            {
                "read" => PointReadRuPerKb,
                "query" => QueryBaseRu,
                "create" or "upsert" or "replace" or "patch" => WriteRuPerKb,
                _ => 0,
            };
        }

        return ru + (rollupDocuments * perDocumentKb * PointReadRuPerKb);
    }

    /// <summary>The rollup cell documents of the workspace in the range, read directly: how many, and their bytes.</summary>
    private static async Task<(int Documents, long Bytes)> RollupDocumentsAsync(string workspaceId, string from, string to)
    {
        var container = _host.Services.GetRequiredService<CosmosStoreContext>().Workspaces;
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = 'rollup' AND c.day >= @from AND c.day <= @to AND c.dimension = @dim")
            .WithParameter("@ws", workspaceId).WithParameter("@from", from).WithParameter("@to", to).WithParameter("@dim", RollupDimensions.Cell);
        var (documents, bytes) = (0, 0L);
        using var iterator = container.GetItemQueryStreamIterator(query, requestOptions: new QueryRequestOptions { PartitionKey = new PartitionKey(workspaceId) });
        while (iterator.HasMoreResults)
        {
            using var page = await iterator.ReadNextAsync();
            page.EnsureSuccessStatusCode();
            using var json = await System.Text.Json.JsonDocument.ParseAsync(page.Content);
            foreach (var document in json.RootElement.GetProperty("Documents").EnumerateArray())
            {
                documents++;
                bytes += Encoding.UTF8.GetByteCount(document.GetRawText());
            }
        }

        return (documents, bytes);
    }

    /// <summary>
    /// Appends traces <paramref name="first"/>..<paramref name="first"/>+<paramref name="count"/>-1, trace i on day
    /// i mod <see cref="Days"/> (counted back from today) in cell (i / Days) mod cells, so any 20 consecutive traces touch
    /// every (day, cell) pair and more traces only add to the same rows. Every third call carries one of two templates;
    /// some are provider errors, blocked calls or cache hits, as in live traffic.
    /// </summary>
    private static async Task SeedAsync(string workspaceId, (string Project, string Provider, string Model, string Feature)[] cells, DateTimeOffset now, int first, int count)
    {
        var store = _host.Services.GetRequiredService<ITraceStore>();
        var dayStart = DateTimeOffset.ParseExact(BudgetPeriods.At(now).Day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        await Parallel.ForEachAsync(Enumerable.Range(first, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancellationToken) =>
        {
            var day = i % Days;
            var (project, provider, model, feature) = cells[i / Days % cells.Length];
            var at = dayStart.AddDays(-day).AddSeconds(i % 3_600);
            var trace = new RequestTrace
            {
                Id = Ids.New("req"),
                WorkspaceId = workspaceId,
                ProjectId = project,
                CreatedAt = at > now ? now : at,
                Endpoint = "chat",
                Provider = provider,
                FinalProvider = provider,
                Model = model,
                FinalModel = model,
                OptimizationMode = "measure_only",
                Feature = feature,
                Status = 200,
                InputTokens = 1000 + i,
                OutputTokens = 500,
                TotalTokens = 1500 + i,
                CostUsd = 0.000435m,
                CostStatus = "priced",
                CacheStatus = "miss",
                Idempotency = "none",
                LatencyMs = 12.5,
                TemplateId = (i % 3) switch { 0 => "tpl_alpha", 1 => "tpl_beta", _ => null },
            };
            trace = (i % 50) switch
            {
                7 => trace with { Status = 502, ErrorCode = "provider_error", OutputTokens = 0, CostUsd = null, CostStatus = "free" },
                13 => trace with { Status = 429, ErrorCode = "budget_exceeded", InputTokens = 0, OutputTokens = 0, TotalTokens = 0, CostUsd = 0m, CostStatus = "free" },
                21 or 34 => trace with { CacheStatus = "hit", CostUsd = 0m, CostStatus = "free", SavedUsd = 0.000435m },
                _ => trace,
            };
            await store.AppendAsync(trace, cancellationToken: cancellationToken);
        });
        // The rollups wait in memory until the next flush (or the first read of the workspace): write them now, so the
        // routes measured next cost only their reads.
        await _host.Services.GetRequiredService<CosmosDeferredCounters>().FlushAsync();
    }

    /// <summary>Waits until no operation was counted for 300 ms (at most 10 s): background work has finished.</summary>
    private static async Task QuietAsync(CosmosOperationCounter counter)
    {
        var total = counter.Total;
        for (var (quiet, waited) = (0, 0); quiet < 300 && waited < 10_000; waited += 50)
        {
            await Task.Delay(50);
            (quiet, total) = counter.Total == total ? (quiet + 50, total) : (0, counter.Total);
        }
    }
}
