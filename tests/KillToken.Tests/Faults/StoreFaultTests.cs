using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Gateway;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Faults;

/// <summary>
/// Issue 19, item 2: Cosmos DB failing under the gateway. The gateway talks to the emulator through a
/// <see cref="FaultProxy"/> that adds latency, throttles (429 with <c>x-ms-retry-after-ms</c>), answers 503 and 408, and
/// cuts connections before or after forwarding. Whatever happens, a caller gets a 200 or a 503 <c>store_unavailable</c>
/// with Retry-After — never a 500 or a bare connection error — and the books stay straight: every call the provider
/// answered has its trace, spend and reports equal the traced cost once the day is reconciled (and are never above it
/// before), and the provider is called only for calls whose cost is then recorded.
/// </summary>
[TestClass]
public sealed class StoreFaultTests
{
    private const int Calls = 30;
    private const double Rate = 0.25;

    private static FakeUpstream _openai = null!;
    private static FaultProxy _proxy = null!;
    private static GatewayHost _host = null!;
    private static string _database = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(GatewayScenarios.Usage(prompt: 1000, completion: 200));
        _proxy = await FaultProxy.ForCosmosAsync(CosmosEmulator.Shared);
        _database = CosmosEmulator.NewDatabaseName("faults");
        var settings = CosmosGatewaySettings.For(CosmosEmulator.Shared, _database, _openai, ("COSMOS_CONNECTION_STRING", _proxy.CosmosConnectionString));
        _host = await GatewayHost.StartAsync(settings);

        // The database and containers are created on first use; a slow emulator may fail that once (503): not under test.
        for (var attempt = 1; ; attempt++)
        {
            using var ready = await _host.Client.GetAsync("ready");
            if (ready.IsSuccessStatusCode || attempt == 10)
            {
                break;
            }

            await Task.Delay(500);
        }
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        _proxy.Plan = FaultPlan.None;
        await _host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _host.DisposeAsync();
        await _proxy.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestCleanup]
    public void NoFaultsLeft()
    {
        _proxy.Plan = FaultPlan.None;
        if (TestContext.CurrentTestOutcome != UnitTestOutcome.Passed)
        {
            foreach (var line in _host.Logs.Lines.Where(l => l.StartsWith("Warning KillToken", StringComparison.Ordinal)).TakeLast(20))
            {
                TestContext.WriteLine("gateway warning: " + line);
            }
        }
    }

    [TestMethod]
    [DataRow(FaultKind.Latency)]
    [DataRow(FaultKind.Throttle)]
    [DataRow(FaultKind.Unavailable)]
    [DataRow(FaultKind.Timeout)]
    [DataRow(FaultKind.DropBeforeForward)]
    [DataRow(FaultKind.DropAfterForward)]
    public async Task UnderFaults_CallsGet200Or503_AndEveryAnsweredCallIsRecordedOnce(FaultKind kind)
    {
        var budgeted = await GatewayScenarios.TenantWithBudgetAsync(_host, new { dailyBudgetUsd = 100m });
        var unlimited = await _host.CreateTenantAsync();
        var providerBefore = _openai.Count;
        var injectedBefore = _proxy.InjectedTotal;
        var logsBefore = _host.Logs.Lines.Count;

        _proxy.Plan = new FaultPlan(kind, kind == FaultKind.Latency ? 0.3 : Rate) { Latency = TimeSpan.FromMilliseconds(100) };
        var answers = await BurstAsync([budgeted, unlimited], Calls);
        _proxy.Plan = FaultPlan.None;
        var injected = _proxy.InjectedTotal - injectedBefore;

        var ok = answers.Where(a => a.Status == 200).ToList();
        var unavailable = answers.Where(a => a.Status == 503).ToList();
        var providerCalls = _openai.Count - providerBefore;
        TestContext.WriteLine($"{kind}: {Calls} calls, {ok.Count} × 200, {unavailable.Count} × 503, {injected} faults injected, {providerCalls} provider calls");
        foreach (var group in _host.Logs.Lines.Skip(logsBefore).Where(l => l.Contains("failed after retries", StringComparison.Ordinal) || l.Contains("answered 503", StringComparison.Ordinal))
            .GroupBy(l => l.Split(" in request ")[0].Split("Request req_")[0] + (l.Contains("answered 503", StringComparison.Ordinal) ? l[l.IndexOf("answered 503", StringComparison.Ordinal)..] : "")))
        {
            TestContext.WriteLine($"  {group.Count()} × {group.Key}");
        }
        Assert.AreEqual(Calls, ok.Count + unavailable.Count, "only 200s and 503s: " + string.Join(", ", answers.Where(a => a.Status is not (200 or 503)).Select(a => a.ToString())));
        Assert.IsTrue(injected > 0, "the proxy injected faults");
        Assert.IsTrue(ok.Count > 0, "some calls got through");
        foreach (var answer in unavailable)
        {
            Assert.AreEqual(ErrorCodes.StoreUnavailable, answer.Code, answer.ToString());
            Assert.IsNotNull(answer.RetryAfter, "a 503 says when to retry");
            Assert.IsFalse(string.IsNullOrEmpty(answer.RequestId), "and carries its request id");
        }

        Assert.AreEqual(ok.Count, providerCalls, "the provider was called for the answered calls only");

        // The faults are off: let the writes behind the answers drain and the counters held in memory be written.
        await _host.Services.GetRequiredService<PendingTraceWrites>().DrainAsync();
        await _host.Services.GetRequiredService<CosmosDeferredCounters>().FlushAsync();

        var reconciled = false;
        foreach (var tenant in new[] { budgeted, unlimited })
        {
            var before = await ReadBooksAsync(tenant);
            var mine = ok.Where(a => a.Tenant == tenant).ToList();
            var tracedOk = before.Traces.Where(t => t["status"]!.GetValue<int>() == 200).Select(t => t["id"]!.GetValue<string>()).ToHashSet();
            CollectionAssert.AreEquivalent(mine.Select(a => a.RequestId).ToList(), tracedOk.ToList(), "every 200 has exactly its trace");
            Assert.AreEqual(mine.Sum(a => a.CostUsd), before.TracedCost, "the traces cost what the answers said");
            Assert.IsTrue(before.TracedCost > 0);

            // Never a charge twice: before any repair, spend and reports are at most what the traces say.
            Assert.IsTrue(before.ReportedCost <= before.TracedCost, $"reported {before.ReportedCost} ≤ traced {before.TracedCost}");
            Assert.IsTrue(before.ReportedRequests <= before.Traces.Count, $"reported {before.ReportedRequests} ≤ traces {before.Traces.Count}");
            if (tenant == budgeted)
            {
                Assert.IsTrue(before.Spent <= Math.Round(before.TracedCost, 6), $"spent {before.Spent} ≤ traced {before.TracedCost}");
            }

            var exact = before.ReportedCost == before.TracedCost && before.ReportedRequests == before.Traces.Count
                && (tenant != budgeted || (before.Spent == Math.Round(before.TracedCost, 6) && before.Reserved == 0m));
            TestContext.WriteLine($"  {(tenant == budgeted ? "budgeted" : "unlimited")}: {mine.Count} answered, traced ${before.TracedCost}, reported ${before.ReportedCost} " +
                $"({before.ReportedRequests}/{before.Traces.Count} requests), spent ${before.Spent}, reserved ${before.Reserved}; exact before reconciliation: {exact}");
            if (kind is FaultKind.Latency or FaultKind.Throttle or FaultKind.Unavailable)
            {
                // These faults are never applied by the store, so every write was retried until it landed: exact at once.
                Assert.IsTrue(exact, "429, 503 and latency leave nothing to repair");
            }

            // What a lost answer left uncertain is not sent twice; the day's reconciliation makes it exact.
            await _host.Services.GetRequiredService<IDayReconciler>().ReconcileAsync(tenant.WorkspaceId, BudgetPeriods.At(DateTimeOffset.UtcNow).Day);
            reconciled |= !exact;
            var after = await ReadBooksAsync(tenant);
            Assert.AreEqual(after.TracedCost, after.ReportedCost, "reported cost = traced cost");
            Assert.AreEqual(after.Traces.Count, after.ReportedRequests, "reported requests = traces");
            if (tenant == budgeted)
            {
                Assert.AreEqual(Math.Round(after.TracedCost, 6), after.Spent, "spend = traced cost");
                Assert.AreEqual(0m, after.Reserved, "nothing left reserved");
            }
        }

        TestContext.WriteLine($"  reconciliation needed: {reconciled}");

        // Recovery: with the faults gone, a call is served at once.
        var recovered = await CallAsync(unlimited);
        Assert.AreEqual(200, recovered.Status, recovered.ToString());
    }

    [TestMethod]
    public async Task StoreDown_Answers503StoreUnavailable_Quickly_WithoutCallingTheProvider_ThenRecovers()
    {
        var tenant = await GatewayScenarios.TenantWithBudgetAsync(_host, new { dailyBudgetUsd = 100m });
        Assert.AreEqual(200, (await CallAsync(tenant)).Status, "served while the store is up");
        var logsBefore = _host.Logs.Lines.Count;
        var providerBefore = _openai.Count;

        foreach (var kind in new[] { FaultKind.DropBeforeForward, FaultKind.Unavailable })
        {
            _proxy.Plan = FaultPlan.Always(kind);
            var watch = Stopwatch.StartNew();
            var down = await CallAsync(tenant);
            watch.Stop();
            TestContext.WriteLine($"store down ({kind}): {down} in {watch.ElapsedMilliseconds} ms");
            Assert.AreEqual(503, down.Status, down.ToString());
            Assert.AreEqual(ErrorCodes.StoreUnavailable, down.Code);
            Assert.IsNotNull(down.RetryAfter);
            Assert.IsTrue(watch.Elapsed < TimeSpan.FromSeconds(20), $"answered within a bounded time ({watch.Elapsed})");

            // A wrapper route answers in its API's shape: OpenAI's error object, 503, Retry-After.
            using var openai = await SendOpenAIAsync(tenant);
            var body = JsonNode.Parse(await openai.Content.ReadAsStringAsync())!;
            Assert.AreEqual(503, (int)openai.StatusCode, body.ToJsonString());
            Assert.AreEqual(ErrorCodes.StoreUnavailable, body["error"]!["code"]!.GetValue<string>());
            Assert.AreEqual("server_error", body["error"]!["type"]!.GetValue<string>());
            Assert.IsNotNull(openai.Headers.RetryAfter);

            // So does a management route (not the pipeline: the error middleware).
            using var projects = await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true);
            Assert.AreEqual(503, (int)projects.StatusCode);
            Assert.AreEqual(ErrorCodes.StoreUnavailable, JsonNode.Parse(await projects.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        }

        Assert.AreEqual(providerBefore, _openai.Count, "no provider call while the store was down");

        _proxy.Plan = FaultPlan.None;
        var up = await CallAsync(tenant);
        Assert.AreEqual(200, up.Status, "served again once the store is back: " + up);
        Assert.IsFalse(_host.Logs.Lines.Skip(logsBefore).Any(l => l.StartsWith("Error KillToken.Api.Http.UnhandledErrorMiddleware", StringComparison.Ordinal)),
            "no request ended as an unhandled error");
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private sealed record Answer(Tenant Tenant, int Status, string? Code, string? RequestId, decimal CostUsd, TimeSpan? RetryAfter, string Body)
    {
        public override string ToString() => $"{Status} {Code} {Body[..Math.Min(Body.Length, 300)]}";
    }

    private static async Task<List<Answer>> BurstAsync(Tenant[] tenants, int calls)
    {
        using var gate = new SemaphoreSlim(8);
        var tasks = Enumerable.Range(0, calls).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                return await CallAsync(tenants[i % tenants.Length]);
            }
            finally
            {
                gate.Release();
            }
        });
        return [.. await Task.WhenAll(tasks)];
    }

    /// <summary>One chat call; a bare connection error (no HTTP answer) fails the test here.</summary>
    private static async Task<Answer> CallAsync(Tenant tenant)
    {
        using var response = await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "fault " + Guid.NewGuid().ToString("N")));
        var text = await response.Content.ReadAsStringAsync();
        var body = JsonNode.Parse(text)!;
        var status = (int)response.StatusCode;
        var retryAfter = response.Headers.RetryAfter?.Delta;
        return status == 200
            ? new Answer(tenant, status, null, body["metrics"]!["requestId"]!.GetValue<string>(), body["metrics"]!["costUsd"]!.GetValue<decimal>(), retryAfter, text)
            : new Answer(tenant, status, body["error"]?["code"]?.GetValue<string>(), body["error"]?["requestId"]?.GetValue<string>(), 0m, retryAfter, text);
    }

    private static Task<HttpResponseMessage> SendOpenAIAsync(Tenant tenant) =>
        tenant.SendAsync(HttpMethod.Post, "v1/openai/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });

    private sealed record Books(List<JsonNode> Traces, decimal TracedCost, long ReportedRequests, decimal ReportedCost, decimal Spent, decimal Reserved);

    private static async Task<Books> ReadBooksAsync(Tenant tenant)
    {
        var traces = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200))["data"]!.AsArray().Select(t => t!).ToList();
        var totals = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/summary"), 200))["totals"]!;
        var today = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200))["spend"]?["today"];
        return new Books(traces, traces.Sum(t => t["costUsd"]?.GetValue<decimal>() ?? 0m), totals["requests"]!.GetValue<long>(), totals["costUsd"]!.GetValue<decimal>(),
            today?["spentUsd"]?.GetValue<decimal>() ?? 0m, today?["reservedUsd"]?.GetValue<decimal>() ?? 0m);
    }
}
