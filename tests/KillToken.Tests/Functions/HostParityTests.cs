using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Functions;

/// <summary>
/// A new user's first session, run against the self-host and against the real Azure Functions worker (driven over the
/// Functions host's protocol): health and readiness, sign-up, a project, a credential, a plain and a streamed chat to a
/// fake OpenAI upstream, the trace list, and the error paths a client meets first. Each host gets the same assertions,
/// and the two hosts' answers are compared shape for shape, so a difference between them fails a test.
/// </summary>
[TestClass]
public sealed class HostParityTests
{
    private const string ProviderSecret = "sk-parity-provider-secret-0123456789";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static FakeUpstream _openai = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _openai = await FakeUpstream.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _openai.DisposeAsync();

    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task ANewUsersFirstSession_IsServed(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, Settings());
        var (transcript, polls) = await FirstSessionAsync(host);
        TestContext.WriteLine(string.Join(Environment.NewLine, transcript));

        Assert.IsFalse(string.Join('\n', host.Logs).Contains(ProviderSecret, StringComparison.Ordinal), "the provider key appeared in a log line");
        if (kind == HostKind.Functions)
        {
            // Every request reached a function — one invocation each, polls included — and every invocation succeeded
            // (an error answer is still a successful invocation).
            Assert.HasCount(transcript.Count + polls, host.Invocations, string.Join('\n', host.Invocations));
            Assert.IsTrue(host.Invocations.All(i => i.Succeeded), string.Join('\n', host.Invocations));
        }
    }

    [TestMethod]
    public async Task BothHosts_AnswerAlike()
    {
        List<string> selfHost, functions;
        await using (var host = await HostUnderTest.StartAsync(HostKind.SelfHost, Settings()))
        {
            (selfHost, _) = await FirstSessionAsync(host);
        }

        await using (var host = await HostUnderTest.StartAsync(HostKind.Functions, Settings()))
        {
            (functions, _) = await FirstSessionAsync(host);
        }

        var differences = selfHost.Zip(functions).Where(pair => pair.First != pair.Second)
            .Select(pair => $"self-host: {pair.First}\nfunctions: {pair.Second}").ToList();
        Assert.HasCount(selfHost.Count, functions);
        Assert.IsEmpty(differences, string.Join("\n\n", differences));
    }

    private static Dictionary<string, string?> Settings() => new()
    {
        ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
    };

    /// <summary>
    /// Runs the session with its assertions; returns one line per answer (status, type, headers that matter, JSON shape,
    /// error message) and how many polling reads it made besides.
    /// </summary>
    private static async Task<(List<string> Transcript, int Polls)> FirstSessionAsync(HostUnderTest host)
    {
        var session = new Session(host.Client);

        var health = await session.SendAsync(HttpMethod.Get, "health", expect: 200);
        Assert.AreEqual("ok", health.Json!["status"]!.GetValue<string>());
        var ready = await session.SendAsync(HttpMethod.Get, "ready", expect: 200);
        Assert.AreEqual("ready", ready.Json!["status"]!.GetValue<string>(), ready.Text);

        var email = $"parity-{Guid.NewGuid():N}@example.com";
        var account = new { email, password = "correct horse battery", name = "Parity" };
        var signUp = await session.SendAsync(HttpMethod.Post, "api/auth/signup", account, expect: 201);
        var token = signUp.Json!["token"]!.GetValue<string>();
        var workspaceId = signUp.Json["workspace"]!["id"]!.GetValue<string>();
        var again = await session.SendAsync(HttpMethod.Post, "api/auth/signup", account, expect: 409);
        Assert.AreEqual("conflict", again.ErrorCode);
        var me = await session.SendAsync(HttpMethod.Get, "api/me", bearer: token, expect: 200);
        Assert.AreEqual(workspaceId, me.Json!["workspaces"]![0]!["id"]!.GetValue<string>());

        var project = await session.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", new { name = "parity" }, bearer: token, expect: 201);
        var apiKey = project.Json!["apiKey"]!.GetValue<string>();
        Assert.StartsWith("kt_", apiKey);
        var credential = await session.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials",
            new { provider = "openai", apiKey = ProviderSecret }, bearer: token, expect: 201);
        var credentials = await session.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/provider-credentials", bearer: token, expect: 200);
        Assert.Contains(credential.Json!["id"]!.GetValue<string>(), credentials.Text);

        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 500));
        var before = _openai.Count;
        var chat = await session.SendAsync(HttpMethod.Post, "v1/chat", Chat(stream: false), bearer: apiKey, expect: 200);
        Assert.AreEqual("Hello! How can I assist you today?", chat.Json!["response"]!["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.AreEqual(0.00045m, chat.Json["metrics"]!["costUsd"]!.GetValue<decimal>(), "gpt-4o-mini: 1,000 in at $0.15/1M + 500 out at $0.60/1M");
        Assert.AreEqual("Bearer " + ProviderSecret, _openai.Requests[before].Header("authorization"), "the tenant's own key went upstream");

        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(prompt: 1000, completion: 500));
        var stream = await session.StreamAsync("v1/chat", Chat(stream: true), apiKey);
        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(stream.Events));
        Assert.AreEqual("killtoken.metrics", stream.Events[^1].Name);
        Assert.AreEqual(0.00045m, stream.Events[^1].Json["costUsd"]!.GetValue<decimal>());

        // Both calls traced (a stream's trace is written as it ends, so wait for it).
        var deadline = DateTime.UtcNow + Patience;
        JsonArray traces;
        while ((traces = (await session.PeekAsync("v1/requests", apiKey))["data"]!.AsArray()).Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await session.SendAsync(HttpMethod.Get, "v1/requests", bearer: apiKey, expect: 200);
        Assert.HasCount(2, traces);

        // The two calls in the analytics and in every export.
        var overview = await session.SendAsync(HttpMethod.Get, $"api/analytics/overview?workspaceId={workspaceId}", bearer: token, expect: 200);
        Assert.AreEqual(2, overview.Json!["range"]!["requests"]!.GetValue<long>());
        var usageLog = await session.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={workspaceId}", bearer: token, expect: 200);
        Assert.HasCount(3, usageLog.Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries), usageLog.Text);
        var requestsCsv = await session.SendAsync(HttpMethod.Get, "v1/exports/requests.csv", bearer: apiKey, expect: 200);
        Assert.HasCount(3, requestsCsv.Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries), requestsCsv.Text);
        var analyticsJson = await session.SendAsync(HttpMethod.Get, "v1/exports/analytics.json", bearer: apiKey, expect: 200);
        Assert.AreEqual(2, analyticsJson.Json!["totals"]!["requests"]!.GetValue<long>());

        // The error paths a client meets first: each in the contract's shape, with a request id.
        Assert.AreEqual("invalid_json", (await session.SendAsync(HttpMethod.Post, "v1/chat", "{\"provider\":", bearer: apiKey, expect: 400)).ErrorCode);
        Assert.AreEqual("invalid_api_key", (await session.SendAsync(HttpMethod.Post, "v1/chat", Chat(stream: false), bearer: "kt_not_a_key", expect: 401)).ErrorCode);
        Assert.AreEqual("unauthenticated", (await session.SendAsync(HttpMethod.Get, "api/me", expect: 401)).ErrorCode);
        Assert.AreEqual("validation_failed", (await session.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", new { name = "" }, bearer: token, expect: 400)).ErrorCode);
        Assert.AreEqual("not_found", (await session.SendAsync(HttpMethod.Get, "api/projects/prj_does_not_exist", bearer: token, expect: 404)).ErrorCode);
        Assert.AreEqual("not_found", (await session.SendAsync(HttpMethod.Get, "no/such/route", expect: 404)).ErrorCode);
        Assert.AreEqual("method_not_allowed", (await session.SendAsync(HttpMethod.Get, "v1/chat", expect: 405)).ErrorCode);
        Assert.AreEqual("method_not_allowed", (await session.SendAsync(HttpMethod.Put, $"api/workspaces/{workspaceId}", new { name = "x" }, bearer: token, expect: 405)).ErrorCode);
        var openAiShaped = await session.SendAsync(HttpMethod.Post, "v1/openai/chat/completions", "not json", bearer: apiKey, expect: 400);
        Assert.AreEqual("invalid_json", openAiShaped.Json!["error"]!["code"]!.GetValue<string>(), "OpenAI's error shape on the OpenAI wrapper");

        Assert.IsFalse(session.Transcript.Any(line => line.Contains(ProviderSecret, StringComparison.Ordinal)));
        Assert.IsFalse(session.Bodies.Any(body => body.Contains(ProviderSecret, StringComparison.Ordinal)), "the provider key came back in a response");
        return (session.Transcript, session.Polls);
    }

    private static object Chat(bool stream) => new
    {
        provider = "openai",
        model = "gpt-4o-mini",
        messages = new[] { new { role = "user", content = "Write a concise project update." } },
        metadata = new { feature = "parity" },
        stream,
    };

    private sealed record Answer(int Status, string Text, JsonNode? Json)
    {
        public string? ErrorCode => Json?["error"]?["code"]?.GetValue<string>();
    }

    private sealed record StreamAnswer(List<SseEvent> Events);

    /// <summary>Sends requests and keeps, per answer, a line that two hosts must write identically.</summary>
    private sealed class Session(HttpClient client)
    {
        public List<string> Transcript { get; } = [];

        public List<string> Bodies { get; } = [];

        public int Polls { get; private set; }

        public async Task<Answer> SendAsync(HttpMethod method, string path, object? body = null, string? bearer = null, int expect = 200)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            }

            if (bearer is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }

            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(expect, (int)response.StatusCode, $"{method} {path}: {text}");
            if (expect == 405)
            {
                Assert.IsNotEmpty(response.Content.Headers.Allow, $"{method} {path}: a 405 names the methods the route takes");
            }

            var json = text.Length > 0 && response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonNode.Parse(text) : null;
            if (json?["error"] is JsonObject error && path != "v1/openai/chat/completions")
            {
                Assert.IsFalse(string.IsNullOrEmpty(error["requestId"]?.GetValue<string>()), $"{method} {path}: no error.requestId in {text}");
            }

            Bodies.Add(text);
            var allow = response.Content.Headers.Allow.Count > 0 ? $" allow:{string.Join(",", response.Content.Headers.Allow.Order(StringComparer.Ordinal))}" : "";
            allow += response.Headers.RetryAfter is { } retry ? $" retry-after:{retry}" : "";
            allow += response.Headers.WwwAuthenticate.Count > 0 ? $" www-authenticate:{response.Headers.WwwAuthenticate}" : "";
            Transcript.Add($"{method} {Template(path)} -> {(int)response.StatusCode} {response.Content.Headers.ContentType?.MediaType} "
                + $"request-id:{response.Headers.Contains("x-request-id")}{allow} {Shape(json)} {Message(json)}");
            return new Answer((int)response.StatusCode, text, json);
        }

        public async Task<StreamAnswer> StreamAsync(string path, object body, string bearer)
        {
            using var response = await SseTestKit.SendStreamingAsync(client, bearer, path, body);
            Assert.AreEqual(200, (int)response.StatusCode);
            Assert.AreEqual("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var events = await SseTestKit.ReadAllAsync(response).WaitAsync(Patience);
            Bodies.AddRange(events.Select(e => e.Data));
            Transcript.Add($"POST {path} (stream) -> 200 text/event-stream request-id:{response.Headers.Contains("x-request-id")} "
                + string.Join(" | ", events.Select(e => $"{e.Name ?? "data"}:{(e.Data == "[DONE]" ? "[DONE]" : Shape(JsonNode.Parse(e.Data)))}")));
            return new StreamAnswer(events);
        }

        /// <summary>A read that is not part of the transcript (polling).</summary>
        public async Task<JsonNode> PeekAsync(string path, string bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            using var response = await client.SendAsync(request);
            Polls++;
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        /// <summary>An error's message, which both hosts must word alike (it names no id or time).</summary>
        private static string Message(JsonNode? json) => json?["error"]?["message"] is JsonValue message ? $"message:{message.ToJsonString()}" : "";

        /// <summary>Ids in paths are the only part that differs between runs.</summary>
        private static string Template(string path) => string.Join('/', path.Split('/').Select(segment => segment.Contains('_', StringComparison.Ordinal) ? "{id}" : segment));

        /// <summary>
        /// The JSON's property paths and value kinds, with the values that must agree between hosts (codes, states,
        /// types, prices) and none that differ by run (ids, times, tokens, latencies).
        /// </summary>
        private static string Shape(JsonNode? node)
        {
            if (node is null)
            {
                return "(no json)";
            }

            var parts = new List<string>();
            Walk(node, "$", parts);
            return string.Join(",", parts);
        }

        private static readonly HashSet<string> ComparedValues = new(StringComparer.Ordinal)
        {
            "code", "status", "type", "object", "costUsd", "costStatus", "cacheStatus", "provider", "finalProvider", "model", "role", "scope",
        };

        private static void Walk(JsonNode node, string path, List<string> parts)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                    {
                        if (value is null)
                        {
                            parts.Add($"{path}.{name}=null");
                        }
                        else if (value is JsonValue scalar && ComparedValues.Contains(name))
                        {
                            parts.Add($"{path}.{name}={scalar.ToJsonString()}");
                        }
                        else
                        {
                            Walk(value, $"{path}.{name}", parts);
                        }
                    }

                    break;
                case JsonArray array:
                    parts.Add($"{path}[{array.Count}]");
                    for (var i = 0; i < array.Count; i++)
                    {
                        if (array[i] is { } item)
                        {
                            Walk(item, $"{path}[{i}]", parts);
                        }
                    }

                    break;
                default:
                    parts.Add($"{path}:{node.GetValueKind()}");
                    break;
            }
        }
    }
}
