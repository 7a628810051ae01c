using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// Issue 10, items 3 and 4 on Cosmos DB: an instance stopped between a call's trace and the rest (its settlement and
/// rollups) leaves spend and reports short of the traces; the daily reconciliation brings both to what the traces say
/// and releases what the stopped calls still held, and running it again changes nothing.
/// </summary>
[TestClass]
public sealed class CosmosReconciliationTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static string _database = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1200, completion: 300)));
        _database = CosmosEmulator.NewDatabaseName("reconcile");
        _host = await GatewayHost.StartAsync(CosmosGatewaySettings.For(CosmosEmulator.Shared, _database, _openai));
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    public async Task AnInstanceStoppedBetweenTraceAndTotals_IsRepairedFromTheTraces_Once()
    {
        var tenant = await GatewayScenarios.TenantWithBudgetAsync(_host, new { dailyBudgetUsd = 100m });
        for (var i = 0; i < 3; i++)
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "served whole")), 200);
        }

        // The stopped instance: two calls reserved and wrote their trace, then nothing; a third reserved and never finished.
        var ledger = _host.Services.GetRequiredService<IBudgetLedger>();
        var traces = (CosmosTraceStore)((TracesAfterPendingWrites)_host.Services.GetRequiredService<ITraceStore>()).Store;
        var now = DateTimeOffset.UtcNow;
        var periods = BudgetPeriods.At(now);
        for (var i = 0; i < 3; i++)
        {
            Assert.IsTrue((await ledger.TryReserveAsync(tenant.WorkspaceId, tenant.ProjectId, periods, 0.05m, 100m, null)).Reserved);
        }

        foreach (var cost in new[] { 0.012345678m, 0.02m })
        {
            await traces.WriteTraceAsync(new RequestTrace
            {
                Id = Ids.New("req"), WorkspaceId = tenant.WorkspaceId, ProjectId = tenant.ProjectId, CreatedAt = now, Endpoint = "chat",
                Provider = "openai", FinalProvider = "openai", Model = "gpt-4o", FinalModel = "gpt-4o", OptimizationMode = "measure_only",
                Feature = "(untagged)", Status = 200, InputTokens = 1000, OutputTokens = 1000, TotalTokens = 2000, CostUsd = cost,
                CostStatus = "priced", CacheStatus = "bypass", Idempotency = "none", LatencyMs = 3,
            }, CancellationToken.None);
        }

        var before = await ReadAsync(tenant);
        Assert.AreEqual(5, before.Traces.Count);
        Assert.AreEqual(3, before.ReportedRequests, "the stopped instance's two calls are missing from the report");
        Assert.AreEqual(0.15m, before.Reserved, "and their reservations are still held");

        var reconciler = _host.Services.GetRequiredService<IDayReconciler>();
        var repaired = await reconciler.ReconcileAsync(tenant.WorkspaceId, periods.Day);
        Assert.AreEqual(5, repaired.Traces);
        Assert.IsTrue(repaired.RollupRowsRepaired >= 1, $"{repaired}: the calls' cell row at least");
        Assert.AreEqual(2, repaired.BudgetsRepaired, "the project's day and the workspace's");

        var after = await ReadAsync(tenant);
        var tracedCost = after.Traces.Sum(t => t["costUsd"]?.GetValue<decimal>() ?? 0m);
        Assert.AreEqual(5, after.ReportedRequests, "the report counts every trace");
        Assert.AreEqual(tracedCost, after.ReportedCost, "the report's cost is the traces' cost");
        Assert.AreEqual(Math.Round(tracedCost, 6), after.Spent, "the budget's spend is the traces' cost");
        Assert.AreEqual(0m, after.Reserved, "the stopped calls' reservations are released");
        var usage = await ledger.GetAsync(tenant.WorkspaceId, tenant.ProjectId, periods);
        Assert.AreEqual(usage.DaySpent, usage.MonthSpent, "the month moved with the day");
        var workspace = await ledger.GetAsync(tenant.WorkspaceId, WorkspaceBudget.LedgerId, periods);
        Assert.AreEqual(usage.DaySpent, workspace.DaySpent, "the workspace's counter is its only project's traced cost too");
        Assert.AreEqual(workspace.DaySpent, workspace.MonthSpent);
        Assert.AreEqual(0m, workspace.DayReserved);

        var again = await reconciler.ReconcileAsync(tenant.WorkspaceId, periods.Day);
        Assert.AreEqual(0, again.RollupRowsRepaired + again.BudgetsRepaired, "a second run changes nothing");
        Assert.AreEqual(after, await ReadAsync(tenant) with { Traces = after.Traces });
    }

    private sealed record State(List<System.Text.Json.Nodes.JsonNode> Traces, long ReportedRequests, decimal ReportedCost, decimal Spent, decimal Reserved);

    private static async Task<State> ReadAsync(Tenant tenant)
    {
        var traces = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200))["data"]!.AsArray().Select(t => t!).ToList();
        var totals = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/summary"), 200))["totals"]!;
        var today = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200))["spend"]!["today"]!;
        return new State(traces, totals["requests"]!.GetValue<long>(), totals["costUsd"]!.GetValue<decimal>(),
            today["spentUsd"]!.GetValue<decimal>(), today["reservedUsd"]!.GetValue<decimal>());
    }
}
