using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using KillToken.Tests.Providers;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Streaming;

/// <summary>
/// <c>stream: true</c> for <c>aws_bedrock</c>: ConverseStream's binary event stream from a loopback AWS that checks the
/// SigV4 signature, relayed as server-sent events (or OpenAI chunks on the wrapper), failures and cache hits included.
/// </summary>
[TestClass]
public sealed class BedrockStreamingTests
{
    private const string AccessKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string Region = "us-west-2";
    private const string Model = "anthropic.claude-3-5-haiku-20241022-v1:0";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSTREAMKEY1";
    private const string Session = "FwoGZXIvYXdzEBYaDEXAMPLE-stream-session-token";

    private static readonly string[] ConverseEvents = ["messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"];
    private static readonly ConcurrentQueue<(string Target, string Verdict)> Verdicts = new();
    private static FakeUpstream _bedrock = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _bedrock = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_AWS_BEDROCK_BASE_URL"] = _bedrock.BaseAddress.ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _bedrock.DisposeAsync();
    }

    private static Task<Tenant> TenantAsync() => _host.CreateTenantAsync(credential: new
    {
        provider = "aws_bedrock",
        secrets = new { accessKeyId = AccessKeyId, secretAccessKey = Secret, sessionToken = Session },
        config = new { region = Region },
    });

    /// <summary>Plays AWS: checks the signature (as BedrockAdapterTests does), then streams <paramref name="messages"/>.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> SignedStream(IReadOnlyList<byte[]> messages) => async (context, request) =>
    {
        Verdicts.Enqueue((ProviderTestKit.RawTarget(context), BedrockAdapterTests.VerifySignature(ProviderTestKit.RawTarget(context), request, Secret)));
        await AwsEventStream.Serve(messages)(context, request);
    };

    private static object Chat(string content = "Say hello", string? cache = null) => new
    {
        provider = "aws_bedrock",
        model = Model,
        messages = new[] { new { role = "user", content } },
        stream = true,
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    private static string Text(IEnumerable<SseEvent> events) => string.Concat(events
        .Where(e => e.Name == "contentBlockDelta")
        .Select(e => e.Json["delta"]?["text"]?.GetValue<string>() ?? string.Empty));

    [TestMethod]
    public async Task Chat_StreamsConverseStreamEvents_SignedToConverseStream_CostSettledFromMetadata()
    {
        var tenant = await TenantAsync();
        _bedrock.Handler = SignedStream(AwsEventStream.ConverseStream(input: 100, output: 50, cacheRead: 1000, cacheWrite: 400));
        var before = _bedrock.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        Assert.AreEqual(200, (int)response.StatusCode);
        Assert.AreEqual("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _bedrock.Requests[before];
        var (target, verdict) = Verdicts.Last();
        Assert.AreEqual("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream", target);
        Assert.AreEqual("ok", verdict);
        Assert.AreEqual(Session, upstream.Header("x-amz-security-token"));
        Assert.AreEqual(AwsEventStream.MediaType, upstream.Header("accept"));
        Assert.AreEqual("Say hello", upstream.Json["messages"]![0]!["content"]![0]!["text"]!.GetValue<string>());

        CollectionAssert.AreEqual(ConverseEvents.Append("killtoken.metrics").ToList(), events.Select(e => e.Name).ToList());
        Assert.AreEqual("Hello from Bedrock!", Text(events));
        Assert.AreEqual("end_turn", events[5].Json["stopReason"]!.GetValue<string>());
        Assert.AreEqual(400, events[6].Json["usage"]!["cacheWriteInputTokens"]!.GetValue<int>(), "metadata reaches the client as AWS sent it");

        var metrics = events[^1].Json;
        Assert.AreEqual(1500, metrics["inputTokens"]!.GetValue<long>(), "input + cache reads + cache writes");
        Assert.AreEqual(1000, metrics["cachedInputTokens"]!.GetValue<long>());
        Assert.AreEqual(50, metrics["outputTokens"]!.GetValue<long>());
        // claude-3-5-haiku on Bedrock: $0.80 in, $0.08 read, $1.00 write, $4.00 out → 80 + 80 + 400 + 200 = 760 µ$.
        Assert.AreEqual(0.00076m, metrics["costUsd"]!.GetValue<decimal>());

        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual(200, trace["status"]!.GetValue<int>());
        Assert.IsTrue(trace["stream"]!.GetValue<bool>());
        Assert.AreEqual(1550, trace["totalTokens"]!.GetValue<long>());
        Assert.AreEqual(0.00076m, trace["costUsd"]!.GetValue<decimal>());
        Assert.IsNull(trace["errorCode"]);
        ProviderTestKit.AssertNoSecret(string.Join('\n', events.Select(e => e.Data)) + trace.ToJsonString(), Secret, Session);
    }

    [TestMethod]
    public async Task OpenAIWrapper_OverBedrock_StreamsChatCompletionChunks_WithToolCallsAndUsage()
    {
        var tenant = await TenantAsync();
        _bedrock.Handler = SignedStream(AwsEventStream.ConverseStream(input: 20, output: 9, toolCall: true));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/openai/chat/completions", new
        {
            model = Model,
            messages = new[] { new { role = "user", content = "Weather in Boston?" } },
            stream = true,
            stream_options = new { include_usage = true },
            max_tokens = 64,
        }, new() { ["x-killtoken-provider"] = "aws_bedrock" });
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual("ok", Verdicts.Last().Verdict);
        Assert.AreEqual(64, _bedrock.Requests[^1].Json["inferenceConfig"]!["maxTokens"]!.GetValue<int>());
        var chunks = events.Where(e => e.Name is null && e.Data.StartsWith('{')).Select(e => e.Json).ToList();
        Assert.IsTrue(chunks.All(c => c["object"]!.GetValue<string>() == "chat.completion.chunk"));
        Assert.AreEqual("assistant", chunks[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        Assert.AreEqual("Hello from Bedrock!", SseTestKit.OpenAIText(events));

        var calls = chunks.Where(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["delta"]!["tool_calls"] is not null)
            .Select(c => c["choices"]![0]!["delta"]!["tool_calls"]![0]!).ToList();
        Assert.AreEqual("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", calls[0]["id"]!.GetValue<string>());
        Assert.AreEqual("get_weather", calls[0]["function"]!["name"]!.GetValue<string>());
        Assert.IsTrue(calls.All(c => c["index"]!.GetValue<int>() == 0));
        Assert.AreEqual("{\"city\":\"Boston\"}", string.Concat(calls.Select(c => c["function"]!["arguments"]!.GetValue<string>())));

        var finish = chunks.Single(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["finish_reason"] is not null);
        Assert.AreEqual("tool_calls", finish["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.AreEqual(29, chunks[^1]["usage"]!["total_tokens"]!.GetValue<int>(), "the client asked for the usage chunk");
        Assert.AreEqual("[DONE]", events.Last(e => e.Name is null).Data);
        Assert.AreEqual("killtoken.metrics", events[^1].Name);
    }

    [TestMethod]
    [DataRow(2, DisplayName = "in a text delta")]
    [DataRow(6, DisplayName = "in the metadata after messageStop")]
    public async Task ACorruptedCrc_IsAnErrorEvent_AndAProviderErrorTrace(int corrupt)
    {
        var tenant = await TenantAsync();
        var messages = AwsEventStream.ConverseStream(input: 10, output: 5);
        messages[corrupt] = messages[corrupt].ToArray();
        messages[corrupt][^1] ^= 0xff; // the message CRC
        _bedrock.Handler = SignedStream(messages);

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var events = await SseTestKit.ReadAllAsync(response);

        CollectionAssert.AreEqual(ConverseEvents.Take(corrupt).ToList(), events.Where(e => e.Name != "error" && e.Name != "killtoken.metrics").Select(e => e.Name).ToList(),
            "what decoded before the bad message was passed on");
        var error = events.Single(e => e.Name == "error").Json["error"]!;
        Assert.AreEqual("provider_error", error["code"]!.GetValue<string>());
        StringAssert.Contains(error["message"]!.GetValue<string>(), "CRC");
        Assert.AreEqual("killtoken.metrics", events[^1].Name);
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task AStreamCutBeforeMessageStop_IsAFailure()
    {
        var tenant = await TenantAsync();
        _bedrock.Handler = SignedStream(AwsEventStream.ConverseStream(stop: false, metadata: false));

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.AreEqual("Hello from Bedrock!", Text(events), "what arrived was passed on");
        Assert.AreEqual("provider_error", events.Single(e => e.Name == "error").Json["error"]!["code"]!.GetValue<string>());
        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual("provider_error", trace["errorCode"]!.GetValue<string>());
        Assert.IsTrue(trace["outputTokens"]!.GetValue<long>() > 0, "output without usage is estimated from the text that arrived");
    }

    [TestMethod]
    [DataRow("throttlingException", "Too many requests, please wait before trying again.", "provider_rate_limited")]
    [DataRow("validationException", "The model returned the following errors: max_tokens is too large.", "provider_rejected")]
    [DataRow("modelStreamErrorException", "The model stream failed.", "provider_error")]
    public async Task AnExceptionMessage_EndsTheStreamAsAMappedFailure(string exceptionType, string message, string code)
    {
        var tenant = await TenantAsync();
        var messages = AwsEventStream.ConverseStream().Take(2).Append(AwsEventStream.Exception(exceptionType, message)).ToList();
        _bedrock.Handler = SignedStream(messages);

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat());
        var events = await SseTestKit.ReadAllAsync(response);

        Assert.IsFalse(events.Any(e => e.Name == exceptionType), "the exception is reported as KillToken's error event, not relayed");
        var error = events.Single(e => e.Name == "error").Json["error"]!;
        Assert.AreEqual(code, error["code"]!.GetValue<string>());
        if (code == "provider_rejected")
        {
            Assert.AreEqual(400, error["providerStatus"]!.GetValue<int>());
            Assert.AreEqual(message, error["providerError"]!["message"]!.GetValue<string>());
            Assert.AreEqual(exceptionType, error["providerError"]!["exceptionType"]!.GetValue<string>());
        }

        var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
        Assert.AreEqual(code, trace["errorCode"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CacheHit_ReplaysAsAConverseStream_AndTheStreamedAnswerServesPlainRequests()
    {
        var tenant = await TenantAsync();
        _bedrock.Handler = SignedStream(AwsEventStream.ConverseStream(pieces: ["Cached", " answer"], input: 40, output: 2));
        var before = _bedrock.Count;

        using var first = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "cache me", cache: "read_write"));
        Assert.AreEqual("miss", (await SseTestKit.ReadAllAsync(first))[^1].Json["cacheStatus"]!.GetValue<string>());

        using var second = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: "cache me", cache: "read_write"));
        var replayed = await SseTestKit.ReadAllAsync(second);
        Assert.AreEqual(before + 1, _bedrock.Count, "the hit makes no provider call");
        CollectionAssert.AreEqual(new[] { "messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata", "killtoken.metrics" },
            replayed.Select(e => e.Name).ToList());
        Assert.AreEqual("Cached answer", Text(replayed));
        Assert.AreEqual(42, replayed[4].Json["usage"]!["totalTokens"]!.GetValue<int>());
        Assert.AreEqual("hit", replayed[^1].Json["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(42, replayed[^1].Json["totalTokens"]!.GetValue<long>());

        var plain = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new
        {
            provider = "aws_bedrock",
            model = Model,
            messages = new[] { new { role = "user", content = "cache me" } },
            cachePolicy = new { exactCache = "read_write" },
        }), 200);
        Assert.AreEqual(before + 1, _bedrock.Count);
        Assert.AreEqual("hit", plain["metrics"]!["cacheStatus"]!.GetValue<string>());
        var expected = JsonNode.Parse("""
        {
          "output": { "message": { "role": "assistant", "content": [ { "text": "Cached answer" } ] } },
          "stopReason": "end_turn",
          "usage": { "inputTokens": 40, "outputTokens": 2, "totalTokens": 42, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0 },
          "metrics": { "latencyMs": 318 }
        }
        """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, plain["response"]), "the stream was reassembled into a Converse response: " + plain["response"]);
    }
}
