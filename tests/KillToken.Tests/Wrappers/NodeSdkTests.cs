using System.Text.Json.Nodes;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Wrappers;

/// <summary>
/// The official JavaScript SDKs (npm `openai`, `@anthropic-ai/sdk`, pinned in tests/emulators/sdk) against the gateway:
/// plain calls, streaming through their own stream helpers, model listing, and their typed errors.
/// </summary>
[TestClass]
public sealed class NodeSdkTests
{
    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(JsonOrStream(
            FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 11, completion: 7, content: "Hello from node")),
            SseTestKit.Serve(SseTestKit.OpenAIStream(pieces: ["Node", " streams"], prompt: 11, completion: 2))));
        _anthropic = await FakeUpstream.StartAsync(JsonOrStream(
            FakeUpstream.Json(Fixtures.AnthropicMessage("claude-3-5-haiku-20241022", input: 25, output: 12)),
            SseTestKit.Serve(SseTestKit.AnthropicStream(pieces: ["Claude", " streams"], input: 25, output: 3))));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    /// <summary>Answers JSON, or a stream when the request asks for one.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> JsonOrStream(Func<HttpContext, UpstreamRequest, Task> json, Func<HttpContext, UpstreamRequest, Task> stream) =>
        (context, request) => request.Json["stream"]?.GetValue<bool>() == true ? stream(context, request) : json(context, request);

    private static Dictionary<string, string> Environment(Tenant tenant, Tenant broke) => new()
    {
        ["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString(),
        ["KILLTOKEN_API_KEY"] = tenant.ApiKey,
        ["KILLTOKEN_BROKE_KEY"] = broke.ApiKey,
    };

    [TestMethod]
    public async Task OpenAINpmSdk_ChatStreamModelsAndTypedErrors()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var broke = await WrapperTestKit.TenantWithoutBudgetAsync(_host, "openai");

        var result = await NodeSdk.RunAsync("openai-sdk.mjs", Environment(tenant, broke));

        var chat = result["chat"]!;
        Assert.AreEqual("Hello from node", chat["content"]!.GetValue<string>());
        Assert.AreEqual(18, chat["usage"]!["total_tokens"]!.GetValue<int>());
        Assert.AreEqual("node-openai", chat["bodyMetrics"]!["feature"]!.GetValue<string>(), "completion.killtoken.metrics, as the seed's example reads it");
        Assert.AreEqual(chat["bodyMetrics"]!["requestId"]!.GetValue<string>(), chat["headerMetrics"]!["requestId"]!.GetValue<string>());

        Assert.AreEqual("Node streams", result["stream"]!["text"]!.GetValue<string>());
        Assert.AreEqual(13, result["stream"]!["usage"]!["total_tokens"]!.GetValue<int>());

        Assert.IsTrue(result["models"]!.AsArray().Any(m => m!.GetValue<string>() == "gpt-4o-mini"));

        Assert.AreEqual("AuthenticationError", result["badKey"]!["name"]!.GetValue<string>());
        Assert.AreEqual(401, result["badKey"]!["status"]!.GetValue<int>());
        Assert.AreEqual("invalid_api_key", result["badKey"]!["code"]!.GetValue<string>());
        Assert.AreEqual("RateLimitError", result["budget"]!["name"]!.GetValue<string>());
        Assert.AreEqual("insufficient_quota", result["budget"]!["type"]!.GetValue<string>());
        Assert.AreEqual("budget_exceeded", result["budget"]!["code"]!.GetValue<string>());
        Assert.AreEqual(1, await TraceCountAsync(broke), "x-should-retry: false kept the SDK from retrying a spent budget");
    }

    [TestMethod]
    public async Task AnthropicNpmSdk_MessagesStreamHelperAndTypedErrors()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        var broke = await WrapperTestKit.TenantWithoutBudgetAsync(_host, "anthropic");

        var result = await NodeSdk.RunAsync("anthropic-sdk.mjs", Environment(tenant, broke));

        var chat = result["chat"]!;
        Assert.AreEqual("Hi! My name is Claude.", chat["text"]!.GetValue<string>());
        Assert.AreEqual(37, chat["headerMetrics"]!["totalTokens"]!.GetValue<long>());
        Assert.AreEqual("node-anthropic", chat["headerMetrics"]!["feature"]!.GetValue<string>());

        var stream = result["stream"]!;
        Assert.AreEqual("Claude streams", stream["text"]!.GetValue<string>());
        Assert.AreEqual("Claude streams", stream["finalText"]!.GetValue<string>());
        Assert.AreEqual("end_turn", stream["stopReason"]!.GetValue<string>());
        Assert.AreEqual(3, stream["usage"]!["output_tokens"]!.GetValue<int>());

        var types = result["rawStream"]!["types"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        Assert.AreEqual("message_start", types[0]);
        Assert.AreEqual("killtoken.metrics", types[^1], "KillToken's event is one more event type, after message_stop");
        Assert.AreEqual(28, result["rawStream"]!["metrics"]!["totalTokens"]!.GetValue<long>());

        Assert.AreEqual("AuthenticationError", result["badKey"]!["name"]!.GetValue<string>());
        Assert.AreEqual("authentication_error", result["badKey"]!["type"]!.GetValue<string>());
        Assert.AreEqual("BadRequestError", result["openAITools"]!["name"]!.GetValue<string>());
        Assert.AreEqual("invalid_request_error", result["openAITools"]!["type"]!.GetValue<string>());
        Assert.AreEqual("RateLimitError", result["budget"]!["name"]!.GetValue<string>());
        Assert.AreEqual(1, await TraceCountAsync(broke));
    }

    private static async Task<int> TraceCountAsync(Tenant tenant)
    {
        var page = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200);
        return page["data"]!.AsArray().Count;
    }
}
