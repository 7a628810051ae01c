using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using KillToken.Tests.Wrappers;
using OpenAI.Chat;

namespace KillToken.Tests.Streaming;

/// <summary>Streaming on the wrapper routes: the OpenAI SDK's own streaming, translated streams, and each API's native events.</summary>
[TestClass]
public sealed class WrapperStreamingTests
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
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _trio.DisposeAsync();

    [TestMethod]
    public async Task DotNetSdk_CompleteChatStreaming_ThroughTheWrapper()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(pieces: ["Stream", "ing", " works"], prompt: 30, completion: 3), holdAfterFirst: release.Task);
        var before = _openai.Count;
        var client = WrapperTestKit.OpenAIChat(_host, tenant.ApiKey);

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream please")]))
        {
            if (updates++ == 0)
            {
                Assert.IsFalse(release.Task.IsCompleted, "the first update arrives while the upstream still holds");
                release.SetResult();
            }

            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
        }

        Assert.AreEqual("Streaming works", text.ToString());
        Assert.IsTrue(_openai.Requests[before].Json["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.IsNotNull(usage, "the SDK asked for usage itself, so it gets the usage chunk");
        Assert.AreEqual(33, usage.TotalTokenCount);
    }

    [TestMethod]
    public async Task OpenAIWrapper_OverAnthropic_StreamsChatCompletionChunks()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        _anthropic.Handler = SseTestKit.Serve(SseTestKit.AnthropicStream(pieces: ["Bon", "jour"], input: 12, output: 4));
        var before = _anthropic.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/openai/chat/completions", new
        {
            model = "claude-3-5-haiku-20241022",
            messages = new[] { new { role = "system", content = "French only." }, new { role = "user", content = "Hello" } },
            stream = true,
            stream_options = new { include_usage = true },
            max_tokens = 50,
        }, new() { ["x-killtoken-provider"] = "anthropic" });
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _anthropic.Requests[before].Json;
        Assert.IsTrue(upstream["stream"]!.GetValue<bool>());
        Assert.IsFalse(upstream.ContainsKey("stream_options"), "OpenAI's stream options are not sent to Anthropic");
        var chunks = events.Where(e => e.Name is null && e.Data.StartsWith('{')).Select(e => e.Json).ToList();
        Assert.IsTrue(chunks.All(c => c["object"]!.GetValue<string>() == "chat.completion.chunk"));
        Assert.AreEqual("assistant", chunks[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        Assert.AreEqual("Bonjour", SseTestKit.OpenAIText(events));
        Assert.AreEqual("stop", chunks.Single(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["finish_reason"] is not null)["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.AreEqual(16, chunks[^1]["usage"]!["total_tokens"]!.GetValue<int>(), "the client asked for the usage chunk");
        Assert.AreEqual("[DONE]", events.Last(e => e.Name is null).Data);
        Assert.AreEqual("killtoken.metrics", events[^1].Name);
    }

    [TestMethod]
    public async Task AnthropicWrapper_Stream_PassesNativeEvents_ThenATypedMetricsEvent()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        var upstreamEvents = SseTestKit.AnthropicStream(input: 30, output: 9);
        _anthropic.Handler = SseTestKit.Serve(upstreamEvents);
        var before = _anthropic.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/anthropic/v1/messages",
            """{"model":"claude-3-5-haiku-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.IsTrue(_anthropic.Requests[before].Json["stream"]!.GetValue<bool>());
        Assert.AreEqual(upstreamEvents.Count + 1, events.Count);
        var metrics = events[^1];
        Assert.AreEqual("killtoken.metrics", metrics.Name);
        Assert.AreEqual("killtoken.metrics", metrics.Json["type"]!.GetValue<string>());
        Assert.AreEqual(39, metrics.Json["metrics"]!["totalTokens"]!.GetValue<long>());
    }

    [TestMethod]
    public async Task AnthropicWrapper_BrokenStream_EndsWithAnAnthropicErrorEvent()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        _anthropic.Handler = SseTestKit.Serve(SseTestKit.AnthropicStream(stop: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/anthropic/messages",
            """{"model":"claude-3-5-haiku-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        var events = await SseTestKit.ReadAllAsync(response);

        var error = events.Single(e => e.Name == "error").Json;
        Assert.AreEqual("error", error["type"]!.GetValue<string>());
        Assert.AreEqual("api_error", error["error"]!["type"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task AnthropicWrapper_ErrorEventFromAnthropic_IsScrubbedAndTraced()
    {
        var tenant = await _host.CreateTenantAsync("anthropic", "sk-ant-midstream-secret-0005");
        var events = SseTestKit.AnthropicStream(stop: false).Take(2).ToList();
        events.Add("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded (key sk-ant-midstream-secret-0005)\"}}\n\n");
        _anthropic.Handler = SseTestKit.Serve(events);

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/anthropic/messages",
            """{"model":"claude-3-5-haiku-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        var received = await SseTestKit.ReadAllAsync(response);

        var error = received.Single(e => e.Name == "error").Json["error"]!;
        Assert.AreEqual("overloaded_error", error["type"]!.GetValue<string>());
        Assert.IsFalse(received.Any(e => e.Data.Contains("sk-ant-midstream-secret-0005", StringComparison.Ordinal)), "the provider's echo of the secret is scrubbed");
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task GeminiWrapper_StreamGenerateContent_PassesChunks_NoExtraEvents()
    {
        var tenant = await _host.CreateTenantAsync("gemini");
        var upstreamEvents = SseTestKit.GeminiStream(prompt: 5, candidates: 6);
        _gemini.Handler = SseTestKit.Serve(upstreamEvents);
        var before = _gemini.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
            """{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}""", new() { ["x-goog-api-key"] = tenant.ApiKey });
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual("/v1beta/models/gemini-2.0-flash:streamGenerateContent", _gemini.Requests[before].Path);
        Assert.AreEqual(upstreamEvents.Count, events.Count, "Google's SDKs read every data line as a chunk: nothing is added");
        Assert.IsTrue(events.All(e => e.Json.ContainsKey("candidates")));
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual(11, trace["totalTokens"]!.GetValue<long>());
        Assert.AreEqual("gemini", trace["endpoint"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task OpenAIWrapper_BrokenStream_EndsWithAnOpenAIErrorChunk()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(done: false, usageChunk: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/openai/chat/completions",
            new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } }, stream = true });
        var events = await SseTestKit.ReadAllAsync(response);

        var error = events.Single(e => e.Name is null && e.Json.ContainsKey("error")).Json["error"]!;
        Assert.AreEqual("server_error", error["type"]!.GetValue<string>());
        Assert.AreEqual("provider_error", error["code"]!.GetValue<string>());
    }
}
