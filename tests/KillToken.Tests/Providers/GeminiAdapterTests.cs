using System.Text.Json.Nodes;
using KillToken.Providers.Gemini;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Providers;

[TestClass]
public sealed class GeminiAdapterTests
{
    private static FakeUpstream _gemini = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _gemini = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_GEMINI_BASE_URL"] = _gemini.BaseAddress.ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    /// <summary>
    /// GenerateContentResponse as in ai.google.dev/api/generate-content#v1beta.GenerateContentResponse (2.5 models add
    /// thoughtsTokenCount; cachedContentTokenCount is part of promptTokenCount).
    /// </summary>
    internal static JsonObject GenerateContentResponse(int prompt = 8, int candidates = 12, int thoughts = 0, int cached = 0, string model = "gemini-2.5-flash")
    {
        var usage = new JsonObject
        {
            ["promptTokenCount"] = prompt,
            ["candidatesTokenCount"] = candidates,
            ["totalTokenCount"] = prompt + candidates + thoughts,
            ["promptTokensDetails"] = new JsonArray(new JsonObject { ["modality"] = "TEXT", ["tokenCount"] = prompt }),
        };
        if (thoughts > 0)
        {
            usage["thoughtsTokenCount"] = thoughts;
        }

        if (cached > 0)
        {
            usage["cachedContentTokenCount"] = cached;
        }

        return new JsonObject
        {
            ["candidates"] = new JsonArray(new JsonObject
            {
                ["content"] = new JsonObject
                {
                    ["parts"] = new JsonArray(new JsonObject { ["text"] = "The weather in Boston is sunny, 22°C." }),
                    ["role"] = "model",
                },
                ["finishReason"] = "STOP",
                ["avgLogprobs"] = -0.0913,
            }),
            ["usageMetadata"] = usage,
            ["modelVersion"] = model,
            ["responseId"] = "mKk3aKHnI5eEz7IPyvWo4Ao",
        };
    }

    /// <summary>google.rpc.Status error body (ai.google.dev/gemini-api/docs/troubleshooting#error-codes).</summary>
    internal static JsonObject GoogleError(int code, string status, string message, string? reason = null)
    {
        var error = new JsonObject { ["code"] = code, ["message"] = message, ["status"] = status };
        if (reason is not null)
        {
            error["details"] = new JsonArray(new JsonObject
            {
                ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
                ["reason"] = reason,
                ["domain"] = "googleapis.com",
                ["metadata"] = new JsonObject { ["service"] = "generativelanguage.googleapis.com" },
            });
        }

        return new JsonObject { ["error"] = error };
    }

    [TestMethod]
    public async Task Chat_TranslatesToGenerateContent_WithApiKeyHeaderAndPricesThoughtsAsOutput()
    {
        const string secret = "AIzaSy-gemini-tenant-secret-CCCC3333";
        var tenant = await _host.CreateTenantAsync("gemini", secret);
        var fixture = GenerateContentResponse(prompt: 1000, candidates: 200, thoughts: 300, cached: 400);
        _gemini.Handler = FakeUpstream.Json(fixture);
        var before = _gemini.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "gemini",
            model = "gemini-2.5-flash",
            messages = new object[]
            {
                new { role = "system", content = "Be brief." },
                new { role = "user", content = "Weather in Boston?" },
                new
                {
                    role = "assistant",
                    content = (string?)null,
                    tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = "{\"city\":\"Boston\"}" } } },
                },
                new { role = "tool", tool_call_id = "call_1", content = "{\"tempC\":22,\"sky\":\"sunny\"}" },
                new { role = "user", content = new object[] { new { type = "text", text = "And as JSON?" }, new { type = "image_url", image_url = new { url = "data:image/png;base64,iVBORw0KGgo=" } } } },
            },
            providerOptions = new
            {
                temperature = 0.3,
                top_p = 0.9,
                top_k = 40,
                max_tokens = 256,
                stop = "END",
                response_format = new { type = "json_object" },
                safetySettings = new[] { new { category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" } },
                tools = new[] { new { type = "function", function = new { name = "get_weather", description = "Current weather", parameters = new { type = "object", properties = new { city = new { type = "string" } } } } } },
                tool_choice = "auto",
            },
        });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        var upstream = _gemini.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        Assert.AreEqual("/v1beta/models/gemini-2.5-flash:generateContent", upstream.Path);
        Assert.AreEqual("", upstream.Query, "the key travels in a header, never in ?key=");
        Assert.AreEqual(secret, upstream.Header("x-goog-api-key"));
        Assert.IsNull(upstream.Header("authorization"));

        var expected = JsonNode.Parse("""
        {
          "contents": [
            { "role": "user", "parts": [ { "text": "Weather in Boston?" } ] },
            { "role": "model", "parts": [ { "functionCall": { "name": "get_weather", "args": { "city": "Boston" } } } ] },
            { "role": "user", "parts": [ { "functionResponse": { "name": "get_weather", "response": { "tempC": 22, "sky": "sunny" } } } ] },
            { "role": "user", "parts": [ { "text": "And as JSON?" }, { "inlineData": { "mimeType": "image/png", "data": "iVBORw0KGgo=" } } ] }
          ],
          "systemInstruction": { "parts": [ { "text": "Be brief." } ] },
          "safetySettings": [ { "category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH" } ],
          "generationConfig": {
            "temperature": 0.3, "topP": 0.9, "topK": 40, "maxOutputTokens": 256, "stopSequences": [ "END" ],
            "responseMimeType": "application/json"
          },
          "tools": [ { "functionDeclarations": [ { "name": "get_weather", "description": "Current weather",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } ] } ],
          "toolConfig": { "functionCallingConfig": { "mode": "AUTO" } }
        }
        """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, upstream.Json), upstream.Body);

        Assert.IsTrue(JsonNode.DeepEquals(fixture, body["response"]), "the provider response comes back unchanged");
        var metrics = body["metrics"]!;
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(500, metrics["outputTokens"]!.GetValue<long>(), "candidates + thoughts");
        Assert.AreEqual(400, metrics["cachedInputTokens"]!.GetValue<long>());
        Assert.AreEqual(1500, metrics["totalTokens"]!.GetValue<long>());
        // gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out per 1M → 600*0.30 + 400*0.03 + 500*2.50 = 1442 µ$.
        Assert.AreEqual(0.001442m, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("priced", metrics["costStatus"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task NativeGenerationConfig_IsRefinedByOpenAIStyleNames_AndModelsPrefixIsStripped()
    {
        var tenant = await _host.CreateTenantAsync("gemini", "AIzaSy-gemini-native-opts-0000");
        _gemini.Handler = FakeUpstream.Json(GenerateContentResponse());
        var before = _gemini.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "gemini",
            model = "models/gemini-2.0-flash",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new
            {
                generationConfig = new { thinkingConfig = new { thinkingBudget = 0 }, temperature = 1.0 },
                max_completion_tokens = 32,
                temperature = 0.1,
                response_format = new { type = "json_schema", json_schema = new { name = "x", schema = new { type = "object" } } },
            },
        });

        await GatewayHost.ReadJsonAsync(response, 200);
        var upstream = _gemini.Requests[before];
        Assert.AreEqual("/v1beta/models/gemini-2.0-flash:generateContent", upstream.Path);
        var config = upstream.Json["generationConfig"]!;
        Assert.AreEqual(0, config["thinkingConfig"]!["thinkingBudget"]!.GetValue<int>());
        Assert.AreEqual(0.1, config["temperature"]!.GetValue<double>());
        Assert.AreEqual(32, config["maxOutputTokens"]!.GetValue<int>());
        Assert.AreEqual("application/json", config["responseMimeType"]!.GetValue<string>());
        Assert.AreEqual("object", config["responseJsonSchema"]!["type"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task UnknownOptionOrOddShapes_Are400BeforeAnyProviderCall()
    {
        var tenant = await _host.CreateTenantAsync("gemini", "AIzaSy-gemini-options-1111");
        var before = _gemini.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "gemini",
            model = "gemini-2.5-flash",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new { logit_bias = new { } },
        });

        await ProviderTestKit.AssertErrorAsync(response, 400, "invalid_provider_options");

        // Odd shapes a client may send are 400s, never 500s.
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(new
        {
            provider = "gemini",
            model = "gemini-2.5-flash",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new { response_format = "json" },
        }), 400, "invalid_provider_options");
        Assert.AreEqual(before, _gemini.Count);
    }

    [TestMethod]
    public async Task Upstream401_And_InvalidKey400_AreProviderAuthFailed()
    {
        var tenant = await _host.CreateTenantAsync("gemini", "AIzaSy-gemini-bad-key-2222");
        var chat = new { provider = "gemini", model = "gemini-2.5-flash", messages = new[] { new { role = "user", content = "hi" } } };

        _gemini.Handler = FakeUpstream.Json(GoogleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), 401);
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(chat), 502, "provider_auth_failed");

        // What the Gemini API really answers for a wrong key: 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        _gemini.Handler = FakeUpstream.Json(GoogleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"), 400);
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(chat), 502, "provider_auth_failed");
    }

    [TestMethod]
    public async Task Upstream429_IsProviderRateLimited_AndMalformedBodyIs502()
    {
        var tenant = await _host.CreateTenantAsync("gemini", "AIzaSy-gemini-limits-3333");
        var chat = new { provider = "gemini", model = "gemini-2.5-flash", messages = new[] { new { role = "user", content = "hi" } } };

        _gemini.Handler = FakeUpstream.Json(GoogleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."), 429);
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(chat), 429, "provider_rate_limited");

        _gemini.Handler = ProviderTestKit.NotJson();
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(chat), 502, "provider_error");
    }

    [TestMethod]
    public async Task UpstreamErrorEchoingTheKey_NeverReachesTheClient()
    {
        const string secret = "AIzaSy-gemini-echoed-secret-4444";
        var tenant = await _host.CreateTenantAsync("gemini", secret);
        _gemini.Handler = FakeUpstream.Json(GoogleError(400, "INVALID_ARGUMENT", $"Invalid value at 'key' ({secret})"), 400);

        var text = await ProviderTestKit.AssertErrorAsync(
            await tenant.ChatAsync(new { provider = "gemini", model = "gemini-2.5-flash", messages = new[] { new { role = "user", content = "hi" } } }),
            400, "provider_rejected");

        ProviderTestKit.AssertNoSecret(text, secret);
        StringAssert.Contains(text, "[redacted]");
        ProviderTestKit.AssertNoSecretInLogs(_host, secret);
    }

    [TestMethod]
    public async Task CredentialTest_ListsOneModelWithTheKeyHeader()
    {
        const string secret = "AIzaSy-gemini-test-route-5555";
        var tenant = await _host.CreateTenantAsync("gemini", secret);
        _gemini.Handler = FakeUpstream.Json(JsonNode.Parse("""
            { "models": [ { "name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash" } ], "nextPageToken": "Cg9nZW1pbmk" }
            """)!);
        var before = _gemini.Count;

        var result = await ProviderTestKit.TestCredentialAsync(tenant);

        Assert.IsTrue(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        var upstream = _gemini.Requests[before];
        Assert.AreEqual("GET", upstream.Method);
        Assert.AreEqual("/v1beta/models", upstream.Path);
        Assert.AreEqual("?pageSize=1", upstream.Query);
        Assert.AreEqual(secret, upstream.Header("x-goog-api-key"));
        Assert.IsNull(upstream.Header("authorization"));

        _gemini.Handler = FakeUpstream.Json(GoogleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"), 400);
        var failed = await ProviderTestKit.TestCredentialAsync(tenant);
        Assert.IsFalse(failed["ok"]!.GetValue<bool>());
        Assert.AreEqual(400, failed["providerStatus"]!.GetValue<int>());
    }

    [TestMethod]
    public void ParallelToolResults_BecomeOneUserTurn_AndPlainTextIsWrappedAsOutput()
    {
        var messages = JsonNode.Parse("""
            [
              { "role": "user", "content": "Weather in Boston and Paris?" },
              { "role": "assistant", "content": "Checking.", "tool_calls": [
                { "id": "a", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Boston\"}" } },
                { "id": "b", "type": "function", "function": { "name": "weather_eu", "arguments": "" } } ] },
              { "role": "tool", "tool_call_id": "a", "content": "sunny" },
              { "role": "tool", "tool_call_id": "b", "content": "[1,2]" }
            ]
            """)!.AsArray().Select(m => m!.AsObject()).ToList();

        var (body, error) = GeminiTranslation.ToRequest(messages, "gemini");

        Assert.IsNull(error);
        var expected = JsonNode.Parse("""
            { "contents": [
              { "role": "user", "parts": [ { "text": "Weather in Boston and Paris?" } ] },
              { "role": "model", "parts": [ { "text": "Checking." },
                { "functionCall": { "name": "weather", "args": { "city": "Boston" } } },
                { "functionCall": { "name": "weather_eu", "args": {} } } ] },
              { "role": "user", "parts": [
                { "functionResponse": { "name": "weather", "response": { "output": "sunny" } } },
                { "functionResponse": { "name": "weather_eu", "response": { "output": [1, 2] } } } ] } ] }
            """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, body), body!.ToJsonString());

        var oddShape = JsonNode.Parse("""
            [ { "role": "user", "content": "hi" },
              { "role": "assistant", "content": "", "tool_calls": [ { "id": "c", "type": "function", "function": "not-an-object" } ] } ]
            """)!.AsArray().Select(m => m!.AsObject()).ToList();
        Assert.AreEqual("invalid_messages", GeminiTranslation.ToRequest(oddShape, "gemini").Error!.Code);

        var (_, orphan) = GeminiTranslation.ToRequest([JsonNode.Parse("""{ "role": "tool", "tool_call_id": "zzz", "content": "x" }""")!.AsObject()], "gemini");
        Assert.AreEqual("invalid_messages", orphan!.Code, "a result Gemini cannot name is refused, not guessed");
    }
}
