using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

/// <summary>
/// <c>/v1/chat</c> refuses a top-level field it does not know with <c>400 invalid_request</c> instead of ignoring it: a
/// provider option is pointed into <c>providerOptions</c>, anything else is told the fields /v1/chat takes. Every
/// documented field (seed 000's table and <c>stream</c>) is still accepted; the native wrapper bodies are not touched.
/// </summary>
[TestClass]
public sealed class ChatUnknownFieldTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static Tenant _tenant = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString() });
        _tenant = await _host.CreateTenantAsync("openai");
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    /// <summary>A valid body plus one more top-level field, as raw JSON.</summary>
    private static string BodyWith(string name, string jsonValue) =>
        $$"""{"provider":"openai","model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"{{name}}":{{jsonValue}}}""";

    private static async Task<JsonNode> RefusedAsync(string body)
    {
        var before = _openai.Count;
        var response = await _tenant.ChatAsync(body);
        var error = (await GatewayHost.ReadJsonAsync(response, 400))["error"]!;
        Assert.AreEqual(ErrorCodes.InvalidRequest, error["code"]!.GetValue<string>());
        Assert.AreEqual(before, _openai.Count, "a refused body never reaches the provider");
        return error;
    }

    [TestMethod]
    [DataRow("max_tokens", "64")]
    [DataRow("max_completion_tokens", "64")]
    [DataRow("temperature", "0.2")]
    [DataRow("top_p", "0.9")]
    [DataRow("stop", "[\"END\"]")]
    [DataRow("seed", "7")]
    [DataRow("n", "1")]
    [DataRow("response_format", "{\"type\":\"json_object\"}")]
    [DataRow("tool_choice", "\"auto\"")]
    [DataRow("tools", "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}]")]
    [DataRow("stream_options", "{\"include_usage\":true}")]
    [DataRow("generationConfig", "{\"maxOutputTokens\":64}")]
    public async Task ProviderOptionAtTopLevel_Is400_PointingIntoProviderOptions(string name, string value)
    {
        var error = await RefusedAsync(BodyWith(name, value));

        Assert.AreEqual($"'{name}' is a provider option: send it inside 'providerOptions'.", error["message"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task UnknownField_Is400_ListingTheFieldsOfV1Chat()
    {
        var error = await RefusedAsync(BodyWith("frobnicate", "true"));

        var message = error["message"]!.GetValue<string>();
        StringAssert.StartsWith(message, "'frobnicate' is not a field of /v1/chat.");
        StringAssert.Contains(message,
            "Its fields are: provider, model, messages, optimizationMode, metadata, providerOptions, cachePolicy, idempotencyKey, stream.");

        var trace = await GatewayHost.ReadJsonAsync(await _tenant.SendAsync(HttpMethod.Get, "v1/requests/" + error["requestId"]!.GetValue<string>()), 200);
        Assert.AreEqual(400, trace["status"]!.GetValue<int>(), "the refusal is traced like every other");
    }

    [TestMethod]
    [DataRow("cache_policy", "cachePolicy")]
    [DataRow("IdempotencyKey", "idempotencyKey")]
    [DataRow("provider_options", "providerOptions")]
    public async Task MisspelledField_IsNamed(string name, string meant)
    {
        var error = await RefusedAsync(BodyWith(name, "{}"));

        StringAssert.StartsWith(error["message"]!.GetValue<string>(), $"'{name}' is not a field of /v1/chat. Did you mean '{meant}'?");
    }

    [TestMethod]
    public async Task EveryDocumentedField_InOneRequest_IsAccepted()
    {
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;
        var body = new JsonObject
        {
            ["provider"] = "openai",
            ["model"] = "gpt-4o-mini",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = "Be brief." }, new JsonObject { ["role"] = "user", ["content"] = "Hello" }),
            ["optimizationMode"] = "safe",
            ["metadata"] = new JsonObject { ["feature"] = "all-fields" },
            ["providerOptions"] = new JsonObject { ["max_tokens"] = 64, ["temperature"] = 0.2 },
            ["cachePolicy"] = new JsonObject { ["exactCache"] = "read_write" },
            ["idempotencyKey"] = "all-fields-" + Guid.NewGuid().ToString("N"),
            ["stream"] = false,
        };
        string[] documented = ["provider", "model", "messages", "optimizationMode", "metadata", "providerOptions", "cachePolicy", "idempotencyKey", "stream"];
        CollectionAssert.AreEquivalent(documented, body.Select(p => p.Key).ToList(), "seed 000's table and stream (§3): every field, once");

        var answer = await GatewayHost.ReadJsonAsync(await _tenant.ChatAsync(body.ToJsonString()), 200);

        var metrics = answer["metrics"]!;
        Assert.AreEqual("all-fields", metrics["feature"]!.GetValue<string>());
        Assert.AreEqual("safe", metrics["optimizationMode"]!.GetValue<string>());
        var upstream = _openai.Requests[before].Json;
        Assert.AreEqual(64, upstream["max_tokens"]!.GetValue<int>(), "providerOptions reach the provider");
        Assert.AreEqual(0.2, upstream["temperature"]!.GetValue<double>());
    }

    [TestMethod]
    public async Task NativeWrapperBodies_KeepTheirOwnTopLevelFields()
    {
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;

        var response = await _tenant.SendAsync(HttpMethod.Post, "v1/openai/chat/completions",
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"max_tokens":64,"temperature":0.2}""");

        await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual(64, _openai.Requests[before].Json["max_tokens"]!.GetValue<int>());
    }
}
