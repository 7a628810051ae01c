using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Api.Handlers;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Wrappers;

/// <summary>
/// Contract §8 "TokenGuard compatibility": on the <c>/proxy/…</c> routes a call the budget refuses is 429 with
/// <c>BUDGET_EXCEEDED</c>, seed 002's message and a <c>Retry-After</c>, in the native SDK's error shape (so it still
/// raises its RateLimitError); KillToken's own routes keep <c>budget_exceeded</c> and their messages.
/// </summary>
[TestClass]
public sealed class TokenGuardBudgetErrorTests
{
    private const decimal Tiny = 0.000001m;
    private const string OpenAIBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""";
    private const string AnthropicBody = """{"model":"claude-3-5-haiku-20241022","max_tokens":300,"messages":[{"role":"user","content":"Hello"}]}""";
    private const string GeminiBody = """{"contents":[{"parts":[{"text":"Hello"}]}]}""";

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static FakeUpstream _gemini = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _anthropic = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.AnthropicMessage()));
        _gemini = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_GEMINI_BASE_URL"] = _gemini.BaseAddress.ToString(),
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    /// <summary>A user whose project is created, through the management API, with a budget the first call cannot fit.</summary>
    private static async Task<Tenant> BrokeTenantAsync(string provider, string scope = "daily")
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        object project = scope == "daily"
            ? new { name = "tokenguard user", dailyBudgetUsd = Tiny }
            : new { name = "tokenguard user", monthlyBudgetUsd = Tiny };
        var (projectId, apiKey) = await _host.CreateProjectAsync(token, workspaceId, project);
        var tenant = new Tenant(_host, token, workspaceId, projectId, apiKey);
        var credential = await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials",
            new { provider, apiKey = $"{provider}-secret-key-0123456789" }, session: true);
        await GatewayHost.ReadJsonAsync(credential, 201);
        return tenant;
    }

    private static async Task<int> TraceCountAsync(Tenant tenant)
    {
        var page = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200);
        return page["data"]!.AsArray().Count;
    }

    private static int RetryAfterSeconds(HttpResponseMessage response)
    {
        Assert.IsTrue(response.Headers.TryGetValues("Retry-After", out var values), "Retry-After is present");
        return int.Parse(values.Single(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A Retry-After the way the SDKs expose it: whole seconds until the period resets, at most a day for a daily budget.</summary>
    private static void AssertSecondsToReset(string? header, int atMost)
    {
        Assert.IsNotNull(header, "Retry-After is present");
        var seconds = int.Parse(header, System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(seconds is > 0 && seconds <= atMost, $"Retry-After {seconds} s is the time until the budget resets");
    }

    [TestMethod]
    public async Task OpenAINpmSdk_OnProxy_RaisesRateLimitError_WithBudgetExceededAndRetryAfter_WhileV1OpenAIKeepsBudgetExceeded()
    {
        var broke = await BrokeTenantAsync("openai");
        var before = _openai.Count;

        var result = await NodeSdk.RunAsync("tokenguard-budget.mjs", new Dictionary<string, string>
        {
            ["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString(),
            ["KILLTOKEN_OPENAI_BROKE_KEY"] = broke.ApiKey,
        });

        var proxy = result["openaiProxy"]!;
        Assert.AreEqual("RateLimitError", proxy["name"]!.GetValue<string>(), proxy.ToJsonString());
        Assert.AreEqual(429, proxy["status"]!.GetValue<int>());
        Assert.AreEqual("BUDGET_EXCEEDED", proxy["code"]!.GetValue<string>());
        Assert.AreEqual("insufficient_quota", proxy["type"]!.GetValue<string>());
        Assert.AreEqual("429 Daily spend limit reached", proxy["message"]!.GetValue<string>());
        Assert.AreEqual("Daily spend limit reached", proxy["body"]!["message"]!.GetValue<string>());
        Assert.AreEqual("daily", proxy["body"]!["scope"]!.GetValue<string>(), "KillToken's budget fields still ride along");
        AssertSecondsToReset(proxy["retryAfter"]?.GetValue<string>(), 86_400);
        Assert.AreEqual("false", proxy["shouldRetry"]!.GetValue<string>());

        var wrapper = result["openaiWrapper"]!;
        Assert.AreEqual("RateLimitError", wrapper["name"]!.GetValue<string>());
        Assert.AreEqual("budget_exceeded", wrapper["code"]!.GetValue<string>(), "/v1/openai keeps KillToken's code");
        StringAssert.StartsWith(wrapper["body"]!["message"]!.GetValue<string>(), "The project's daily budget of $", "and its message");

        Assert.AreEqual(2, await TraceCountAsync(broke), "one call each: the SDK's default retries did not retry a spent budget");
        Assert.AreEqual(before, _openai.Count, "a refused call never reaches the provider");
    }

    [TestMethod]
    public async Task AnthropicNpmSdk_OnProxy_RaisesRateLimitError_WithBudgetExceededAndRetryAfter()
    {
        var broke = await BrokeTenantAsync("anthropic");
        var before = _anthropic.Count;

        var result = await NodeSdk.RunAsync("tokenguard-budget.mjs", new Dictionary<string, string>
        {
            ["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString(),
            ["KILLTOKEN_ANTHROPIC_BROKE_KEY"] = broke.ApiKey,
        });

        var proxy = result["anthropicProxy"]!;
        Assert.AreEqual("RateLimitError", proxy["name"]!.GetValue<string>(), proxy.ToJsonString());
        Assert.AreEqual(429, proxy["status"]!.GetValue<int>());
        Assert.AreEqual("rate_limit_error", proxy["type"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", proxy["errorCode"]!.GetValue<string>(), "the SDK's errorCode reads error.details.error_code");
        Assert.AreEqual("Daily spend limit reached", proxy["apiMessage"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", proxy["body"]!["error"]!["code"]!.GetValue<string>(), "error.code, where TokenGuard put it");
        AssertSecondsToReset(proxy["retryAfter"]?.GetValue<string>(), 86_400);
        Assert.AreEqual(1, await TraceCountAsync(broke), "no retry");
        Assert.AreEqual(before, _anthropic.Count);
    }

    [TestMethod]
    public async Task AnthropicProxy_RawAnswer_IsAnthropicsShape_WithTokenGuardsCodeAndMessage()
    {
        var broke = await BrokeTenantAsync("anthropic");

        var response = await WrapperTestKit.PostAsync(_host, "proxy/anthropic/v1/messages", AnthropicBody,
            new() { ["x-tokenguard-key"] = broke.ApiKey, ["anthropic-version"] = "2023-06-01" });

        var body = await GatewayHost.ReadJsonAsync(response, 429);
        Assert.AreEqual("error", body["type"]!.GetValue<string>());
        var error = body["error"]!;
        Assert.AreEqual("rate_limit_error", error["type"]!.GetValue<string>());
        Assert.AreEqual("Daily spend limit reached", error["message"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", error["code"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", error["details"]!["error_code"]!.GetValue<string>());
        Assert.IsTrue(RetryAfterSeconds(response) is > 0 and <= 86_400);
        Assert.AreEqual("false", response.Headers.GetValues("x-should-retry").Single());
    }

    [TestMethod]
    [DataRow("proxy/gemini/v1beta/models/gemini-2.0-flash:generateContent")]
    [DataRow("proxy/gemini/v1beta/models/gemini-2.0-flash/generateContent")]
    public async Task GeminiProxy_MonthlyRefusal_IsGooglesShape_WithBudgetExceededAsTheReason(string path)
    {
        var broke = await BrokeTenantAsync("gemini", scope: "monthly");

        var response = await WrapperTestKit.PostAsync(_host, path, GeminiBody, new() { ["x-tokenguard-key"] = broke.ApiKey });

        var error = (await GatewayHost.ReadJsonAsync(response, 429))["error"]!;
        Assert.AreEqual(429, error["code"]!.GetValue<int>(), "Google's error.code stays the HTTP status, a number its SDKs parse");
        Assert.AreEqual("RESOURCE_EXHAUSTED", error["status"]!.GetValue<string>());
        Assert.AreEqual("Monthly spend limit reached", error["message"]!.GetValue<string>());
        var info = error["details"]!.AsArray().Single()!;
        Assert.AreEqual("type.googleapis.com/google.rpc.ErrorInfo", info["@type"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", info["reason"]!.GetValue<string>());
        Assert.IsTrue(RetryAfterSeconds(response) is > 0 and <= 32 * 86_400, "seconds until the 1st of next month");
    }

    [TestMethod]
    public async Task KillTokenRoutes_KeepBudgetExceeded_AndTheirMessages()
    {
        var openai = await BrokeTenantAsync("openai");
        var anthropic = await BrokeTenantAsync("anthropic");
        var gemini = await BrokeTenantAsync("gemini");
        const string killTokenMessage = "The project's daily budget of $";

        var chat = await openai.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });
        var chatError = (await GatewayHost.ReadJsonAsync(chat, 429))["error"]!;
        Assert.AreEqual("budget_exceeded", chatError["code"]!.GetValue<string>());
        StringAssert.StartsWith(chatError["message"]!.GetValue<string>(), killTokenMessage);

        var openaiWrapper = await WrapperTestKit.PostAsync(_host, "v1/openai/chat/completions", OpenAIBody, bearer: openai.ApiKey);
        var openaiError = (await GatewayHost.ReadJsonAsync(openaiWrapper, 429))["error"]!;
        Assert.AreEqual("budget_exceeded", openaiError["code"]!.GetValue<string>());
        StringAssert.StartsWith(openaiError["message"]!.GetValue<string>(), killTokenMessage);

        var anthropicWrapper = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", AnthropicBody, new() { ["x-api-key"] = anthropic.ApiKey });
        var anthropicError = (await GatewayHost.ReadJsonAsync(anthropicWrapper, 429))["error"]!.AsObject();
        Assert.AreEqual("budget_exceeded", anthropicError["code"]!.GetValue<string>());
        StringAssert.StartsWith(anthropicError["message"]!.GetValue<string>(), killTokenMessage);
        Assert.IsFalse(anthropicError.ContainsKey("details"));

        var geminiWrapper = await WrapperTestKit.PostAsync(_host, "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent", GeminiBody,
            new() { ["x-goog-api-key"] = gemini.ApiKey });
        var geminiError = (await GatewayHost.ReadJsonAsync(geminiWrapper, 429))["error"]!;
        Assert.AreEqual("budget_exceeded", geminiError["details"]![0]!["reason"]!.GetValue<string>());
        StringAssert.StartsWith(geminiError["message"]!.GetValue<string>(), killTokenMessage);
    }

    /// <summary>
    /// The workspace-wide limit's refusal (scope <c>workspace</c>) and a scope seed 002 has no words for, rendered by the
    /// real <see cref="WireFormats"/> for a proxy path and for a KillToken path.
    /// </summary>
    [TestMethod]
    [DataRow("workspace", "Workspace monthly spend limit reached")]
    [DataRow("monthly", "Monthly spend limit reached")]
    [DataRow("daily", "Daily spend limit reached")]
    [DataRow("quarterly", "Spend limit reached")]
    [DataRow(null, "Spend limit reached")]
    public async Task EveryScope_HasSeed002sMessageOnProxy_AndKillTokensOnV1(string? scope, string expected)
    {
        var refusal = new GatewayError(429, ErrorCodes.BudgetExceeded, "The workspace's monthly budget of $10.00 is reached; it resets at 2030-02-01T00:00:00Z.")
        {
            RetryAfterSeconds = 3600,
            Details = scope is null ? null : new JsonObject { ["scope"] = scope },
        };

        var (proxyStatus, proxyHeaders, proxy) = await RenderAsync(Wire.OpenAI, "/proxy/openai/v1/chat/completions", refusal);
        Assert.AreEqual(429, proxyStatus);
        Assert.AreEqual(expected, proxy["error"]!["message"]!.GetValue<string>());
        Assert.AreEqual("BUDGET_EXCEEDED", proxy["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("3600", proxyHeaders.RetryAfter.ToString());

        var (_, _, anthropic) = await RenderAsync(Wire.Anthropic, "/proxy/anthropic/v1/messages", refusal);
        Assert.AreEqual(expected, anthropic["error"]!["message"]!.GetValue<string>());

        var (_, _, gemini) = await RenderAsync(Wire.Gemini, "/proxy/gemini/v1beta/models/gemini-2.0-flash:generateContent", refusal);
        Assert.AreEqual(expected, gemini["error"]!["message"]!.GetValue<string>());

        var (_, v1Headers, v1) = await RenderAsync(Wire.OpenAI, "/v1/openai/chat/completions", refusal);
        Assert.AreEqual("budget_exceeded", v1["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual(refusal.Message, v1["error"]!["message"]!.GetValue<string>());
        Assert.AreEqual(0, v1Headers.RetryAfter.Count, "/v1/openai keeps its answer: no Retry-After of hours for the SDKs to honour");
    }

    [TestMethod]
    public async Task OtherErrorsOnProxy_KeepKillTokensCodes()
    {
        var rateLimited = new GatewayError(429, ErrorCodes.ProviderRateLimited, "The provider is rate limiting this workspace.") { RetryAfterSeconds = 2 };
        var (status, _, body) = await RenderAsync(Wire.OpenAI, "/proxy/openai/v1/chat/completions", rateLimited);
        Assert.AreEqual(429, status);
        Assert.AreEqual("provider_rate_limited", body["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual(rateLimited.Message, body["error"]!["message"]!.GetValue<string>());
    }

    private static async Task<(int Status, IHeaderDictionary Headers, JsonObject Body)> RenderAsync(Wire wire, string path, GatewayError error)
    {
        using var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Path = path;
        using var output = new MemoryStream();
        context.Response.Body = output;

        await WireFormats.Error(wire, context, error, null).ExecuteAsync(context);

        return (context.Response.StatusCode, context.Response.Headers, JsonNode.Parse(output.ToArray())!.AsObject());
    }
}
