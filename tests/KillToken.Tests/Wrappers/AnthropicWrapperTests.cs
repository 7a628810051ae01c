using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Wrappers;

/// <summary>
/// <c>/v1/anthropic</c> (§2): the Messages body goes to Anthropic as the client wrote it (Anthropic-only fields
/// survive), OpenAI-style tool payloads are refused before any provider call, errors come in Anthropic's shape.
/// </summary>
[TestClass]
public sealed class AnthropicWrapperTests
{
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _anthropic = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.AnthropicMessage()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString() });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private static Dictionary<string, string> Key(Tenant tenant) => new() { ["x-api-key"] = tenant.ApiKey, ["anthropic-version"] = "2023-06-01" };

    [TestMethod]
    [DataRow("v1/anthropic/messages")]
    [DataRow("v1/anthropic/v1/messages")]
    [DataRow("proxy/anthropic/v1/messages")]
    public async Task NativeBody_GoesThroughUnchanged_AnswerUnchanged_MetricsInHeader(string path)
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-native-secret-0003");
        var fixture = Fixtures.AnthropicMessage("claude-sonnet-4-20250514", input: 200, output: 40, cacheRead: 800);
        _anthropic.Handler = FakeUpstream.Json(fixture);
        var before = _anthropic.Count;
        var body = JsonNode.Parse("""
            {
              "model": "claude-sonnet-4-20250514",
              "max_tokens": 1024,
              "system": [{"type": "text", "text": "You are a careful assistant.", "cache_control": {"type": "ephemeral"}}],
              "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
                {"role": "assistant", "content": "A red square."},
                {"role": "user", "content": "Are you sure?"}
              ],
              "thinking": {"type": "enabled", "budget_tokens": 512},
              "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {}}}],
              "tool_choice": {"type": "auto"},
              "top_k": 5,
              "metadata": {"user_id": "user-42", "feature": "vision-check"}
            }
            """)!.AsObject();

        var headers = Key(tenant);
        headers["anthropic-beta"] = "interleaved-thinking-2025-05-14";
        var response = await WrapperTestKit.PostAsync(_host, path, body, headers);

        var answer = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.IsTrue(JsonNode.DeepEquals(fixture, answer), "the Messages answer comes back unchanged");
        var upstream = _anthropic.Requests[before];
        Assert.AreEqual("/v1/messages", upstream.Path);
        Assert.AreEqual("sk-ant-native-secret-0003", upstream.Header("x-api-key"), "the workspace's key, not the KillToken key");
        Assert.AreEqual("interleaved-thinking-2025-05-14", upstream.Header("anthropic-beta"), "the client's betas go along with its body");
        var expected = body.DeepClone().AsObject();
        expected["metadata"]!.AsObject().Remove("feature");
        Assert.IsTrue(JsonNode.DeepEquals(expected, upstream.Json), $"sent as written, less KillToken's tag: {upstream.Body}");

        var metrics = WrapperTestKit.MetricsHeader(response);
        Assert.AreEqual("vision-check", metrics["feature"]!.GetValue<string>());
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual("anthropic", metrics["provider"]!.GetValue<string>());
        Assert.IsTrue(metrics["wasteTokens"] is not null, "the prompt is measured from the native body");
    }

    [TestMethod]
    [DataRow("OpenAI function tool", """{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}""")]
    [DataRow("role tool message", """{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_1","content":"42"}]}""")]
    [DataRow("assistant tool_calls", """{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}""")]
    [DataRow("OpenAI tool_choice string", """{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tool_choice":"auto"}""")]
    [DataRow("system role in messages", """{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"}]}""")]
    public async Task OpenAIStylePayloads_Are400InAnthropicsShape_BeforeAnyProviderCall(string scenario, string body)
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        var before = _anthropic.Count;

        var response = await WrapperTestKit.PostAsync(_host, "v1/anthropic/messages", body, Key(tenant));

        var error = await GatewayHost.ReadJsonAsync(response, 400);
        Assert.AreEqual("error", error["type"]!.GetValue<string>(), scenario);
        Assert.AreEqual("invalid_request_error", error["error"]!["type"]!.GetValue<string>(), scenario);
        Assert.IsFalse(string.IsNullOrEmpty(error["error"]!["message"]!.GetValue<string>()));
        Assert.AreEqual(before, _anthropic.Count, $"{scenario}: the provider is not called");
        var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + error["request_id"]!.GetValue<string>()), 200);
        Assert.AreEqual("anthropic", trace["endpoint"]!.GetValue<string>());
        Assert.AreEqual(400, trace["status"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task Errors_AreInAnthropicsShape_WithItsTypes()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        var broke = await WrapperTestKit.TenantWithoutBudgetAsync(_host, "anthropic");
        const string hello = """{"model":"claude-3-5-haiku-20241022","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""";

        var unauthorized = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", hello, new() { ["x-api-key"] = "kt_live_" + new string('z', 40) });
        Assert.AreEqual("authentication_error", (await GatewayHost.ReadJsonAsync(unauthorized, 401))["error"]!["type"]!.GetValue<string>());

        var overBudget = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", hello, Key(broke));
        var budget = await GatewayHost.ReadJsonAsync(overBudget, 429);
        Assert.AreEqual("rate_limit_error", budget["error"]!["type"]!.GetValue<string>());
        Assert.AreEqual("budget_exceeded", budget["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("false", overBudget.Headers.GetValues("x-should-retry").Single());

        _anthropic.Handler = FakeUpstream.Json(Fixtures.AnthropicError("overloaded_error", "Overloaded"), 529);
        var overloaded = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", hello, Key(tenant));
        Assert.AreEqual("overloaded_error", (await GatewayHost.ReadJsonAsync(overloaded, 529))["error"]!["type"]!.GetValue<string>());

        _anthropic.Handler = FakeUpstream.Json(Fixtures.AnthropicError("invalid_request_error", "max_tokens: Field required"), 400);
        var rejected = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", hello, Key(tenant));
        var invalid = (await GatewayHost.ReadJsonAsync(rejected, 400))["error"]!;
        Assert.AreEqual("invalid_request_error", invalid["type"]!.GetValue<string>());
        StringAssert.Contains(invalid["message"]!.GetValue<string>(), "max_tokens: Field required");

        var safe = await WrapperTestKit.PostAsync(_host, "v1/anthropic/v1/messages", hello,
            new() { ["x-api-key"] = tenant.ApiKey, ["x-killtoken-optimization-mode"] = "safe" });
        Assert.AreEqual("invalid_optimization_mode", (await GatewayHost.ReadJsonAsync(safe, 400))["error"]!["code"]!.GetValue<string>());
    }
}
