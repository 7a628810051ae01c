using System.Globalization;
using System.Text;
using KillToken.Storage.Cosmos;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// What one <c>/v1/chat</c> costs on Cosmos DB in request units: the gateway on the emulator, each call shape made
/// <see cref="CallsPerWindow"/> times within one counter flush, every operation counted (<see cref="CosmosOperationCounter"/>)
/// and priced with the published costs (<see cref="CosmosRequestUnitPrices"/>), the flush's operations shared by the
/// calls it wrote. The issue's targets: ≤ 20 RU for a plain call of a project without limits, ≤ 30 with a budget.
/// </summary>
[TestClass]
public sealed class CosmosRequestUnitTests
{
    /// <summary>Calls of one shape inside one flush interval: 10 calls a second per workspace and cell.</summary>
    private const int CallsPerWindow = 10;

    public TestContext TestContext { get; set; } = null!;

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static string _database = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _database = CosmosEmulator.NewDatabaseName("request-units");
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
    public async Task PlainCall_CostsAtMostTwentyRequestUnits_AndABudgetedOne_AtMostThirty()
    {
        var plain = await _host.CreateTenantAsync();
        var budgeted = await GatewayScenarios.TenantWithBudgetAsync(_host, new { monthlyBudgetUsd = 100m });
        var table = new StringBuilder("| call shape | operations per call | RU per call |\n|---|---|---|\n");

        var plainRu = await MeasureAsync(table, "plain, project without limits", plain, i => ChatAsync(plain, GatewayScenarios.Chat("gpt-4o-mini", "plain " + i)));
        var budgetRu = await MeasureAsync(table, "project with a monthly budget", budgeted, i => ChatAsync(budgeted, GatewayScenarios.Chat("gpt-4o-mini", "budget " + i)));
        await MeasureAsync(table, "exact-cache hit (read_write), no limits", plain, _ => ChatAsync(plain, GatewayScenarios.Chat("gpt-4o-mini", "cached", cache: "read_write")));
        var key = "replay-" + Guid.NewGuid().ToString("N");
        await MeasureAsync(table, "idempotent replay, no limits", plain, _ => ChatAsync(plain, GatewayScenarios.Chat("gpt-4o-mini", "replayed", idempotencyKey: key)));
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream());
        try
        {
            await MeasureAsync(table, "streamed, no limits", plain, async i =>
            {
                using var response = await SseTestKit.SendStreamingAsync(plain, "v1/chat", new
                {
                    provider = "openai",
                    model = "gpt-4o-mini",
                    messages = new[] { new { role = "user", content = "streamed " + i } },
                    stream = true,
                });
                Assert.AreEqual(200, (int)response.StatusCode);
                await SseTestKit.ReadAllAsync(response);
            });
        }
        finally
        {
            _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        }

        TestContext.WriteLine(table.ToString());
        Assert.IsTrue(plainRu <= 20, $"a plain call costs {plainRu:0.0} RU");
        Assert.IsTrue(budgetRu <= 30, $"a budgeted call costs {budgetRu:0.0} RU");
    }

    private static async Task ChatAsync(Tenant tenant, object body) => await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(body), 200);

    /// <summary>
    /// Warms the shape up once (the month's budget document, the day's rollup rows, the client's caches), then makes
    /// <see cref="CallsPerWindow"/> calls, flushes the counters held in memory and prices everything counted.
    /// </summary>
    private async Task<double> MeasureAsync(StringBuilder table, string shape, Tenant tenant, Func<int, Task> call)
    {
        var counter = _host.Services.GetRequiredService<CosmosOperationCounter>();
        await call(-1);
        await QuietAsync(counter);
        await FlushAsync();
        await QuietAsync(counter);

        counter.Reset();
        for (var i = 0; i < CallsPerWindow; i++)
        {
            await call(i);
        }

        await QuietAsync(counter); // the budget alert check runs after the answer
        var calls = counter.Operations;
        await FlushAsync();
        await QuietAsync(counter);
        var all = counter.Operations;
        var patched = await LargestPatchedDocumentAsync(tenant);
        var ru = all.Sum(o => CosmosRequestUnitPrices.Of(o, patched)) / CallsPerWindow;

        TestContext.WriteLine($"--- {shape}: {CallsPerWindow} calls, then the flush; patched documents priced at {patched} B");
        foreach (var group in all.GroupBy(o => o.Key))
        {
            var inCalls = calls.Count(o => o.Key == group.Key);
            TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    {group.Count(),3} x {group.Key} ({inCalls} in the calls, {group.Count() - inCalls} in the flush), {group.Sum(o => CosmosRequestUnitPrices.Of(o, patched)) / CallsPerWindow:0.00} RU per call; sizes {string.Join(",", group.Select(o => o.Operation is "read" or "query" ? o.ResponseBytes : o.RequestBytes).Distinct())} B"));
        }

        table.AppendLine(CultureInfo.InvariantCulture, $"| {shape} | {(double)all.Count / CallsPerWindow:0.0} | {ru:0.0} |");
        return ru;
    }

    /// <summary>Writes the counters this instance holds in memory now, as its timer would within a second.</summary>
    private static Task FlushAsync() => _host.Services.GetRequiredService<CosmosDeferredCounters>().FlushAsync();

    /// <summary>The larger of the tenant's month budget document and its rollup rows: what a patch is priced at.</summary>
    private static async Task<long> LargestPatchedDocumentAsync(Tenant tenant)
    {
        var container = _host.Services.GetRequiredService<CosmosStoreContext>().Workspaces;
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND (c.type = 'budget' OR c.type = 'rollup')")
            .WithParameter("@ws", tenant.WorkspaceId);
        long largest = 0;
        using var iterator = container.GetItemQueryStreamIterator(query, requestOptions: new QueryRequestOptions { PartitionKey = new PartitionKey(tenant.WorkspaceId) });
        while (iterator.HasMoreResults)
        {
            using var page = await iterator.ReadNextAsync();
            page.EnsureSuccessStatusCode();
            using var json = await System.Text.Json.JsonDocument.ParseAsync(page.Content);
            foreach (var document in json.RootElement.GetProperty("Documents").EnumerateArray())
            {
                largest = Math.Max(largest, Encoding.UTF8.GetByteCount(document.GetRawText()));
            }
        }

        return largest;
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
