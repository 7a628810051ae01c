using System.ClientModel;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using OpenAI.Chat;
using OpenAI.Models;

namespace KillToken.Tests.Wrappers;

/// <summary>
/// <c>/v1/openai</c> (§2): the official OpenAI .NET SDK works against it unchanged — answers, metrics, typed errors —
/// and <c>x-killtoken-provider</c> puts another provider behind the same OpenAI shapes.
/// </summary>
[TestClass]
public sealed class OpenAIWrapperTests
{
    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static FakeUpstream _gemini = null!;
    private static GatewayHost _host = null!;
    private static ProviderTrio _trio = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _trio = await ProviderTrio.StartAsync();
        (_openai, _anthropic, _gemini, _host) = (_trio.OpenAI, _trio.Anthropic, _trio.Gemini, _trio.Host);
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _trio.DisposeAsync();

    [TestMethod]
    public async Task DotNetSdk_CompleteChat_GetsTheProvidersAnswer_WithMetricsInBodyAndHeader()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-openai-wrapper-secret-0001");
        var fixture = Fixtures.OpenAIChatCompletion("gpt-4o-mini", prompt: 1000, completion: 500, content: "Hi from the wrapper");
        _openai.Handler = FakeUpstream.Json(fixture);
        var before = _openai.Count;
        var client = WrapperTestKit.OpenAIChat(_host, tenant.ApiKey, headers: new() { ["x-killtoken-feature"] = "sdk-test" });

        var result = await client.CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello")],
            new ChatCompletionOptions { Temperature = 0.2f, MaxOutputTokenCount = 64 });

        ChatCompletion completion = result;
        Assert.AreEqual("Hi from the wrapper", completion.Content[0].Text);
        Assert.AreEqual(ChatFinishReason.Stop, completion.FinishReason);
        Assert.AreEqual(1000, completion.Usage.InputTokenCount);

        var upstream = _openai.Requests[before];
        Assert.AreEqual("/v1/chat/completions", upstream.Path);
        Assert.AreEqual("Bearer sk-openai-wrapper-secret-0001", upstream.Header("authorization"), "the workspace's own key goes upstream, never the KillToken key");
        Assert.AreEqual("gpt-4o-mini", upstream.Json["model"]!.GetValue<string>());
        Assert.AreEqual(2, upstream.Json["messages"]!.AsArray().Count);
        Assert.AreEqual(64, upstream.Json["max_completion_tokens"]!.GetValue<int>());

        var raw = result.GetRawResponse();
        var body = JsonNode.Parse(raw.Content.ToString())!.AsObject();
        var metrics = body["killtoken"]!["metrics"]!;
        Assert.AreEqual(0.00045m, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("sdk-test", metrics["feature"]!.GetValue<string>());
        Assert.IsTrue(raw.Headers.TryGetValue("x-killtoken-metrics", out var header));
        Assert.AreEqual(metrics["requestId"]!.GetValue<string>(), JsonNode.Parse(header!)!["requestId"]!.GetValue<string>());
        body.Remove("killtoken");
        Assert.IsTrue(JsonNode.DeepEquals(fixture, body), "apart from killtoken.metrics the provider's answer is unchanged");

        var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + metrics["requestId"]!.GetValue<string>()), 200);
        Assert.AreEqual("openai", trace["endpoint"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task DotNetSdk_RaisesTypedErrors_401_429_400()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var broke = await WrapperTestKit.TenantWithoutBudgetAsync(_host, "openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;
        ChatMessage[] hello = [new UserChatMessage("Hello")];

        var unauthorized = await Assert.ThrowsExactlyAsync<ClientResultException>(() =>
            WrapperTestKit.OpenAIChat(_host, "kt_live_" + new string('x', 40)).CompleteChatAsync(hello));
        var overBudget = await Assert.ThrowsExactlyAsync<ClientResultException>(() =>
            WrapperTestKit.OpenAIChat(_host, broke.ApiKey).CompleteChatAsync(hello));
        var noCredential = await Assert.ThrowsExactlyAsync<ClientResultException>(() =>
            WrapperTestKit.OpenAIChat(_host, tenant.ApiKey, "claude-3-5-haiku-latest", new() { ["x-killtoken-provider"] = "anthropic" }).CompleteChatAsync(hello));

        Assert.AreEqual(401, unauthorized.Status);
        Assert.AreEqual(429, overBudget.Status);
        Assert.AreEqual(400, noCredential.Status);
        Assert.AreEqual(before, _openai.Count, "no refused call reached the provider");

        var error = JsonNode.Parse(overBudget.GetRawResponse()!.Content.ToString())!["error"]!;
        Assert.AreEqual("insufficient_quota", error["type"]!.GetValue<string>());
        Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>());
        Assert.AreEqual("daily", error["scope"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Errors_AreInOpenAIsShape()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var broke = await WrapperTestKit.TenantWithoutBudgetAsync(_host, "openai");
        var hello = new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } };

        var unauthorized = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", hello, bearer: "kt_live_" + new string('y', 40));
        var badMessages = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", new { model = "gpt-4o-mini", messages = "hi" }, bearer: tenant.ApiKey);
        var overBudget = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", hello, bearer: broke.ApiKey);

        var e401 = (await GatewayHost.ReadJsonAsync(unauthorized, 401))["error"]!.AsObject();
        Assert.AreEqual("invalid_request_error", e401["type"]!.GetValue<string>());
        Assert.AreEqual("invalid_api_key", e401["code"]!.GetValue<string>());
        Assert.IsTrue(e401.ContainsKey("param") && e401["param"] is null);
        Assert.IsFalse(string.IsNullOrEmpty(e401["message"]!.GetValue<string>()));

        var e400 = (await GatewayHost.ReadJsonAsync(badMessages, 400))["error"]!;
        Assert.AreEqual("invalid_request_error", e400["type"]!.GetValue<string>());
        Assert.AreEqual("invalid_messages", e400["code"]!.GetValue<string>());
        Assert.AreEqual("messages", e400["param"]!.GetValue<string>());

        var e429 = (await GatewayHost.ReadJsonAsync(overBudget, 429))["error"]!;
        Assert.AreEqual("insufficient_quota", e429["type"]!.GetValue<string>());
        Assert.AreEqual("false", overBudget.Headers.GetValues("x-should-retry").Single(), "the SDKs must not retry a spent budget");
        Assert.IsNull(overBudget.Headers.RetryAfter, "a Retry-After of hours would hold SDKs that honour it");
        Assert.AreEqual(e429["requestId"]!.GetValue<string>(), overBudget.Headers.GetValues("x-request-id").Single());
    }

    [TestMethod]
    public async Task FeatureTag_MetadataFeatureBeatsHeader_AndIsNotSentUpstream()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;

        var both = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", new
        {
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = "hi" } },
            metadata = new { feature = "body-wins", customer = "acme" },
            store = true,
        }, new() { ["x-killtoken-feature"] = "header-loses" }, tenant.ApiKey);
        var headerOnly = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", new
        {
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = "hi" } },
        }, new() { ["x-killtoken-feature"] = "from-header" }, tenant.ApiKey);

        Assert.AreEqual("body-wins", (await GatewayHost.ReadJsonAsync(both, 200))["killtoken"]!["metrics"]!["feature"]!.GetValue<string>());
        Assert.AreEqual("from-header", WrapperTestKit.MetricsHeader(headerOnly)["feature"]!.GetValue<string>());
        var sent = _openai.Requests[before].Json;
        Assert.AreEqual("{\"customer\":\"acme\"}", sent["metadata"]!.ToJsonString(), "OpenAI's own metadata passes, KillToken's tag does not");
        Assert.IsTrue(sent["store"]!.GetValue<bool>());
        Assert.IsFalse(_openai.Requests[before + 1].Json.ContainsKey("metadata"));
    }

    [TestMethod]
    public async Task AFeatureTagInAnyLanguage_IsAnswered_WithTheMetricsHeaderStillASCII()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());

        var response = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", new
        {
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = "hi" } },
            metadata = new { feature = "résumé-écrit 日本" },
        }, null, tenant.ApiKey);

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual("résumé-écrit 日本", body["killtoken"]!["metrics"]!["feature"]!.GetValue<string>());
        var header = response.Headers.GetValues("x-killtoken-metrics").Single();
        Assert.IsTrue(header.All(char.IsAscii), header);
        Assert.AreEqual("résumé-écrit 日本", WrapperTestKit.MetricsHeader(response)["feature"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task IdempotencyAndCacheHeaders_ReplayAndHit_WithoutAnotherProviderCall()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;
        var key = "wrap-" + Guid.NewGuid().ToString("N");
        object Body(string content) => new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content } } };

        var first = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("once"), new() { ["x-killtoken-idempotency-key"] = key }, tenant.ApiKey);
        var twin = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("once"), new() { ["x-killtoken-idempotency-key"] = key }, tenant.ApiKey);
        var reused = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("different"), new() { ["x-killtoken-idempotency-key"] = key }, tenant.ApiKey);
        Assert.AreEqual(200, (int)first.StatusCode);
        Assert.AreEqual("replayed", WrapperTestKit.MetricsHeader(twin)["idempotency"]!.GetValue<string>());
        Assert.AreEqual("idempotency_key_reused", (await GatewayHost.ReadJsonAsync(reused, 409))["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual(before + 1, _openai.Count);

        var miss = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("cache me"), new() { ["x-killtoken-cache"] = "read_write" }, tenant.ApiKey);
        var hit = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("cache me"), new() { ["x-killtoken-cache"] = "read_write" }, tenant.ApiKey);
        Assert.AreEqual("miss", WrapperTestKit.MetricsHeader(miss)["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("hit", WrapperTestKit.MetricsHeader(hit)["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(before + 2, _openai.Count);

        var bad = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", Body("x"), new() { ["x-killtoken-cache"] = "sometimes" }, tenant.ApiKey);
        Assert.AreEqual("invalid_cache_policy", (await GatewayHost.ReadJsonAsync(bad, 400))["error"]!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task AnthropicBehindTheOpenAIShape_RequestAndAnswerTranslatedBothWays()
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-wrapper-secret-0002");
        var answer = Fixtures.AnthropicMessage("claude-3-5-haiku-20241022", input: 100, output: 50, cacheRead: 20);
        answer["content"] = new JsonArray(
            new JsonObject { ["type"] = "text", ["text"] = "Let me look that up." },
            new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_01A09q90qw90lq917835lq9", ["name"] = "get_weather", ["input"] = new JsonObject { ["city"] = "Paris" } });
        answer["stop_reason"] = "tool_use";
        _anthropic.Handler = FakeUpstream.Json(answer);
        var before = _anthropic.Count;
        var client = WrapperTestKit.OpenAIChat(_host, tenant.ApiKey, "claude-3-5-haiku-20241022", new() { ["x-killtoken-provider"] = "anthropic" });
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 200 };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}")));

        ChatCompletion completion = await client.CompleteChatAsync([new SystemChatMessage("You are terse."), new UserChatMessage("Weather in Paris?")], options);

        var upstream = _anthropic.Requests[before];
        Assert.AreEqual("/v1/messages", upstream.Path);
        Assert.AreEqual("sk-ant-wrapper-secret-0002", upstream.Header("x-api-key"));
        Assert.AreEqual("You are terse.", upstream.Json["system"]!.GetValue<string>());
        Assert.AreEqual(200, upstream.Json["max_tokens"]!.GetValue<int>());
        Assert.AreEqual("get_weather", upstream.Json["tools"]![0]!["name"]!.GetValue<string>());
        Assert.AreEqual("object", upstream.Json["tools"]![0]!["input_schema"]!["type"]!.GetValue<string>(), "OpenAI tools become Anthropic tools");

        Assert.AreEqual(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.AreEqual("Let me look that up.", completion.Content[0].Text);
        Assert.AreEqual("get_weather", completion.ToolCalls[0].FunctionName);
        Assert.AreEqual("toolu_01A09q90qw90lq917835lq9", completion.ToolCalls[0].Id);
        Assert.AreEqual("{\"city\":\"Paris\"}", completion.ToolCalls[0].FunctionArguments.ToString());
        Assert.AreEqual(120, completion.Usage.InputTokenCount, "input + cache reads");
        Assert.AreEqual(50, completion.Usage.OutputTokenCount);
        Assert.AreEqual(20, completion.Usage.InputTokenDetails.CachedTokenCount);
    }

    [TestMethod]
    public async Task GeminiBehindTheOpenAIShape_AnswerTranslated()
    {
        var tenant = await _host.CreateTenantAsync("gemini");
        _gemini.Handler = FakeUpstream.Json(JsonNode.Parse("""
            {"candidates":[{"content":{"parts":[{"text":"Bonjour"},{"text":" !"}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],
             "usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"totalTokenCount":10},"modelVersion":"gemini-2.0-flash","responseId":"resp-1"}
            """)!);
        var client = WrapperTestKit.OpenAIChat(_host, tenant.ApiKey, "gemini-2.0-flash", new() { ["x-killtoken-provider"] = "gemini" });

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Say hello in French")]);

        Assert.AreEqual("Bonjour !", completion.Content[0].Text);
        Assert.AreEqual(ChatFinishReason.Length, completion.FinishReason);
        Assert.AreEqual(10, completion.Usage.TotalTokenCount);
        Assert.AreEqual("gemini-2.0-flash", completion.Model);
    }

    [TestMethod]
    public async Task Models_ListedInOpenAIsShape_ForTheChosenProvider()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var client = new OpenAIModelClient(new ApiKeyCredential(tenant.ApiKey), WrapperTestKit.Options(_host));

        OpenAIModelCollection models = await client.GetModelsAsync();
        Assert.IsTrue(models.Any(m => m.Id == "gpt-4o-mini" && m.OwnedBy == "openai"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "proxy/openai/v1/models");
        request.Headers.Add("x-tokenguard-key", tenant.ApiKey);
        request.Headers.Add("x-killtoken-provider", "anthropic");
        var anthropic = await GatewayHost.ReadJsonAsync(await _host.Client.SendAsync(request), 200);
        Assert.AreEqual("list", anthropic["object"]!.GetValue<string>());
        Assert.IsTrue(anthropic["data"]!.AsArray().All(m => m!["owned_by"]!.GetValue<string>() == "anthropic" && m["object"]!.GetValue<string>() == "model"));
        Assert.IsTrue(anthropic["data"]!.AsArray().Count > 0);
    }

    [TestMethod]
    public async Task TokenGuardAlias_TakesTheSameBody_WithTheKeyInXTokenguardKey()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: "alias ok"));

        var response = await WrapperTestKit.PostAsync(_host, "proxy/openai/v1/chat/completions",
            new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "Hello" } } },
            new() { ["x-tokenguard-key"] = tenant.ApiKey });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual("alias ok", body["choices"]![0]!["message"]!["content"]!.GetValue<string>());
    }
}
