using System.Text.RegularExpressions;
using KillToken.Core.Analytics;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// The real gateway on KILLTOKEN_STORE=cosmos against the emulator: sign-up → project → credential → /v1/chat →
/// /v1/requests, and what exactly one /v1/chat asks of Cosmos DB (the per-request cost of the hot path; spend without a
/// reservation and rollups are written by the counters' flush, shared by the calls of an interval; a call with an
/// idempotency key adds a create and an upsert, one with the exact cache a point read and an upsert, a project with a
/// limit the plan's read and the reservation's and settlement's patches: see CosmosGatewayBudgetTests).
/// </summary>
[TestClass]
public sealed partial class CosmosGatewayTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Chat_OnCosmos_Works_AndOneCallCostsTwoPointReadsOneQueryAndTheTraceWrite_TheFlushAPatchPerCounterAndRow()
    {
        var emulator = CosmosEmulator.Shared;
        var database = CosmosEmulator.NewDatabaseName("gateway");
        await using var upstream = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        await using var host = await GatewayHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["KILLTOKEN_STORE"] = "cosmos",
                ["COSMOS_CONNECTION_STRING"] = emulator.ConnectionString,
                ["COSMOS_DATABASE"] = database,
                ["COSMOS_ENDPOINT"] = null,
                ["AzureWebJobsStorage"] = AzuriteEmulator.Shared.ConnectionString,
                ["KEYVAULT_URI"] = null,
                ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(upstream.BaseAddress, "v1").ToString(),
                ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
            },
            services =>
            {
                services.AddSingleton<CosmosOperationCounter>();
                CosmosHeldCounters.HoldForAnHour(services);
            });
        var counter = host.Services.GetRequiredService<CosmosOperationCounter>();

        const string tenantSecret = "sk-cosmos-tenant-secret-CCCC3333";
        var tenant = await host.CreateTenantAsync("openai", tenantSecret);
        Log("sign-up + project + credential", counter);

        var chat = new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hello" } }, metadata = new { feature = "cosmos-e2e" } };

        // The first call may still warm the client's caches; the second is the steady state we pay for on every call.
        counter.Reset();
        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(chat), 200);
        await host.Services.GetRequiredService<PendingTraceWrites>().WhenWrittenAsync();
        Log("first /v1/chat", counter);

        await CosmosHeldCounters.FlushAsync(host);
        var wireBefore = await QuietWireCountAsync(emulator, database);
        counter.Reset();
        var second = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(chat), 200);
        await host.Services.GetRequiredService<PendingTraceWrites>().WhenWrittenAsync(); // the trace is written behind the answer
        var measured = counter.Operations;
        Log("one /v1/chat (measured)", counter);
        await QuietWireCountAsync(emulator, database);
        var wire = WireLines(emulator, database).Skip(wireBefore).ToList();
        counter.Reset();
        await CosmosHeldCounters.FlushAsync(host);
        var flushed = counter.Operations;
        Log("the flush of what that call left in memory", counter);
        TestContext.WriteLine($"HTTP requests the emulator answered for that /v1/chat: {wire.Count}");
        foreach (var line in wire)
        {
            TestContext.WriteLine("  " + line);
        }

        Assert.AreEqual("cosmos-e2e", second["metrics"]!["feature"]!.GetValue<string>());
        var trace = await host.Services.GetRequiredService<ITraceStore>().GetAsync(tenant.WorkspaceId, second["metrics"]!["requestId"]!.GetValue<string>());
        var rollupRows = RollupDimensions.Of(trace!).Count;
        Assert.AreEqual(
            "lookups/docs/{id}:read, workspaces/docs/{id}:read, workspaces/docs:query, traces/docs:upsert",
            string.Join(", ", measured.Select(o => $"{o.Resource}:{o.Operation}")),
            "auth = key pointer + project point reads; credential = one single-partition query; trace = one write (the record); "
            + "no limits, so no plan read and no reservation, and the spend and rollups wait in memory for the flush");
        Assert.AreEqual(2 + rollupRows, flushed.Count(o => o.Operation == "patch"),
            "the flush: one patch of the project's month document and one of the workspace's (spend), one per rollup row "
            + "(the call's cell: project, provider, model, feature; [its template]) — shared by every call of the interval");
        Assert.IsTrue(measured.Concat(flushed).All(o => o.StatusCode is >= 200 and < 300), string.Join("\n", measured.Concat(flushed)));
        Assert.AreEqual(measured.Count, wire.Count, "nothing else went over the wire (metadata is cached)");

        // The stored trace is the write that costs the most RU: its size and indexed properties drive the charge.
        using (var stored = await host.Services.GetRequiredService<CosmosStoreContext>().Traces.ReadItemStreamAsync(
            second["metrics"]!["requestId"]!.GetValue<string>(), new Microsoft.Azure.Cosmos.PartitionKey(tenant.WorkspaceId)))
        {
            using var reader = new StreamReader(stored.Content);
            var json = await reader.ReadToEndAsync();
            TestContext.WriteLine($"stored trace document: {System.Text.Encoding.UTF8.GetByteCount(json)} bytes, {System.Text.Json.JsonDocument.Parse(json).RootElement.EnumerateObject().Count()} properties");
        }

        counter.Reset();
        var requests = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=1"), 200);
        Log("one /v1/requests page", counter);
        Assert.IsTrue(counter.Operations.Skip(2).All(o => o.Resource.StartsWith("traces/", StringComparison.Ordinal)), "the list reads one workspace's traces only");
        var ids = requests["data"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).ToList();
        Assert.AreEqual(second["metrics"]!["requestId"]!.GetValue<string>(), ids.Single(), "newest first");
        var cursor = requests["nextCursor"]!.GetValue<string>();
        var older = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=1&cursor=" + cursor), 200);
        Assert.AreEqual(first["metrics"]!["requestId"]!.GetValue<string>(), older["data"]![0]!["id"]!.GetValue<string>());
        var one = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + ids[0]), 200);
        Assert.AreEqual(200, one["status"]!.GetValue<int>());
        Assert.AreEqual(400, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/requests?cursor=not-a-cursor")).StatusCode);

        var ready = await host.Client.GetAsync("ready");
        var readyBody = await ready.Content.ReadAsStringAsync();
        Assert.AreEqual(200, (int)ready.StatusCode, readyBody);
        StringAssert.Contains(readyBody, "cosmos");

        Assert.IsFalse(host.Logs.Lines.Any(l => l.Contains(tenantSecret, StringComparison.Ordinal)), "the tenant's key is never logged");
        Assert.IsFalse(host.Logs.Lines.Any(l => l.Contains(CosmosEmulator.AccountKey, StringComparison.Ordinal)), "the account key is never logged");

        await host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(database).DeleteStreamAsync();
    }

    private void Log(string title, CosmosOperationCounter counter)
    {
        TestContext.WriteLine($"--- {title}: {counter}");
        foreach (var operation in counter.Operations)
        {
            TestContext.WriteLine("    " + operation);
        }
    }

    /// <summary>
    /// The emulator logs a request after answering it, and its log reaches us asynchronously — later still when other test
    /// classes load the shared emulator: waits until no new line for the database came for 300 ms (at most 10 s).
    /// </summary>
    private static async Task<int> QuietWireCountAsync(CosmosEmulator emulator, string database)
    {
        var count = WireLines(emulator, database).Count;
        for (var (quiet, waited) = (0, 0); quiet < 300 && waited < 10_000; waited += 50)
        {
            await Task.Delay(50);
            var now = WireLines(emulator, database).Count;
            (quiet, count) = now == count ? (quiet + 50, count) : (0, now);
        }

        return count;
    }

    /// <summary>The emulator's log lines for one database: one per HTTP request it answered.</summary>
    private static List<string> WireLines(CosmosEmulator emulator, string database) =>
        [.. emulator.RequestLog.Where(l => DatabaseInPath().Match(l) is { Success: true } m && m.Groups[1].Value == database)];

    [GeneratedRegex(@"\s/dbs/([^/\s]+)")]
    private static partial Regex DatabaseInPath();
}
