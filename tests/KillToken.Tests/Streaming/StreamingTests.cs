using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Streaming;

/// <summary>
/// <c>stream: true</c> through the real self-host against upstreams that stream like each provider's API (§3 Streaming):
/// bytes pass as they arrive, usage is read from the stream and the call is settled when it ends, failures and
/// disconnects are traced, cache hits replay as streams.
/// </summary>
[TestClass]
public sealed class StreamingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
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

    private static object Chat(string provider = "openai", string model = "gpt-4o-mini", string content = "Say hello", object? providerOptions = null,
        string? cache = null, string? idempotencyKey = null) => new
    {
        provider,
        model,
        messages = new[] { new { role = "user", content } },
        stream = true,
        providerOptions,
        cachePolicy = cache is null ? null : new { exactCache = cache },
        idempotencyKey,
    };

    [TestMethod]
    public async Task OpenAI_FirstEventReachesTheClientBeforeTheUpstreamFinished()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(), holdAfterFirst: release.Task);

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        Assert.AreEqual(200, (int)response.StatusCode);
        Assert.AreEqual("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var enumerator = SseTestKit.ReadEventsAsync(await response.Content.ReadAsStreamAsync()).GetAsyncEnumerator();

        // The upstream holds after its first event until this test releases it: the first event must arrive before that.
        Assert.IsTrue(await enumerator.MoveNextAsync().AsTask().WaitAsync(Patience), "the stream ended early");
        Assert.IsFalse(release.Task.IsCompleted);
        Assert.AreEqual("assistant", enumerator.Current.Json["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        release.SetResult();

        var rest = new List<SseEvent>();
        while (await enumerator.MoveNextAsync().AsTask().WaitAsync(Patience))
        {
            rest.Add(enumerator.Current);
        }

        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(rest));
    }

    [TestMethod]
    public async Task OpenAI_EventsPassUnchanged_UsageChunkHidden_MetricsEventLast_CallSettled()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-openai-stream-secret-0001");
        var upstreamEvents = SseTestKit.OpenAIStream(prompt: 1000, completion: 500);
        _openai.Handler = SseTestKit.Serve(upstreamEvents);
        var before = _openai.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(providerOptions: new { temperature = 0.1 }), new() { ["x-killtoken-feature"] = "live-chat" });
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _openai.Requests[before];
        Assert.AreEqual("/v1/chat/completions", upstream.Path);
        Assert.IsTrue(upstream.Json["stream"]!.GetValue<bool>());
        Assert.IsTrue(upstream.Json["stream_options"]!["include_usage"]!.GetValue<bool>(), "usage is asked for upstream");
        Assert.AreEqual(0.1, upstream.Json["temperature"]!.GetValue<double>());
        Assert.AreEqual("text/event-stream", upstream.Header("accept"));

        // Every upstream event but the usage-only chunk, byte for byte, then the metrics.
        var expected = upstreamEvents.Where(e => !e.Contains("\"choices\":[]", StringComparison.Ordinal)).Select(e => e["data: ".Length..].TrimEnd('\n')).ToList();
        var passed = events.Where(e => e.Name is null).Select(e => e.Data).ToList();
        CollectionAssert.AreEqual(expected, passed);
        Assert.AreEqual("[DONE]", passed[^1]);

        var metricsEvent = events[^1];
        Assert.AreEqual("killtoken.metrics", metricsEvent.Name);
        var metrics = metricsEvent.Json;
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(500, metrics["outputTokens"]!.GetValue<long>());
        // gpt-4o-mini: $0.15 in, $0.60 out per 1M → 150 + 300 = 450 µ$.
        Assert.AreEqual(0.00045m, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("live-chat", metrics["feature"]!.GetValue<string>());

        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual(200, trace["status"]!.GetValue<int>());
        Assert.IsTrue(trace["stream"]!.GetValue<bool>());
        Assert.AreEqual(1500, trace["totalTokens"]!.GetValue<long>());
        Assert.AreEqual(0.00045m, trace["costUsd"]!.GetValue<decimal>());
        Assert.IsNull(trace["errorCode"]);

        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        Assert.AreEqual(0.00045m, project["spend"]!["today"]!["spentUsd"]!.GetValue<decimal>(), "the budget is settled with the stream's real cost");
        Assert.AreEqual(0m, project["spend"]!["today"]!["reservedUsd"]!.GetValue<decimal>(), "and its reservation released");
    }

    [TestMethod]
    public async Task OpenAI_ClientThatAskedForUsage_GetsTheUsageChunk()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream());

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(providerOptions: new { stream_options = new { include_usage = true } }));
        var events = await SseTestKit.ReadAllAsync(response);

        var usageChunk = events.Single(e => e.Name is null && e.Data.StartsWith('{') && e.Json["choices"]!.AsArray().Count == 0);
        Assert.AreEqual(21, usageChunk.Json["usage"]!["total_tokens"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task OpenAI_StreamWithoutDone_IsAFailure_ErrorEventAndProviderErrorTrace()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(usageChunk: false, done: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(events), "what arrived was passed on");
        var error = events.Single(e => e.Name == "error").Json["error"]!;
        Assert.AreEqual("provider_error", error["code"]!.GetValue<string>());
        Assert.AreEqual("killtoken.metrics", events[^1].Name);

        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual(502, trace["status"]!.GetValue<int>());
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>());
        Assert.IsTrue(trace["outputTokens"]!.GetValue<long>() > 0, "what the provider generated before the break is recorded");
    }

    [TestMethod]
    public async Task ClientDisconnect_AbortsTheUpstreamRequest_AndTracesClientClosedRequest()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(), holdForever: true, aborted: aborted);

        var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var requestId = SseTestKit.RequestId(response);
        var body = await response.Content.ReadAsStreamAsync();
        await using (var enumerator = SseTestKit.ReadEventsAsync(body).GetAsyncEnumerator())
        {
            Assert.IsTrue(await enumerator.MoveNextAsync().AsTask().WaitAsync(Patience));
        }

        response.Dispose(); // the client goes away mid-stream

        await aborted.Task.WaitAsync(Patience); // the upstream saw its request aborted
        var trace = await SseTestKit.WaitForTraceAsync(tenant, requestId);
        Assert.AreEqual(499, trace["status"]!.GetValue<int>());
        Assert.AreEqual("client_closed_request", trace["errorCode"]!.GetValue<string>());
        Assert.IsTrue(trace["inputTokens"]!.GetValue<long>() > 0, "the prompt the provider read is recorded");
    }

    [TestMethod]
    public async Task ClientGoneBeforeTheUpstreamAnswered_AbortsIt_AndIsTracedToo()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _openai.Handler = async (context, _) =>
        {
            arrived.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }
        };
        var before = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests"), 200);

        using var leave = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat") { Content = System.Net.Http.Json.JsonContent.Create(Chat()) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        var sending = _host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
        await arrived.Task.WaitAsync(Patience);
        await leave.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => sending);

        await aborted.Task.WaitAsync(Patience);
        var deadline = DateTime.UtcNow + Patience;
        JsonNode? trace = null;
        while (trace is null && DateTime.UtcNow < deadline)
        {
            var page = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests"), 200);
            trace = page["data"]!.AsArray().FirstOrDefault(t => t!["errorCode"]?.GetValue<string>() == "client_closed_request");
            await Task.Delay(50);
        }

        Assert.IsNotNull(trace, "the abandoned stream is traced");
        Assert.AreEqual(499, trace["status"]!.GetValue<int>());
        Assert.AreEqual(before["data"]!.AsArray().Count + 1, (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests"), 200))["data"]!.AsArray().Count);
    }

    [TestMethod]
    public async Task UpstreamErrorBeforeTheStream_IsAPlainJsonError_AndRetriedLikeAnyCall()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        var attempts = 0;
        var stream = SseTestKit.Serve(SseTestKit.OpenAIStream());
        _openai.Handler = (context, request) => Interlocked.Increment(ref attempts) == 1
            ? FakeUpstream.Json(Fixtures.OpenAIError("The server is overloaded.", "server_error", null), 503)(context, request)
            : stream(context, request);

        using var retried = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(await SseTestKit.ReadAllAsync(retried)), "a 503 before the response began is retried");

        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("Invalid 'messages'.", "invalid_request_error", null), 400);
        using var rejected = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var error = await GatewayHost.ReadJsonAsync(rejected, 400);
        Assert.AreEqual("provider_rejected", error["error"]!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CacheHit_ReplaysAsAStream_AndAStreamedAnswerServesPlainRequestsToo()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(pieces: ["Cached", " answer"], prompt: 40, completion: 2));
        var before = _openai.Count;

        using var first = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "cache me", cache: "read_write"));
        var firstEvents = await SseTestKit.ReadAllAsync(first);
        Assert.AreEqual("miss", firstEvents[^1].Json["cacheStatus"]!.GetValue<string>());

        using var second = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "cache me", cache: "read_write"));
        var secondEvents = await SseTestKit.ReadAllAsync(second);
        Assert.AreEqual(before + 1, _openai.Count, "the hit makes no provider call");
        Assert.AreEqual("Cached answer", SseTestKit.OpenAIText(secondEvents));
        Assert.AreEqual("[DONE]", secondEvents.Last(e => e.Name is null).Data);
        var metrics = secondEvents[^1].Json;
        Assert.AreEqual("hit", metrics["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("free", metrics["costStatus"]!.GetValue<string>());
        Assert.AreEqual(42, metrics["totalTokens"]!.GetValue<long>());

        var plain = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new
        {
            provider = "openai",
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = "cache me" } },
            cachePolicy = new { exactCache = "read_write" },
        }), 200);
        Assert.AreEqual(before + 1, _openai.Count);
        Assert.AreEqual("hit", plain["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("Cached answer", plain["response"]!["choices"]![0]!["message"]!["content"]!.GetValue<string>(), "the stream was reassembled into a chat.completion");
        Assert.AreEqual(42, plain["response"]!["usage"]!["total_tokens"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task IdempotentReplay_OfAStream_IsAStreamWithoutAProviderCall()
    {
        var tenant = await _host.CreateTenantAsync("openai");
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(pieces: ["Once"]));
        var before = _openai.Count;
        var key = "stream-" + Guid.NewGuid().ToString("N");

        using var first = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "only once", idempotencyKey: key));
        await SseTestKit.ReadAllAsync(first);
        using var again = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "only once", idempotencyKey: key));
        var replayed = await SseTestKit.ReadAllAsync(again);

        Assert.AreEqual(before + 1, _openai.Count);
        Assert.AreEqual("Once", SseTestKit.OpenAIText(replayed));
        Assert.AreEqual("replayed", replayed[^1].Json["idempotency"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Anthropic_OnChat_PassesItsEventsUnchanged_UsageFromMessageStartAndDelta()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        var upstreamEvents = SseTestKit.AnthropicStream(input: 100, output: 50, cacheRead: 1000);
        _anthropic.Handler = SseTestKit.Serve(upstreamEvents);
        var before = _anthropic.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat("anthropic", "claude-3-5-haiku-20241022", providerOptions: new { max_tokens = 300 }));
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.IsTrue(_anthropic.Requests[before].Json["stream"]!.GetValue<bool>());
        var names = events.Select(e => e.Name).ToList();
        CollectionAssert.AreEqual(new[] { "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop", "killtoken.metrics" }, names);
        Assert.AreEqual(upstreamEvents[3], $"event: {events[3].Name}\ndata: {events[3].Data}\n\n", "events pass byte for byte");

        var metrics = events[^1].Json;
        Assert.AreEqual(1100, metrics["inputTokens"]!.GetValue<long>(), "input + cache reads");
        Assert.AreEqual(50, metrics["outputTokens"]!.GetValue<long>(), "output from message_delta");
        // claude-3-5-haiku: $0.80 in, $0.08 cache read, $4.00 out per 1M → 80 + 80 + 200 = 360 µ$.
        Assert.AreEqual(0.00036m, metrics["costUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    public async Task Anthropic_StreamWithoutMessageStop_IsAFailure()
    {
        var tenant = await _host.CreateTenantAsync("anthropic");
        _anthropic.Handler = SseTestKit.Serve(SseTestKit.AnthropicStream(stop: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat("anthropic", "claude-3-5-haiku-20241022"));
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual("provider_error", events.Single(e => e.Name == "error").Json["error"]!["code"]!.GetValue<string>());
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>());
        Assert.AreEqual(15, trace["outputTokens"]!.GetValue<long>(), "usage reported before the break counts");
    }

    [TestMethod]
    public async Task Gemini_OnChat_StreamsFromStreamGenerateContentWithAltSse()
    {
        var tenant = await _host.CreateTenantAsync("gemini", "gemini-stream-secret-key-0001");
        _gemini.Handler = SseTestKit.Serve(SseTestKit.GeminiStream(prompt: 9, candidates: 12));
        var before = _gemini.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat("gemini", "gemini-2.0-flash"));
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _gemini.Requests[before];
        Assert.AreEqual("/v1beta/models/gemini-2.0-flash:streamGenerateContent", upstream.Path);
        Assert.AreEqual("?alt=sse", upstream.Query);
        Assert.AreEqual("gemini-stream-secret-key-0001", upstream.Header("x-goog-api-key"));
        Assert.AreEqual(4, events.Count);
        Assert.AreEqual("STOP", events[2].Json["candidates"]![0]!["finishReason"]!.GetValue<string>());
        Assert.AreEqual(21, events[^1].Json["totalTokens"]!.GetValue<long>());
    }

    [TestMethod]
    public async Task StreamingForBedrock_IsNot422_ItNeedsItsCredentialLikeAPlainCall()
    {
        // Every provider KillToken serves streams now (Bedrock through ConverseStream, see BedrockStreamingTests).
        var tenant = await _host.CreateTenantAsync("openai");
        var response = await tenant.ChatAsync(Chat("aws_bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0"));

        var error = await GatewayHost.ReadJsonAsync(response, 400);
        Assert.AreEqual("provider_credential_required", error["error"]!["code"]!.GetValue<string>());
    }
}
