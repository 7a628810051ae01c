using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

/// <summary>
/// Everything a client can get wrong on <c>POST /v1/chat</c> (§3 step 1–2, §4): the specific 4xx code in the
/// contract's error shape, never a 500, no provider call, and nothing half-written — only the rejection's trace.
/// </summary>
[TestClass]
public sealed class BadInputTests
{
    private const string ValidMessages = "[{\"role\":\"user\",\"content\":\"hi\"}]";

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    [DataRow("malformed JSON", "{\"provider\":\"openai\",\"model\":", 400, "invalid_json")]
    [DataRow("body is an array", "[{\"provider\":\"openai\"}]", 400, "invalid_request")]
    [DataRow("body is a string", "\"hello\"", 400, "invalid_request")]
    [DataRow("model is a number", "{\"provider\":\"openai\",\"model\":4,\"messages\":" + ValidMessages + "}", 400, "invalid_model")]
    [DataRow("model is empty", "{\"provider\":\"openai\",\"model\":\"  \",\"messages\":" + ValidMessages + "}", 400, "invalid_model")]
    [DataRow("messages is a string", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":\"hi\"}", 400, "invalid_messages")]
    [DataRow("stream is a string", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + ",\"stream\":\"yes\"}", 400, "invalid_request")]
    [DataRow("no messages", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\"}", 400, "invalid_messages")]
    [DataRow("empty messages", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[]}", 400, "invalid_messages")]
    [DataRow("message without role", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"content\":\"hi\"}]}", 400, "invalid_messages")]
    [DataRow("unknown role", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400, "invalid_messages")]
    [DataRow("message is not an object", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[\"hi\"]}", 400, "invalid_messages")]
    [DataRow("unknown provider", "{\"provider\":\"acme-ai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + "}", 422, "provider_not_supported")]
    [DataRow("cachePolicy is an unknown string", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + ",\"cachePolicy\":\"sometimes\"}", 400, "invalid_cache_policy")]
    [DataRow("cachePolicy.exactCache is unknown", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + ",\"cachePolicy\":{\"exactCache\":\"x\"}}", 400, "invalid_cache_policy")]
    [DataRow("providerOptions has an option openai does not take", "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + ",\"providerOptions\":{\"top_k\":3}}", 400, "invalid_provider_options")]
    [DataRow("stream true for aws_bedrock without a credential in the workspace", "{\"provider\":\"aws_bedrock\",\"model\":\"anthropic.claude-3-5-haiku-20241022-v1:0\",\"messages\":" + ValidMessages + ",\"stream\":true}", 400, "provider_credential_required")]
    [DataRow("provider without a credential in the workspace", "{\"provider\":\"anthropic\",\"model\":\"claude-3-5-haiku-latest\",\"messages\":" + ValidMessages + "}", 400, "provider_credential_required")]
    public async Task BadBody_RejectedWithItsCode_NoProviderCall_OnlyATraceWritten(string scenario, string body, int status, string code)
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);

        var response = await tenant.SendAsync(HttpMethod.Post, "v1/chat", body);

        await AssertRejectedAsync(tenant, before, response, status, code, traced: true, scenario);
    }

    [TestMethod]
    public async Task EmptyBody_InvalidJson()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);

        var response = await SendRawAsync(tenant.ApiKey, new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        await AssertRejectedAsync(tenant, before, response, 400, "invalid_json", traced: true);
    }

    [TestMethod]
    public async Task TwoMiBBody_RequestTooLarge()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);
        var big = new string('a', 2 * 1024 * 1024);
        var json = $"{{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"{big}\"}}]}}";

        var response = await tenant.SendAsync(HttpMethod.Post, "v1/chat", json);

        await AssertRejectedAsync(tenant, before, response, 413, "request_too_large", traced: true);
    }

    [TestMethod]
    public async Task TextPlainContentType_UnsupportedMediaType()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);
        var json = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + "}";

        var response = await SendRawAsync(tenant.ApiKey, new StringContent(json, Encoding.UTF8, "text/plain"));

        await AssertRejectedAsync(tenant, before, response, 415, "unsupported_media_type", traced: true);
    }

    [TestMethod]
    public async Task IdempotencyKey_256CharsRejected_255Accepted()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var messages = new[] { new { role = "user", content = "hi" } };
        var before = await SnapshotAsync(tenant);

        var tooLong = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages, idempotencyKey = new string('k', 256) });
        await AssertRejectedAsync(tenant, before, tooLong, 400, "invalid_idempotency_key", traced: true);

        var longest = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages, idempotencyKey = new string('k', 255) });
        var body = await GatewayHost.ReadJsonAsync(longest, 200);
        Assert.AreEqual("new", body["metrics"]!["idempotency"]!.GetValue<string>());
        Assert.AreEqual(before.UpstreamCount + 1, _openai.Count, "a 255-character key is accepted and the provider is called once");
    }

    [TestMethod]
    public async Task RejectionAfterIdempotencyBegan_DoesNotConsumeTheKey()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var messages = new[] { new { role = "user", content = "hi" } };
        var before = await SnapshotAsync(tenant);

        var rejected = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages, idempotencyKey = "order-42", providerOptions = new { not_an_option = 1 } });
        await AssertRejectedAsync(tenant, before, rejected, 400, "invalid_provider_options", traced: true);

        // The same key with a (different) valid request: had the rejection been stored, this would be 409 or a replay.
        var retried = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages, idempotencyKey = "order-42" });
        var body = await GatewayHost.ReadJsonAsync(retried, 200);
        Assert.AreEqual("new", body["metrics"]!["idempotency"]!.GetValue<string>());
        Assert.AreEqual(before.UpstreamCount + 1, _openai.Count);
    }

    [TestMethod]
    public async Task NoKey_InvalidApiKey_NotTraced()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);
        var json = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + "}";

        var response = await SendRawAsync(apiKey: null, new StringContent(json, Encoding.UTF8, "application/json"));

        await AssertRejectedAsync(tenant, before, response, 401, "invalid_api_key", traced: false);
    }

    [TestMethod]
    [DataRow("kt_live_0000000000000000000000000000000000000000")]
    [DataRow("not-a-killtoken-key")]
    [DataRow("sk-proj-looks-like-an-openai-key-0123456789")]
    public async Task GarbageKey_InvalidApiKey_NotTraced(string key)
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var before = await SnapshotAsync(tenant);
        var json = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":" + ValidMessages + "}";

        var response = await SendRawAsync(key, new StringContent(json, Encoding.UTF8, "application/json"));

        await AssertRejectedAsync(tenant, before, response, 401, "invalid_api_key", traced: false);
    }

    private sealed record Snapshot(int UpstreamCount, int TraceCount, string Credentials, string Project);

    private static async Task<Snapshot> SnapshotAsync(Tenant tenant)
    {
        var traces = await ListTracesAsync(tenant);
        var credentials = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials", session: true), 200);
        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        project.Remove("lastUsedAt");
        return new Snapshot(_openai.Count, traces.Count, credentials.ToJsonString(), project.ToJsonString());
    }

    private static async Task<List<JsonNode>> ListTracesAsync(Tenant tenant)
    {
        var page = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200);
        return [.. page["data"]!.AsArray().Select(n => n!)];
    }

    private static async Task<HttpResponseMessage> SendRawAsync(string? apiKey, HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat") { Content = content };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return await _host.Client.SendAsync(request);
    }

    private static async Task AssertRejectedAsync(Tenant tenant, Snapshot before, HttpResponseMessage response, int status, string code, bool traced, string scenario = "")
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreNotEqual(500, (int)response.StatusCode, $"{scenario}: a client mistake is never a 500: {text}");
        Assert.AreEqual(status, (int)response.StatusCode, $"{scenario}: {text}");

        var error = JsonNode.Parse(text)!["error"] as JsonObject;
        Assert.IsNotNull(error, $"{scenario}: the body is {{\"error\":{{…}}}}: {text}");
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), $"{scenario}: {text}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["message"]?.GetValue<string>()), $"{scenario}: error.message is a non-empty string");
        var requestId = error["requestId"]?.GetValue<string>();
        Assert.IsFalse(string.IsNullOrWhiteSpace(requestId), $"{scenario}: error.requestId is a non-empty string");

        Assert.AreEqual(before.UpstreamCount, _openai.Count, $"{scenario}: the provider must not be called");

        var after = await SnapshotAsync(tenant);
        Assert.AreEqual(before.Credentials, after.Credentials, $"{scenario}: credentials unchanged");
        Assert.AreEqual(before.Project, after.Project, $"{scenario}: project unchanged");
        Assert.AreEqual(traced ? before.TraceCount + 1 : before.TraceCount, after.TraceCount,
            traced ? $"{scenario}: exactly one trace for the rejected request" : $"{scenario}: an unauthenticated request is not traced in the workspace");

        if (traced)
        {
            var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + requestId), 200);
            Assert.AreEqual(code, trace["errorCode"]?.GetValue<string>(), $"{scenario}: the trace carries the error code");
            Assert.AreEqual(status, trace["status"]?.GetValue<int>(), $"{scenario}: the trace carries the status");
            Assert.AreEqual(0, trace["totalTokens"]?.GetValue<long>() ?? 0, $"{scenario}: no tokens billed");
            var cost = trace["costUsd"];
            Assert.IsTrue(cost is null || cost.GetValue<decimal>() == 0m, $"{scenario}: no cost billed");
        }
    }
}
