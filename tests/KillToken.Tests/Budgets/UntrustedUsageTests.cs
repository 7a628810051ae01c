using System.Text.Json.Nodes;
using KillToken.Core.Optimization;
using KillToken.Core.Providers;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Budgets;

/// <summary>
/// Issue 10: usage figures are untrusted input — an <c>openai_compatible</c> endpoint is the workspace's own. A priced
/// call whose answer has no usage, or usage whose figures are invalid (negative, fractional, strings, booleans, null,
/// absurdly large), is charged its worst case — the maximum its budget reservation holds: input estimate + output cap
/// at the model's prices — with <c>costStatus: "estimated"</c>; spend never goes down and such an endpoint cannot
/// spend a budget for free. The provider's answer still reaches the client.
/// </summary>
[TestClass]
public sealed class UntrustedUsageTests
{
    private const string HouseModel = "house-model";
    private const decimal InputPrice = 2.00m;  // per 1M tokens, the workspace's negotiated price for its own endpoint
    private const decimal OutputPrice = 8.00m;
    private const int OutputCap = 1000;
    private const string Prompt = "Summarize the quarterly report in two sentences.";

    private static FakeUpstream _upstream = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _upstream = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_upstream.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    /// <summary>The prompt's estimate as the gateway makes it for the reservation (one user message).</summary>
    private static long InputEstimate { get; } = TokenEstimator.EstimateMessages([new JsonObject { ["role"] = "user", ["content"] = Prompt }]);

    /// <summary>Input estimate + output cap at the house model's prices: what the reservation holds and what such a call is charged.</summary>
    private static decimal WorstCase { get; } = Math.Round(((InputEstimate * InputPrice) + (OutputCap * OutputPrice)) / 1_000_000m, 10);

    /// <summary>A workspace whose own OpenAI-compatible endpoint is the fake upstream, with a negotiated price for its model.</summary>
    private static async Task<Tenant> WorkspaceAsync(object? budget = null, bool priced = true)
    {
        var tenant = await _host.CreateTenantAsync("openai_compatible", credential: new
        {
            provider = "openai_compatible",
            apiKey = "sk-house-endpoint-0123456789",
            config = new { baseUrl = new Uri(_upstream.BaseAddress, "compat/v1").ToString() },
        });
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials",
            new { provider = "openai", apiKey = "sk-openai-untrusted-usage-0123" }, session: true), 201);
        if (priced)
        {
            await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Put, $"api/workspaces/{tenant.WorkspaceId}/pricing",
                new { models = new[] { new { provider = "openai_compatible", model = HouseModel, input = InputPrice, output = OutputPrice } } }, session: true), 200);
        }

        if (budget is not null)
        {
            await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", budget, session: true), 200);
        }

        return tenant;
    }

    private static object Chat(string provider = "openai_compatible", string model = HouseModel, bool stream = false, string? cache = null) => new
    {
        provider,
        model,
        messages = new[] { new { role = "user", content = Prompt } },
        providerOptions = new { max_tokens = OutputCap },
        stream,
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    /// <summary>A chat completion whose <c>usage</c> member is exactly <paramref name="usageMember"/> (or absent when null).</summary>
    private static string Completion(string? usageMember, string model = HouseModel) =>
        "{\"id\":\"chatcmpl-untrusted\",\"object\":\"chat.completion\",\"created\":1741570283,\"model\":\"" + model + "\"," +
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Revenue grew; costs fell.\"},\"finish_reason\":\"stop\"}]" +
        (usageMember is null ? "" : ",\"usage\":" + usageMember) + "}";

    private static Func<HttpContext, UpstreamRequest, Task> Answer(string body) => async (context, _) =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body);
    };

    private static async Task<(decimal Spent, decimal Reserved)> SpendAsync(Tenant tenant)
    {
        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        var today = project["spend"]!["today"]!;
        return (today["spentUsd"]!.GetValue<decimal>(), today["reservedUsd"]!.GetValue<decimal>());
    }

    private static void AssertEstimated(JsonNode metrics, string because)
    {
        Assert.AreEqual("estimated", metrics["costStatus"]!.GetValue<string>(), because);
        Assert.AreEqual(WorstCase, metrics["costUsd"]!.GetValue<decimal>(), because + ": charged the reservation's maximum");
        Assert.AreEqual(InputEstimate, metrics["inputTokens"]!.GetValue<long>(), because + ": the input estimate is the count");
        Assert.AreEqual(OutputCap, metrics["outputTokens"]!.GetValue<long>(), because + ": the output cap is the count");
        Assert.AreEqual(0, metrics["cachedInputTokens"]!.GetValue<long>(), because);
        Assert.AreEqual(InputEstimate + OutputCap, metrics["totalTokens"]!.GetValue<long>(), because);
    }

    [TestMethod]
    [DataRow("{\"prompt_tokens\":-4500000,\"completion_tokens\":10,\"total_tokens\":-4499990}", DisplayName = "negative prompt count")]
    [DataRow("{\"prompt_tokens\":12,\"completion_tokens\":-2000}", DisplayName = "negative completion count")]
    [DataRow("{\"prompt_tokens\":\"12\",\"completion_tokens\":\"5\",\"total_tokens\":\"17\"}", DisplayName = "counts as strings")]
    [DataRow("{\"prompt_tokens\":null,\"completion_tokens\":null,\"total_tokens\":null}", DisplayName = "counts null")]
    [DataRow("{\"prompt_tokens\":1.5,\"completion_tokens\":1.5,\"total_tokens\":3}", DisplayName = "fractional counts")]
    [DataRow("{\"prompt_tokens\":true,\"completion_tokens\":false}", DisplayName = "counts as booleans")]
    [DataRow("{\"prompt_tokens\":1e12,\"completion_tokens\":1}", DisplayName = "absurdly large count (1e12)")]
    [DataRow("{\"prompt_tokens\":100000001,\"completion_tokens\":1}", DisplayName = "one past the bound")]
    [DataRow("{\"prompt_tokens\":12,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":-1000000}}", DisplayName = "negative optional cached count")]
    [DataRow("{\"completion_tokens\":5}", DisplayName = "required prompt count missing")]
    [DataRow("{}", DisplayName = "empty usage")]
    [DataRow("null", DisplayName = "usage null")]
    [DataRow("\"lots\"", DisplayName = "usage a string")]
    [DataRow(null, DisplayName = "no usage at all")]
    public async Task InvalidOrMissingUsage_IsChargedTheWorstCase_SpendOnlyGrows(string? usage)
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 100m });

        // A valid call first, so there is spend a bad figure could lower.
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500}"));
        var valid = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        Assert.AreEqual("priced", valid["metrics"]!["costStatus"]!.GetValue<string>(), "valid usage is trusted as before");
        Assert.AreEqual(0.006m, valid["metrics"]!["costUsd"]!.GetValue<decimal>(), "1000 × $2/M + 500 × $8/M");
        var (spentBefore, _) = await SpendAsync(tenant);
        Assert.AreEqual(0.006m, spentBefore);

        var body = Completion(usage);
        _upstream.Handler = Answer(body);
        var response = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        Assert.AreEqual(JsonNode.Parse(body)!.ToJsonString(), response["response"]!.ToJsonString(), "the provider's answer still reaches the client, unchanged");
        AssertEstimated(response["metrics"]!, "metrics");
        var trace = await SseTestKit.WaitForTraceAsync(tenant, response["metrics"]!["requestId"]!.GetValue<string>());
        AssertEstimated(trace, "trace");
        var (spent, reserved) = await SpendAsync(tenant);
        Assert.AreEqual(spentBefore + WorstCase, spent, "the budget settles the worst case: the reservation is kept as spend");
        Assert.AreEqual(0m, reserved);
    }

    [TestMethod]
    public async Task TheNegativeCountIncident_OnOpenAI_NoLongerLowersSpend()
    {
        // gpt-4o-mini input at $0.15/M: -4,500,000 prompt tokens was -$0.675, which reopened a spent budget.
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1.00m });
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":0,\"completion_tokens\":1000000,\"total_tokens\":1000000}", "gpt-4o-mini"));
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new
        {
            provider = "openai",
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = Prompt } },
            providerOptions = new { max_tokens = 1_000_000 },
        }), 200);
        var (spentBefore, _) = await SpendAsync(tenant);
        Assert.AreEqual(0.60m, spentBefore);

        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":-4500000,\"completion_tokens\":1,\"total_tokens\":-4499999}", "gpt-4o-mini"));
        var response = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("openai", "gpt-4o-mini")), 200);

        var metrics = response["metrics"]!;
        // gpt-4o-mini's prompt is counted exactly (o200k), not estimated as the house endpoint's is.
        var input = TokenCounter.For(ProviderId.OpenAI, "gpt-4o-mini").CountMessages([new JsonObject { ["role"] = "user", ["content"] = Prompt }]);
        var worst = Math.Round(((input * 0.15m) + (OutputCap * 0.60m)) / 1_000_000m, 10);
        Assert.AreEqual("estimated", metrics["costStatus"]!.GetValue<string>());
        Assert.AreEqual(worst, metrics["costUsd"]!.GetValue<decimal>());
        Assert.IsTrue(metrics["inputTokens"]!.GetValue<long>() >= 0);
        var (spent, _) = await SpendAsync(tenant);
        Assert.AreEqual(Math.Round(spentBefore + worst, 6), spent, "spend grows by the worst case, never down (project reads show µ$)");
    }

    [TestMethod]
    public async Task DuplicateUsageKeys_AreABrokenAnswer_NeverA500()
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m });
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":12,\"prompt_tokens\":-4500000,\"completion_tokens\":5}"));

        var response = await tenant.ChatAsync(Chat());
        var text = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(502, (int)response.StatusCode, text);
        Assert.AreEqual("provider_error", JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
        var (spent, reserved) = await SpendAsync(tenant);
        Assert.IsTrue(spent >= 0m);
        Assert.AreEqual(0m, reserved);
    }

    [TestMethod]
    public async Task AnEndpointThatNeverReportsUsage_SpendsItsBudget_AndIsThenRefused()
    {
        // Each call is charged its worst case (~$0.008): two fit in $0.02, the third is refused without reaching the endpoint.
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 0.02m });
        _upstream.Handler = Answer(Completion(null));

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        var before = _upstream.Count;
        var third = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 429);

        Assert.AreEqual("budget_exceeded", third["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual(before, _upstream.Count);
        var (spent, reserved) = await SpendAsync(tenant);
        Assert.AreEqual(2 * WorstCase, spent);
        Assert.AreEqual(0m, reserved);
    }

    [TestMethod]
    public async Task WithoutLimits_TheWorstCaseIsStillCharged()
    {
        var tenant = await WorkspaceAsync();
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":-100,\"completion_tokens\":-100}"));

        var response = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        AssertEstimated(response["metrics"]!, "no limits");
        Assert.AreEqual(WorstCase, (await SpendAsync(tenant)).Spent, "spend is counted without limits too");
    }

    [TestMethod]
    public async Task UnpricedModel_StaysUnpriced_WithNoCostAndNoNegativeCounts()
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m }, priced: false);
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":-100,\"completion_tokens\":\"7\"}"));

        var response = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        var metrics = response["metrics"]!;
        Assert.AreEqual("unpriced", metrics["costStatus"]!.GetValue<string>());
        Assert.IsNull(metrics["costUsd"]);
        Assert.IsTrue(metrics["inputTokens"]!.GetValue<long>() >= 0);
        Assert.IsTrue(metrics["outputTokens"]!.GetValue<long>() >= 0);
        Assert.AreEqual(0m, (await SpendAsync(tenant)).Spent);
    }

    [TestMethod]
    public async Task AnEstimatedAnswer_ServedFromTheCache_IsFree()
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m });
        _upstream.Handler = Answer(Completion("{\"prompt_tokens\":-1,\"completion_tokens\":-1}"));

        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat(cache: "read_write")), 200);
        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat(cache: "read_write")), 200);

        AssertEstimated(first["metrics"]!, "the call");
        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("free", hit["metrics"]!["costStatus"]!.GetValue<string>());
        Assert.AreEqual(0m, hit["metrics"]!["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual(WorstCase, (await SpendAsync(tenant)).Spent, "only the call was charged");
    }

    [TestMethod]
    [DataRow(-100000, 5, true, DisplayName = "negative prompt count in the final usage chunk")]
    [DataRow(9, -12, true, DisplayName = "negative completion count in the final usage chunk")]
    [DataRow(9, 12, false, DisplayName = "no usage chunk")]
    public async Task Stream_WhoseFinalUsageIsInvalidOrMissing_IsChargedTheWorstCase(int prompt, int completion, bool usageChunk)
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m });
        _upstream.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(HouseModel, prompt: prompt, completion: completion, usageChunk: usageChunk));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(stream: true));
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual(200, (int)response.StatusCode);
        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(events), "the stream still reaches the client");
        Assert.AreEqual("killtoken.metrics", events[^1].Name);
        AssertEstimated(events[^1].Json, "stream metrics");
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        AssertEstimated(trace, "stream trace");
        Assert.AreEqual(200, trace["status"]!.GetValue<int>());
        var (spent, reserved) = await SpendAsync(tenant);
        Assert.AreEqual(WorstCase, spent);
        Assert.AreEqual(0m, reserved);
    }

    [TestMethod]
    public async Task Stream_WhoseUsageChunkNamesACountTwice_IsChargedTheWorstCase_NeverA500()
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m });
        var events = SseTestKit.OpenAIStream(HouseModel, usageChunk: false);
        events.Insert(events.Count - 1, "data: {\"id\":\"chatcmpl-dup\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"prompt_tokens\":-4500000,\"completion_tokens\":3}}\n\n");
        _upstream.Handler = SseTestKit.Serve(events);

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(stream: true));
        var received = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual(200, (int)response.StatusCode);
        AssertEstimated(received[^1].Json, "stream metrics");
        Assert.AreEqual(WorstCase, (await SpendAsync(tenant)).Spent);
    }

    [TestMethod]
    public async Task Stream_CutShortAfterAnInvalidUsageChunk_IsChargedTheWorstCase()
    {
        var tenant = await WorkspaceAsync(new { dailyBudgetUsd = 1m });
        _upstream.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(HouseModel, prompt: -100000, completion: -100000, done: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(stream: true));
        await SseTestKit.ReadAllAsync(response);

        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>(), "a stream without its terminator is a failure");
        AssertEstimated(trace, "failed stream trace");
        Assert.AreEqual(WorstCase, (await SpendAsync(tenant)).Spent);
    }
}
