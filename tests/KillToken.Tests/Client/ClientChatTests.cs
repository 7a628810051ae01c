using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Client;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.Client.ClientRequests;

namespace KillToken.Tests.Client;

/// <summary><c>KillTokenClient</c>'s chat calls against the real gateway: plain, streamed, replayed, cached.</summary>
[TestClass]
public sealed class ClientChatTests
{
    private static ClientGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _gateway = await ClientGateway.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _gateway.DisposeAsync();

    [TestInitialize]
    public void ResetProvider() => _gateway.OpenAI.Handler = ClientGateway.Answer;

    [TestMethod]
    public async Task Chat_ReturnsTheProviderResponseAndMetrics_AndSendsEveryField()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var request = Chat("Summarise the ticket.");
        request.Feature = "support-bot";
        request.Metadata["ticket"] = "T-1";
        request.MaxTokens = 120;
        request.ProviderOptions = new JsonObject { ["temperature"] = 0.2 };
        request.OptimizationMode = OptimizationMode.Safe;

        var result = await client.ChatAsync(request);

        Assert.AreEqual("Hello from the fake provider.", result.OutputText);
        Assert.AreEqual("chat.completion", result.Response.GetProperty("object").GetString(), "the provider's body, unchanged");
        var metrics = result.Metrics;
        StringAssert.StartsWith(metrics.RequestId, "req");
        Assert.AreEqual(ModelProvider.OpenAI, metrics.Provider);
        Assert.AreEqual("gpt-4o", metrics.FinalModel);
        Assert.AreEqual(1000, metrics.InputTokens);
        Assert.AreEqual(100, metrics.OutputTokens);
        Assert.AreEqual(ClientGateway.CallCostUsd, metrics.CostUsd);
        Assert.AreEqual(CostStatus.Priced, metrics.CostStatus);
        Assert.AreEqual(CacheStatus.Bypass, metrics.CacheStatus);
        Assert.AreEqual(IdempotencyStatus.None, metrics.Idempotency);
        Assert.AreEqual("support-bot", metrics.Feature);
        Assert.AreEqual("safe", metrics.OptimizationMode);

        var sent = _gateway.OpenAI.Requests[^1].Json;
        Assert.AreEqual(120, sent["max_tokens"]!.GetValue<int>(), "MaxTokens went out as providerOptions.max_tokens");
        Assert.AreEqual(0.2, sent["temperature"]!.GetValue<double>());
        Assert.AreEqual("Summarise the ticket.", sent["messages"]![1]!["content"]!.GetValue<string>());
        Assert.AreEqual("Bearer sk-test-tenant-key-0123456789", _gateway.OpenAI.Requests[^1].Header("authorization"), "the workspace's own credential, not the client's key");
    }

    [TestMethod]
    public async Task StreamChat_YieldsTheProviderEventsAsTheyArrive_ThenTheMetrics()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var release = new TaskCompletionSource();
        _gateway.OpenAI.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream("gpt-4o", ["Hello", " there", "!"], prompt: 9, completion: 12), holdAfterFirst: release.Task);

        var events = new List<ChatStreamEvent>();
        await foreach (var e in client.StreamChatAsync(Chat()))
        {
            // The first event arrives while the provider still holds the rest: nothing is buffered.
            release.TrySetResult();
            events.Add(e);
        }

        Assert.AreEqual("Hello there!", string.Concat(events.Select(e => e.TextDelta)));
        Assert.AreEqual("[DONE]", events[^2].Data, "the provider's own terminator passes through");
        var metrics = events[^1].Metrics;
        Assert.IsNotNull(metrics, "the stream closes with the gateway's metrics");
        Assert.AreEqual("killtoken.metrics", events[^1].EventName);
        Assert.AreEqual(1, events.Count(e => e.IsMetrics));
        Assert.AreEqual(9, metrics.InputTokens);
        Assert.AreEqual(12, metrics.OutputTokens);
        Assert.IsTrue(_gateway.OpenAI.Requests[^1].Json["stream"]!.GetValue<bool>());

        var trace = await WaitForTraceAsync(client, metrics.RequestId);
        Assert.IsTrue(trace.Stream);
        Assert.AreEqual(12, trace.OutputTokens);
    }

    [TestMethod]
    public async Task StreamChat_AStreamThatBreaksOff_YieldsWhatArrivedAndTheMetrics_ThenThrowsTheGatewaysError()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        _gateway.OpenAI.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream("gpt-4o", ["Half an ans"], usageChunk: false, done: false));

        var events = new List<ChatStreamEvent>();
        var failure = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(async () =>
        {
            await foreach (var e in client.StreamChatAsync(Chat()))
            {
                events.Add(e);
            }
        });

        Assert.AreEqual("Half an ans", string.Concat(events.Select(e => e.TextDelta)));
        Assert.IsTrue(events[^1].IsMetrics, "the metrics still arrive before the failure is raised");
        Assert.AreEqual("provider_error", failure.ErrorCode);
        Assert.AreEqual(200, failure.Status, "the stream had begun with 200");
        StringAssert.Contains(failure.GatewayMessage, "terminator");
        AssertKeyAbsent(failure, tenant.ApiKey);
    }

    [TestMethod]
    public async Task Chat_WithAnIdempotencyKey_ReplaysTheStoredAnswer_WithoutASecondProviderCall()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var before = _gateway.OpenAI.Count;
        var request = Chat("charge order 42");
        request.IdempotencyKey = "order-42";

        var first = await client.ChatAsync(request);
        var replay = await client.ChatAsync(request);

        Assert.AreEqual(before + 1, _gateway.OpenAI.Count, "one provider call");
        Assert.AreEqual(IdempotencyStatus.New, first.Metrics.Idempotency);
        Assert.AreEqual(IdempotencyStatus.Replayed, replay.Metrics.Idempotency);
        Assert.AreEqual(0m, replay.Metrics.CostUsd, "a replay is not billed");
        Assert.AreEqual(first.Response.GetRawText(), replay.Response.GetRawText());
    }

    [TestMethod]
    public async Task Chat_ReadWriteCache_MissThenHit_TheHitIsFreeAndSkipsTheProvider()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var before = _gateway.OpenAI.Count;
        var request = Chat("cache me");
        request.CachePolicy = CachePolicy.ReadWrite;

        var miss = await client.ChatAsync(request);
        var hit = await client.ChatAsync(request);

        Assert.AreEqual(before + 1, _gateway.OpenAI.Count);
        Assert.AreEqual(CacheStatus.Miss, miss.Metrics.CacheStatus);
        Assert.AreEqual(CacheStatus.Hit, hit.Metrics.CacheStatus);
        Assert.AreEqual(0m, hit.Metrics.CostUsd);
        Assert.AreEqual(ClientGateway.CallCostUsd, hit.Metrics.SavedUsd, "the hit records the cost it avoided");
        Assert.AreEqual(miss.OutputText, hit.OutputText);
    }

    [TestMethod]
    public async Task Chat_TheClientRejectsWhatItOwns_BeforeSendingAnything()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var before = _gateway.OpenAI.Count;

        await Assert.ThrowsExactlyAsync<ArgumentException>(() => client.ChatAsync(new ChatRequest(ModelProvider.OpenAI, "gpt-4o", [])));
        Assert.ThrowsExactly<ArgumentException>(() => new ChatRequest(ModelProvider.OpenAI, " ", [ChatMessage.User("hi")]));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KillTokenClient(_gateway.Host.BaseAddress, tenant.ApiKey, new KillTokenClientOptions { MaxRetries = -1 }));
        Assert.ThrowsExactly<ArgumentException>(() => new KillTokenClient(new Uri("ftp://example.com"), tenant.ApiKey));

        Assert.AreEqual(before, _gateway.OpenAI.Count);
    }

    /// <summary>A stream's trace is written when it ends, which may be just after the client read its last event.</summary>
    internal static async Task<RequestTrace> WaitForTraceAsync(KillTokenClient client, string requestId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                return await client.GetRequestAsync(requestId);
            }
            catch (KillTokenRequestException e) when (e.Status == 404 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}
