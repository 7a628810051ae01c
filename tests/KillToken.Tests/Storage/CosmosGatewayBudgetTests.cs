using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Gateway;
using KillToken.Core.Idempotency;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// The gateway's headline guarantees on KILLTOKEN_STORE=cosmos (the emulator): budgets that never overspend under
/// 200 concurrent calls, 50 idempotent twins that make one provider call, and the exact cache — the same scenarios and
/// assertions as the SQLite tests (<see cref="GatewayScenarios"/>).
/// </summary>
[TestClass]
public sealed class CosmosGatewayBudgetTests
{
    public TestContext TestContext { get; set; } = null!;

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static string _database = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _database = CosmosEmulator.NewDatabaseName("gateway-budget");
        _host = await GatewayHost.StartAsync(
            CosmosGatewaySettings.For(CosmosEmulator.Shared, _database, _openai, ("KILLTOKEN_PROVIDER_TIMEOUT_SECONDS", "30")),
            services =>
            {
                services.AddSingleton<CosmosOperationCounter>();
                CosmosHeldCounters.HoldForAnHour(services);
            });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    public void TheGatewayPortsAreCosmosOnes()
    {
        Assert.IsInstanceOfType<CosmosBudgetLedger>(((LedgerAfterPendingWrites)_host.Services.GetRequiredService<IBudgetLedger>()).Ledger);
        Assert.IsInstanceOfType<CosmosIdempotencyStore>(_host.Services.GetRequiredService<IIdempotencyStore>());
        Assert.IsInstanceOfType<CosmosCacheStore>(_host.Services.GetRequiredService<ICacheStore>());
        Assert.IsInstanceOfType<CosmosUsageRollups>(((RollupsAfterPendingWrites)_host.Services.GetRequiredService<IUsageRollups>()).Rollups);
        Assert.IsInstanceOfType<BudgetGate>(_host.Services.GetRequiredService<IBudgetGate>(), "budgets are enforced, not unlimited");
        Assert.IsInstanceOfType<IdempotencyGate>(_host.Services.GetRequiredService<KillToken.Core.Idempotency.IIdempotencyGate>());
        Assert.IsInstanceOfType<ExactResponseCache>(_host.Services.GetRequiredService<IResponseCache>());
    }

    [TestMethod]
    public Task TwoHundredConcurrentCalls_NeverOverspend_ExactlyNinetyNineServed() =>
        GatewayScenarios.TwoHundredConcurrentCalls_NeverOverspendAsync(_host, _openai);

    [TestMethod]
    public Task FiftyConcurrentTwins_MakeExactlyOneProviderCall_AndGetIdenticalAnswers() =>
        GatewayScenarios.FiftyConcurrentTwins_MakeExactlyOneProviderCallAsync(_host, _openai);

    [TestMethod]
    public Task CacheReadWrite_MissThenHit_HitSkipsProviderAndIsFree() =>
        GatewayScenarios.CacheReadWrite_MissThenHitAsync(_host, _openai);

    [TestMethod]
    public async Task Reports_ReadTheRollupsTheCallsWrote()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 500));
        for (var i = 0; i < 3; i++)
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "report " + i), featureHeader: "reports"), 200);
        }

        var rollups = _host.Services.GetRequiredService<IUsageRollups>();
        var today = BudgetPeriods.At(DateTimeOffset.UtcNow).Day;
        var rows = await rollups.QueryAsync(tenant.WorkspaceId, today, today, null);
        var total = rows.Single(r => r.Dimension == RollupDimensions.Cell).Totals;
        Assert.AreEqual(3, total.Requests);
        Assert.AreEqual(3000, total.InputTokens);
        Assert.AreEqual(1500, total.OutputTokens);
        Assert.AreEqual(new RollupCell(tenant.ProjectId, "openai", "gpt-4o-mini", "reports"), RollupCell.Parse(rows.Single(r => r.Dimension == RollupDimensions.Cell).Key));

        var spend = await _host.Services.GetRequiredService<IBudgetLedger>().GetAsync(tenant.WorkspaceId, tenant.ProjectId, BudgetPeriods.At(DateTimeOffset.UtcNow));
        Assert.AreEqual(total.CostUsd, spend.DaySpent, "the ledger and the rollups saw the same spend");
        Assert.AreEqual(0m, spend.DayReserved);
    }

    [TestMethod]
    public async Task OperationCounts_OfAnIdempotentCachedCallWithABudget_AndOfACacheHit()
    {
        var tenant = await GatewayScenarios.TenantWithBudgetAsync(_host, new { dailyBudgetUsd = 100m });
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var counter = _host.Services.GetRequiredService<CosmosOperationCounter>();
        // Warm up with the same prompt (no key, no cache): the month's budget document and the day's rollup rows exist from here on.
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "counted")), 200);
        await QuietAsync(counter); // the warm-up's own alert check, after its answer, must not land in the count below
        await CosmosHeldCounters.FlushAsync(_host);

        counter.Reset();
        var miss = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "counted", idempotencyKey: "k-" + Guid.NewGuid().ToString("N"), cache: "read_write")), 200);
        await QuietAsync(counter); // the budget alert check runs off the request path, after the answer
        var missCounts = Log("one /v1/chat with a daily budget, a new idempotency key and read_write cache (miss)", counter);
        counter.Reset();
        await CosmosHeldCounters.FlushAsync(_host);
        var missFlushCounts = Log("the flush of what it left in memory", counter);

        counter.Reset();
        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "counted", cache: "read_write")), 200);
        await QuietAsync(counter);
        var hitCounts = Log("one /v1/chat answered from the cache (hit)", counter);

        Assert.AreEqual("miss", miss["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        var rollupRows = await RollupRowsAsync(tenant, miss);
        Assert.AreEqual(1, missCounts.GetValueOrDefault("read lookups/docs/{id}"), "the key pointer");
        Assert.AreEqual(4, missCounts.GetValueOrDefault("read workspaces/docs/{id}"),
            "project, budget month (plan), the cache probe, and the budget month again for the alert check after a settle with spend: "
            + string.Join(", ", missCounts.Select(c => $"{c.Value} x {c.Key}")));
        Assert.AreEqual(1, missCounts.GetValueOrDefault("query workspaces/docs"), "the credential");
        Assert.AreEqual(1, missCounts.GetValueOrDefault("create workspaces/docs"), "the idempotency hold");
        Assert.AreEqual(2, missCounts.GetValueOrDefault("patch workspaces/docs/{id}"), "reserve, and settle the project's month (giving the reservation back with the spend)");
        Assert.AreEqual(2, missCounts.GetValueOrDefault("upsert workspaces/docs"), "the cache entry and the idempotency outcome");
        Assert.AreEqual(1, missCounts.GetValueOrDefault("upsert traces/docs"));
        Assert.AreEqual(12, missCounts.Values.Sum(), string.Join(", ", missCounts.Select(c => $"{c.Value} x {c.Key}")));
        Assert.AreEqual(1 + rollupRows, missFlushCounts.GetValueOrDefault("patch workspaces/docs/{id}"),
            "the flush: the workspace's month (spend, no workspace limit: nothing held there) and one per rollup row, shared by the interval's calls");
        Assert.AreEqual(1 + rollupRows, missFlushCounts.Values.Sum());

        Assert.AreEqual(0, hitCounts.GetValueOrDefault("patch workspaces/docs/{id}"), "a hit reserves and settles nothing, and its rollups wait in memory");
        Assert.IsTrue(await RollupRowsAsync(tenant, hit) > 0);
        Assert.AreEqual(3, hitCounts.GetValueOrDefault("read workspaces/docs/{id}"), "project, budget month (plan) and the cache hit");
    }

    /// <summary>How many rollup rows the call's trace adds to (5, or 6 with a template).</summary>
    private static async Task<int> RollupRowsAsync(Tenant tenant, System.Text.Json.Nodes.JsonObject answer)
    {
        var trace = await _host.Services.GetRequiredService<KillToken.Core.Ports.ITraceStore>()
            .GetAsync(tenant.WorkspaceId, answer["metrics"]!["requestId"]!.GetValue<string>());
        Assert.IsNotNull(trace);
        return RollupDimensions.Of(trace).Count;
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

    private IReadOnlyDictionary<string, int> Log(string title, CosmosOperationCounter counter)
    {
        TestContext.WriteLine($"--- {title}: {counter}");
        foreach (var operation in counter.Operations)
        {
            TestContext.WriteLine("    " + operation);
        }

        return counter.Counts;
    }
}
