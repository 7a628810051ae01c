using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using KillToken.Client;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using static KillToken.Tests.Client.ClientRequests;

namespace KillToken.Tests.Client;

/// <summary>
/// Retry-After and cancellation. Against the real gateway where it can produce the answer (a provider's 429 passed on
/// with its Retry-After; a provider that never answers); against a stub standing in for the gateway where only the
/// client's policy is under test (a 503 then a 200, a port nobody listens on).
/// </summary>
[TestClass]
public sealed class ClientRetryAndCancellationTests
{
    private static ClientGateway _gateway = null!;
    private static FakeUpstream _stub = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _gateway = await ClientGateway.StartAsync();
        _stub = await FakeUpstream.StartAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _gateway.DisposeAsync();
        await _stub.DisposeAsync();
    }

    [TestInitialize]
    public void Reset()
    {
        _gateway.OpenAI.Handler = ClientGateway.Answer;
        _stub.Clear();
    }

    /// <summary>The provider rate-limits the first <paramref name="refusals"/> calls (Retry-After: 1 s), then answers; every call's arrival is kept.</summary>
    private static ConcurrentQueue<DateTime> RateLimitedProvider(int refusals)
    {
        var arrivals = new ConcurrentQueue<DateTime>();
        _gateway.OpenAI.Handler = (context, request) =>
        {
            arrivals.Enqueue(DateTime.UtcNow);
            return arrivals.Count <= refusals
                ? FakeUpstream.Json(Fixtures.OpenAIError("Rate limit reached for gpt-4o.", "requests", "rate_limit_exceeded"), 429,
                    response => response.Headers.RetryAfter = "1")(context, request)
                : ClientGateway.Answer(context, request);
        };
        return arrivals;
    }

    [TestMethod]
    public async Task Chat_WithAnIdempotencyKey_WaitsTheGatewaysRetryAfter_ThenSucceeds()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        // The gateway itself tries the provider three times, then answers 429 provider_rate_limited with Retry-After: 1.
        var arrivals = RateLimitedProvider(refusals: 3);
        var request = Chat("rate limited");
        request.IdempotencyKey = "rl-1";

        var result = await client.ChatAsync(request);

        var times = arrivals.ToArray();
        Assert.AreEqual(4, times.Length, "the gateway's three attempts, then the client's retry");
        Assert.IsTrue(times[3] - times[2] >= TimeSpan.FromSeconds(0.9), $"the client waited the Retry-After (waited {(times[3] - times[2]).TotalSeconds:0.00} s)");
        Assert.AreEqual(IdempotencyStatus.New, result.Metrics.Idempotency, "the failed attempt left the key free");
        Assert.AreEqual("Hello from the fake provider.", result.OutputText);
    }

    [TestMethod]
    public async Task Chat_WithoutAnIdempotencyKey_IsNotRetried_AndCarriesRetryAfter()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var arrivals = RateLimitedProvider(refusals: 3);

        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.ChatAsync(Chat("rate limited")));

        Assert.AreEqual(3, arrivals.Count, "only the gateway's own attempts: a POST without a key might be billed twice");
        Assert.AreEqual(429, refused.Status);
        Assert.AreEqual("provider_rate_limited", refused.ErrorCode);
        Assert.AreEqual(TimeSpan.FromSeconds(1), refused.RetryAfter);
        AssertKeyAbsent(refused, tenant.ApiKey);
    }

    /// <summary>A stub gateway: answers 503 store_unavailable (with <paramref name="retryAfter"/>) <paramref name="failures"/> times, then <paramref name="success"/>.</summary>
    private static void StubGateway(int failures, string? retryAfter, JsonObject success, string? shouldRetry = null) =>
        _stub.Handler = (context, request) => _stub.Count <= failures
            ? FakeUpstream.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = "store_unavailable", ["message"] = "The store did not answer.", ["requestId"] = "req_stub" } },
                503, response =>
                {
                    if (retryAfter is not null)
                    {
                        response.Headers.RetryAfter = retryAfter;
                    }

                    if (shouldRetry is not null)
                    {
                        response.Headers["x-should-retry"] = shouldRetry;
                    }
                })(context, request)
            : FakeUpstream.Json(success)(context, request);

    private static readonly JsonObject Summary = JsonNode.Parse("""{"from":"2025-01-01","to":"2025-01-30","totals":{"requests":7},"topTemplates":[],"byFeature":[]}""")!.AsObject();

    private static KillTokenClient StubClient(KillTokenClientOptions? options = null) =>
        new(_stub.BaseAddress, "kt_live_stubkey0123456789abcdefghijklmnop", options ?? new KillTokenClientOptions { ApplicationId = "retry-test" });

    [TestMethod]
    public async Task Read_503WithRetryAfter_IsRetriedAfterTheWait()
    {
        StubGateway(failures: 1, retryAfter: "1", Summary);

        var clock = Stopwatch.StartNew();
        var summary = await StubClient().GetSummaryAsync();

        Assert.AreEqual(7, summary.Totals.Requests);
        Assert.AreEqual(2, _stub.Count);
        Assert.IsTrue(clock.Elapsed >= TimeSpan.FromSeconds(0.9), "waited the Retry-After");
        Assert.IsTrue(_stub.Requests.All(r => r.Header("authorization") == "Bearer kt_live_stubkey0123456789abcdefghijklmnop"), "the key on every attempt");
        StringAssert.StartsWith(_stub.Requests[0].Header("user-agent"), "retry-test KillToken.Client/");
    }

    [TestMethod]
    public async Task Retries_StopAfterMaxRetries_WithTheLastAnswersError()
    {
        StubGateway(failures: int.MaxValue, retryAfter: "0", Summary);

        var failed = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => StubClient(new KillTokenClientOptions { MaxRetries = 2 }).GetSummaryAsync());

        Assert.AreEqual(3, _stub.Count, "the first attempt and two retries");
        Assert.AreEqual(503, failed.Status);
        Assert.AreEqual("store_unavailable", failed.ErrorCode);
        Assert.AreEqual("req_stub", failed.RequestId);
        Assert.AreEqual(TimeSpan.Zero, failed.RetryAfter);
    }

    [TestMethod]
    public async Task RetryAfterLongerThanMaxRetryDelay_FailsAtOnce()
    {
        StubGateway(failures: 1, retryAfter: "120", Summary);

        var clock = Stopwatch.StartNew();
        var failed = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => StubClient(new KillTokenClientOptions { MaxRetryDelay = TimeSpan.FromSeconds(30) }).GetSummaryAsync());

        Assert.AreEqual(1, _stub.Count);
        Assert.AreEqual(TimeSpan.FromSeconds(120), failed.RetryAfter);
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [TestMethod]
    public async Task ShouldRetryFalse_AndUnsafeCalls_AreNotRetried()
    {
        StubGateway(failures: 1, retryAfter: "0", Summary, shouldRetry: "false");
        await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => StubClient().GetSummaryAsync());
        Assert.AreEqual(1, _stub.Count, "x-should-retry: false is obeyed");

        _stub.Clear();
        StubGateway(failures: 2, retryAfter: "0", Summary);
        await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => StubClient().TestProviderCredentialAsync("cred_1"));
        await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => StubClient().ChatAsync(Chat()));
        Assert.AreEqual(2, _stub.Count, "a credential test and a chat without an idempotency key are sent once each");
    }

    [TestMethod]
    public async Task NoAnswer_IsStatus0_AfterTheRetries()
    {
        var gone = await FakeUpstream.StartAsync();
        var address = gone.BaseAddress;
        await gone.DisposeAsync();
        var client = new KillTokenClient(address, "kt_live_nobody0123456789abcdefghijklmnopq", new KillTokenClientOptions { MaxRetries = 1, RetryDelay = TimeSpan.FromMilliseconds(10) });

        var failed = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.GetSummaryAsync());

        Assert.AreEqual(0, failed.Status);
        Assert.IsNull(failed.ErrorCode);
        Assert.IsInstanceOfType<HttpRequestException>(failed.InnerException);
        AssertKeyAbsent(failed, "kt_live_nobody0123456789abcdefghijklmnopq");
    }

    [TestMethod]
    public async Task NetworkTimeout_EndsAnAttempt_AsStatus0WithATimeout()
    {
        _stub.Handler = (context, _) => Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);

        var clock = Stopwatch.StartNew();
        var failed = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() =>
            StubClient(new KillTokenClientOptions { NetworkTimeout = TimeSpan.FromMilliseconds(300), MaxRetries = 0 }).GetSummaryAsync());

        Assert.AreEqual(0, failed.Status);
        Assert.IsInstanceOfType<TimeoutException>(failed.InnerException);
        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [TestMethod]
    public async Task Cancelling_AChatWhileTheProviderThinks_EndsTheCall_AndTheGatewayCancelsTheProvider()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var providerCancelled = new TaskCompletionSource();
        var providerCalled = new TaskCompletionSource();
        _gateway.OpenAI.Handler = async (context, _) =>
        {
            providerCalled.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                providerCancelled.TrySetResult();
            }
        };
        using var cancellation = new CancellationTokenSource();

        var call = client.ChatAsync(Chat("think hard"), cancellation.Token);
        await providerCalled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancellation.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => call);
        await providerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [TestMethod]
    public async Task Cancelling_AStreamMidway_EndsTheEnumeration_AndTheProviderStream()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var providerCancelled = new TaskCompletionSource();
        _gateway.OpenAI.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream("gpt-4o"), holdForever: true, aborted: providerCancelled);
        using var cancellation = new CancellationTokenSource();
        var received = new List<ChatStreamEvent>();

        await Assert.ThrowsAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in client.StreamChatAsync(Chat(), cancellation.Token))
            {
                received.Add(e);
                await cancellation.CancelAsync();
            }
        });

        Assert.AreEqual(1, received.Count, "the first event arrived; then the stream was cancelled");
        await providerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [TestMethod]
    public async Task Cancelling_DuringARetryWait_DoesNotWaitItOut()
    {
        StubGateway(failures: 1, retryAfter: "30", Summary);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<OperationCanceledException>(() => StubClient().GetSummaryAsync(cancellationToken: cancellation.Token));

        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), "cancelled within the 30 s Retry-After");
        Assert.AreEqual(1, _stub.Count);
    }
}
