using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

[TestClass]
public sealed class ChatEndpointTests
{
    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _anthropic = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    [TestMethod]
    public async Task OpenAI_RoundTrip_SendsTenantKeyAndReturnsProviderResponseUnchangedWithCost()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-openai-tenant-secret-AAAA1111");
        var fixture = Fixtures.OpenAIChatCompletion("gpt-4o-mini", prompt: 1000, completion: 500, cached: 200);
        _openai.Handler = FakeUpstream.Json(fixture);
        var before = _openai.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "openai",
            model = "gpt-4o-mini",
            messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Hello" } },
            providerOptions = new { temperature = 0.2, max_tokens = 64 },
            metadata = new { feature = "weekly-summary" },
        });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        var upstream = _openai.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        Assert.AreEqual("/v1/chat/completions", upstream.Path);
        Assert.AreEqual("Bearer sk-openai-tenant-secret-AAAA1111", upstream.Header("authorization"));
        Assert.AreEqual("gpt-4o-mini", upstream.Json["model"]!.GetValue<string>());
        Assert.AreEqual(2, upstream.Json["messages"]!.AsArray().Count);
        Assert.AreEqual(0.2, upstream.Json["temperature"]!.GetValue<double>());
        Assert.AreEqual(64, upstream.Json["max_tokens"]!.GetValue<int>());

        Assert.IsTrue(JsonNode.DeepEquals(fixture, body["response"]), "the provider response must come back unchanged");
        var metrics = body["metrics"]!;
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(500, metrics["outputTokens"]!.GetValue<long>());
        Assert.AreEqual(200, metrics["cachedInputTokens"]!.GetValue<long>());
        Assert.AreEqual(1500, metrics["totalTokens"]!.GetValue<long>());
        // gpt-4o-mini: $0.15 in, $0.075 cached in, $0.60 out per 1M → 800*0.15 + 200*0.075 + 500*0.60 = 435 µ$.
        Assert.AreEqual(0.000435m, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("priced", metrics["costStatus"]!.GetValue<string>());
        Assert.AreEqual("measure_only", metrics["optimizationMode"]!.GetValue<string>());
        Assert.AreEqual("weekly-summary", metrics["feature"]!.GetValue<string>());
        Assert.IsFalse(metrics["wasFallback"]!.GetValue<bool>());
        foreach (var name in new[] { "requestId", "provider", "model", "finalModel", "wasteTokens", "savedTokens", "savedUsd", "cacheStatus", "idempotency", "latencyMs", "providerLatencyMs", "overheadMs", "templateId" })
        {
            Assert.IsTrue(metrics.AsObject().ContainsKey(name), $"metrics.{name} is part of the contract");
        }
    }

    [TestMethod]
    public async Task Anthropic_RoundTrip_TranslatesSystemAndPricesCacheReadsAndWrites()
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-tenant-secret-BBBB2222");
        _anthropic.Handler = FakeUpstream.Json(Fixtures.AnthropicMessage("claude-3-5-haiku-20241022", input: 100, output: 50, cacheRead: 1000, cacheWrite: 400));
        var before = _anthropic.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "anthropic",
            model = "claude-3-5-haiku-20241022",
            messages = new object[] { new { role = "system", content = "You are terse." }, new { role = "user", content = "Hi" } },
            providerOptions = new { max_tokens = 300, stop = "END" },
        });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        var upstream = _anthropic.Requests[before];
        Assert.AreEqual("/v1/messages", upstream.Path);
        Assert.AreEqual("sk-ant-tenant-secret-BBBB2222", upstream.Header("x-api-key"));
        Assert.AreEqual("2023-06-01", upstream.Header("anthropic-version"));
        Assert.IsNull(upstream.Header("authorization"));
        Assert.AreEqual("You are terse.", upstream.Json["system"]!.GetValue<string>());
        Assert.AreEqual(1, upstream.Json["messages"]!.AsArray().Count, "system leaves the messages array");
        Assert.AreEqual(300, upstream.Json["max_tokens"]!.GetValue<int>());
        Assert.AreEqual("END", upstream.Json["stop_sequences"]![0]!.GetValue<string>());

        var metrics = body["metrics"]!;
        Assert.AreEqual(1500, metrics["inputTokens"]!.GetValue<long>(), "input + cache reads + cache writes");
        Assert.AreEqual(1000, metrics["cachedInputTokens"]!.GetValue<long>());
        // claude-3-5-haiku: $0.80 in, $0.08 cache read, $1.00 cache write, $4.00 out → 80 + 80 + 400 + 200 = 760 µ$.
        Assert.AreEqual(0.00076m, metrics["costUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    public async Task OpenAICompatible_UsesTheCredentialsBaseUrl()
    {
        var tenant = await _host.CreateTenantAsync(credential: new
        {
            provider = "openai_compatible",
            apiKey = "local-model-key-123456",
            config = new { baseUrl = new Uri(_openai.BaseAddress, "custom/v1").ToString() },
        });
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion("llama-3.1-8b"));
        var before = _openai.Count;

        var response = await tenant.ChatAsync(new { provider = "openai_compatible", model = "llama-3.1-8b", messages = new[] { new { role = "user", content = "hi" } } });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual("/custom/v1/chat/completions", _openai.Requests[before].Path);
        Assert.AreEqual("unpriced", body["metrics"]!["costStatus"]!.GetValue<string>(), "an unknown model is unpriced, never $0");
        Assert.IsNull(body["metrics"]!["costUsd"]);
    }

    [TestMethod]
    public async Task FeatureTag_BodyBeatsHeader_TrimmedCappedAndUntaggedByDefault()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var messages = new[] { new { role = "user", content = "hi" } };

        var header = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o", messages }, featureHeader: "  support-bot "), 200);
        var both = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o", messages, metadata = new { feature = "body-wins" } }, "header-loses"), 200);
        var longTag = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o", messages, metadata = new { feature = new string('f', 120) } }), 200);
        var none = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o", messages }), 200);

        Assert.AreEqual("support-bot", header["metrics"]!["feature"]!.GetValue<string>());
        Assert.AreEqual("body-wins", both["metrics"]!["feature"]!.GetValue<string>());
        Assert.AreEqual(80, longTag["metrics"]!["feature"]!.GetValue<string>().Length);
        Assert.AreEqual("(untagged)", none["metrics"]!["feature"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task EveryRequest_IsTraced_AndListedWithFiltersAndCursor()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        for (var i = 0; i < 5; i++)
        {
            var ok = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = $"private-question-{i}" } }, metadata = new { feature = i % 2 == 0 ? "even" : "odd" } });
            Assert.AreEqual(200, (int)ok.StatusCode);
        }

        var rejected = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = Array.Empty<object>() });
        Assert.AreEqual(400, (int)rejected.StatusCode);

        var seen = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var page = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)), 200);
            seen.AddRange(page["data"]!.AsArray()!);
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        Assert.AreEqual(6, seen.Count);
        Assert.AreEqual(6, seen.Select(t => t["id"]!.GetValue<string>()).Distinct().Count(), "pages neither repeat nor skip");
        Assert.AreEqual("invalid_messages", seen[0]["errorCode"]!.GetValue<string>(), "newest first, failures traced with their code");

        var even = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?feature=even"), 200);
        Assert.AreEqual(3, even["data"]!.AsArray().Count);

        var one = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + seen[1]["id"]!.GetValue<string>()), 200);
        Assert.AreEqual(200, one["status"]!.GetValue<int>());
        Assert.IsFalse(one.ToJsonString().Contains("private-question", StringComparison.Ordinal), "traces never hold prompt text");

        var badCursor = await tenant.SendAsync(HttpMethod.Get, "v1/requests?cursor=not-a-cursor");
        Assert.AreEqual(400, (int)badCursor.StatusCode);
    }
}
