using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Providers;

/// <summary>
/// How upstream failures reach the client (§3 step 7, §4): the contract's codes, bounded retries only where a retry can
/// help, no 500, and each failure traced with its code. The server's per-attempt timeout is 1 second here.
/// </summary>
[TestClass]
public sealed class ProviderErrorMappingTests
{
    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static FakeUpstream _gemini = null!;
    private static GatewayHost _host = null!;
    private static ProviderTrio _trio = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _trio = await ProviderTrio.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "1" });
        (_openai, _anthropic, _gemini, _host) = (_trio.OpenAI, _trio.Anthropic, _trio.Gemini, _trio.Host);
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _trio.DisposeAsync();

    [TestMethod]
    public async Task OpenAI401_ProviderAuthFailed502_NoRetry()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-401-0123456789");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("Incorrect API key provided: sk-mapp*****6789.", "invalid_request_error", "invalid_api_key"), 401);
        var before = _openai.Count;

        var response = await OpenAIChatAsync(tenant);

        var error = await AssertGatewayErrorAsync(tenant, response, 502, "provider_auth_failed");
        Assert.AreEqual(before + 1, _openai.Count, "a rejected key is not retried");
        Assert.AreEqual(401, error["providerStatus"]?.GetValue<int>());
    }

    [TestMethod]
    public async Task OpenAI403_ProviderAuthFailed502()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-403-0123456789");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("You are not allowed to use this model.", "invalid_request_error", "model_not_allowed"), 403);

        await AssertGatewayErrorAsync(tenant, await OpenAIChatAsync(tenant), 502, "provider_auth_failed");
    }

    [TestMethod]
    public async Task OpenAI429WithRetryAfter_ProviderRateLimited429WithRetryAfter_AfterBoundedRetries()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-429-0123456789");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("Rate limit reached for gpt-4o-mini.", "requests", "rate_limit_exceeded"), 429,
            r => r.Headers.RetryAfter = "1");
        var before = _openai.Count;

        var response = await OpenAIChatAsync(tenant);

        await AssertGatewayErrorAsync(tenant, response, 429, "provider_rate_limited");
        Assert.IsNotNull(response.Headers.RetryAfter, "the client learns when to come back");
        Assert.IsTrue(response.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1), response.Headers.RetryAfter.ToString());
        var attempts = _openai.Count - before;
        Assert.IsTrue(attempts is > 1 and <= 3, $"429 is retried a bounded number of times; attempts: {attempts}");
    }

    [TestMethod]
    public async Task OpenAI429ThenSuccess_RetriedTransparently()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-429-ok-0123456789");
        var calls = 0;
        _openai.Handler = async (context, request) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await FakeUpstream.Json(Fixtures.OpenAIError("Rate limit reached.", "requests", "rate_limit_exceeded"), 429, r => r.Headers.RetryAfter = "0")(context, request);
                return;
            }

            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion())(context, request);
        };

        var body = await GatewayHost.ReadJsonAsync(await OpenAIChatAsync(tenant), 200);

        Assert.AreEqual(2, calls);
        Assert.AreEqual(29, body["metrics"]!["totalTokens"]!.GetValue<long>(), "the one successful answer is billed once");
    }

    [TestMethod]
    public async Task OpenAI400_ProviderRejected400_WithTheProviderErrorBody()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-400-0123456789");
        var upstreamBody = Fixtures.OpenAIError("Invalid value for 'temperature': must be between 0 and 2.", "invalid_request_error", "invalid_value");
        upstreamBody["error"]!["param"] = "temperature";
        _openai.Handler = FakeUpstream.Json(upstreamBody, 400);
        var before = _openai.Count;

        var response = await OpenAIChatAsync(tenant);

        var error = await AssertGatewayErrorAsync(tenant, response, 400, "provider_rejected");
        Assert.IsTrue(JsonNode.DeepEquals(upstreamBody, error["providerError"]), $"error.providerError holds the upstream body: {error.ToJsonString()}");
        StringAssert.Contains(error["message"]!.GetValue<string>(), "temperature", "the provider's reason is in the message");
        Assert.AreEqual(before + 1, _openai.Count, "a 400 is not retried");
    }

    [TestMethod]
    public async Task OpenAI500_ProviderError502_AfterExactlyThreeAttempts()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-500-0123456789");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("The server had an error while processing your request.", "server_error", null), 500);
        var before = _openai.Count;

        var response = await OpenAIChatAsync(tenant);

        await AssertGatewayErrorAsync(tenant, response, 502, "provider_error");
        Assert.AreEqual(before + 3, _openai.Count, "5xx is retried, three attempts in all");
    }

    [TestMethod]
    public async Task OpenAI503_ProviderError502()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-503-0123456789");
        _openai.Handler = (context, _) =>
        {
            context.Response.StatusCode = 503;
            context.Response.ContentType = "text/html";
            return context.Response.WriteAsync("<html><body>Service Unavailable</body></html>");
        };

        await AssertGatewayErrorAsync(tenant, await OpenAIChatAsync(tenant), 502, "provider_error");
    }

    [TestMethod]
    [DataRow("this is not json", DisplayName = "plain text")]
    [DataRow("{\"id\":\"chatcmpl-1\",\"choices\":[", DisplayName = "truncated JSON")]
    [DataRow("[1,2,3]", DisplayName = "JSON array")]
    [DataRow("", DisplayName = "empty body")]
    public async Task OpenAI200WithBrokenBody_ProviderError502_NotRetried(string raw)
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-200-0123456789");
        _openai.Handler = (context, _) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(raw);
        };
        var before = _openai.Count;

        var response = await OpenAIChatAsync(tenant);

        await AssertGatewayErrorAsync(tenant, response, 502, "provider_error");
        Assert.AreEqual(before + 1, _openai.Count, "no retry after a response began (it may have been billed)");
    }

    [TestMethod]
    public async Task SlowUpstream_BeyondTimeout_ProviderTimeout504()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-mapping-slow-0123456789");
        _openai.Handler = async (context, request) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion())(context, request);
        };

        try
        {
            var response = await OpenAIChatAsync(tenant);

            await AssertGatewayErrorAsync(tenant, response, 504, "provider_timeout");
        }
        finally
        {
            _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        }
    }

    [TestMethod]
    public async Task UnreachableUpstream_ProviderError502()
    {
        // openai_compatible takes its base URL from the credential: point it at a port nobody listens on.
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true" });
        var closed = await FakeUpstream.StartAsync();
        var deadUrl = new Uri(closed.BaseAddress, "v1").ToString();
        await closed.DisposeAsync();
        var tenant = await host.CreateTenantAsync(credential: new { provider = "openai_compatible", apiKey = "compat-dead-0123456789", config = new { baseUrl = deadUrl } });

        var response = await tenant.ChatAsync(new { provider = "openai_compatible", model = "llama-3.1-8b", messages = new[] { new { role = "user", content = "hi" } } });

        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(502, (int)response.StatusCode, text);
        Assert.AreEqual("provider_error", JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Anthropic401_ProviderAuthFailed502()
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-mapping-401-0123456789");
        _anthropic.Handler = FakeUpstream.Json(Fixtures.AnthropicError("authentication_error", "invalid x-api-key"), 401);
        var before = _anthropic.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "anthropic",
            model = "claude-3-5-haiku-latest",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new { max_tokens = 64 },
        });

        await AssertGatewayErrorAsync(tenant, response, 502, "provider_auth_failed");
        Assert.AreEqual(before + 1, _anthropic.Count);
    }

    [TestMethod]
    public async Task Anthropic529Overloaded_ProviderError502()
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-mapping-529-0123456789");
        _anthropic.Handler = FakeUpstream.Json(Fixtures.AnthropicError("overloaded_error", "Overloaded"), 529);

        var response = await tenant.ChatAsync(new
        {
            provider = "anthropic",
            model = "claude-3-5-haiku-latest",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new { max_tokens = 64 },
        });

        await AssertGatewayErrorAsync(tenant, response, 502, "provider_error");
    }

    [TestMethod]
    public async Task Gemini400ApiKeyInvalid_ProviderAuthFailed502()
    {
        // The Gemini API answers a bad key with 400 INVALID_ARGUMENT / reason API_KEY_INVALID, not 401.
        var tenant = await _host.CreateTenantAsync("gemini", "AIza-mapping-invalid-0123456789");
        _gemini.Handler = FakeUpstream.Json(JsonNode.Parse("""
            {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
              "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}
            """)!, 400);

        await AssertGatewayErrorAsync(tenant, await GeminiChatAsync(tenant), 502, "provider_auth_failed");
    }

    [TestMethod]
    [DataRow(400, "text/plain", "Bad Request", 400, "provider_rejected", DisplayName = "400 plain text")]
    [DataRow(400, "application/json", "[\"not\", \"an object\"]", 400, "provider_rejected", DisplayName = "400 JSON array")]
    [DataRow(401, "text/html", "<html>Unauthorized</html>", 502, "provider_auth_failed", DisplayName = "401 HTML")]
    [DataRow(500, "text/plain", "oops", 502, "provider_error", DisplayName = "500 plain text")]
    public async Task GeminiErrorWithNonObjectBody_MappedNot500(int upstreamStatus, string contentType, string raw, int status, string code)
    {
        var tenant = await _host.CreateTenantAsync("gemini", "AIza-mapping-raw-0123456789");
        _gemini.Handler = (context, _) =>
        {
            context.Response.StatusCode = upstreamStatus;
            context.Response.ContentType = contentType;
            return context.Response.WriteAsync(raw);
        };

        await AssertGatewayErrorAsync(tenant, await GeminiChatAsync(tenant), status, code);
    }

    private static Task<HttpResponseMessage> GeminiChatAsync(Tenant tenant) =>
        tenant.ChatAsync(new { provider = "gemini", model = "gemini-2.0-flash", messages = new[] { new { role = "user", content = "hi" } } });

    private static Task<HttpResponseMessage> OpenAIChatAsync(Tenant tenant) =>
        tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });

    /// <summary>The error shape with the code, never a 500, and the failure traced with its code. Returns error.</summary>
    private static async Task<JsonObject> AssertGatewayErrorAsync(Tenant tenant, HttpResponseMessage response, int status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreNotEqual(500, (int)response.StatusCode, text);
        Assert.AreEqual(status, (int)response.StatusCode, text);
        var error = JsonNode.Parse(text)!["error"] as JsonObject;
        Assert.IsNotNull(error, text);
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), text);
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["message"]?.GetValue<string>()), text);
        var requestId = error["requestId"]?.GetValue<string>();
        Assert.IsFalse(string.IsNullOrWhiteSpace(requestId), text);

        var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + requestId), 200);
        Assert.AreEqual(code, trace["errorCode"]?.GetValue<string>(), trace.ToJsonString());
        Assert.AreEqual(status, trace["status"]?.GetValue<int>(), trace.ToJsonString());
        return error;
    }
}
