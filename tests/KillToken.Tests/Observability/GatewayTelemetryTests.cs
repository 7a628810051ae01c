using System.Diagnostics;
using System.Text.Json.Nodes;
using KillToken.Core.Observability;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Observability;

/// <summary>
/// The real self-host with a tracer attached, over a fake provider: every kind of gateway call leaves a gateway span
/// with a <c>chat {model}</c> child in the GenAI conventions (or, when no model was called, none), the GenAI client
/// metrics carry the provider's real counts, and no secret or content reaches any attribute.
/// </summary>
[TestClass]
public sealed class GatewayTelemetryTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static TelemetryCollector _telemetry = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _telemetry = new TelemetryCollector();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        }, _telemetry.AddTo);
        _telemetry.ListenTo(_host);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        _telemetry.Dispose();
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestInitialize]
    public void Reset() => _telemetry.ClearMeasurements();

    private static object Chat(string model = "gpt-4o-mini", string content = "Hello", int? maxTokens = null, bool stream = false, string? cache = null) => new
    {
        provider = "openai",
        model,
        messages = new[] { new { role = "user", content } },
        providerOptions = maxTokens is null ? null : new { max_tokens = maxTokens },
        stream,
        cachePolicy = cache is null ? null : new { exactCache = cache },
        metadata = new { feature = "weekly-summary" },
    };

    private static Activity Single(List<Activity> spans, string name) =>
        spans.SingleOrDefault(s => s.DisplayName == name) ?? throw new AssertFailedException($"no single span '{name}' among: {string.Join(", ", spans.Select(s => s.DisplayName))}");

    [TestMethod]
    public async Task PlainCall_GatewaySpan_HasAChatModelClientSpan_WithTheProvidersCountsAndTheCost()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4o-mini-2024-07-18", prompt: 1000, completion: 500, cached: 200));

        var (response, traceId) = await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat(maxTokens: 64));
        var metrics = (await GatewayHost.ReadJsonAsync(response, 200))["metrics"]!;
        Assert.AreEqual(0.000435m, metrics["costUsd"]!.GetValue<decimal>());

        var spans = await _telemetry.WaitForSpansAsync(traceId, s => s.Any(x => x.IsServerOf(_host)));
        var gateway = Single(spans, "killtoken chat");
        var server = spans.Single(s => s.SpanId == gateway.ParentSpanId);
        var model = Single(spans, "chat gpt-4o-mini");
        var http = spans.Single(s => s.Kind == ActivityKind.Client && s.Source.Name == "System.Net.Http" && s.ParentSpanId == model.SpanId);

        Assert.AreEqual(ActivityKind.Internal, gateway.Kind);
        Assert.IsTrue(server.IsServerOf(_host), "the gateway span is the HTTP request's child");
        Assert.AreEqual("/v1/chat", server.Tag("url.path"));
        Assert.AreEqual(ActivityKind.Client, model.Kind);
        Assert.AreEqual(gateway.SpanId, model.ParentSpanId, "the model call is the gateway call's child");
        Assert.AreEqual(_openai.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), http.Tag("server.port"), "the provider's HTTP request is the model call's child");

        Assert.AreEqual("chat", model.Tag(GenAi.OperationName));
        Assert.AreEqual("openai", model.Tag(GenAi.ProviderName));
        Assert.AreEqual("gpt-4o-mini", model.Tag(GenAi.RequestModel));
        Assert.AreEqual("gpt-4o-mini-2024-07-18", model.Tag(GenAi.ResponseModel));
        Assert.AreEqual(64L, model.GetTagItem(GenAi.RequestMaxTokens));
        Assert.AreEqual(1000L, model.GetTagItem(GenAi.InputTokens));
        Assert.AreEqual(500L, model.GetTagItem(GenAi.OutputTokens));
        Assert.AreEqual(0.000435, (double)model.GetTagItem(KillTokenTelemetry.Tags.CostUsd)!, 1e-12);
        Assert.AreEqual(ActivityStatusCode.Unset, model.Status);
        Assert.IsNull(model.GetTagItem(KillTokenTelemetry.Tags.ErrorType));

        Assert.AreEqual(0.000435, (double)gateway.GetTagItem(KillTokenTelemetry.Tags.CostUsd)!, 1e-12);
        Assert.AreEqual("priced", gateway.Tag(KillTokenTelemetry.Tags.CostStatus));
        Assert.AreEqual(tenant.ProjectId, gateway.Tag(KillTokenTelemetry.Tags.ProjectId));
        Assert.AreEqual(tenant.WorkspaceId, gateway.Tag(KillTokenTelemetry.Tags.WorkspaceId));
        Assert.AreEqual(metrics["requestId"]!.GetValue<string>(), gateway.Tag(KillTokenTelemetry.Tags.RequestId));
        Assert.AreEqual("weekly-summary", gateway.Tag(KillTokenTelemetry.Tags.Feature));
        Assert.AreEqual(false, gateway.GetTagItem(KillTokenTelemetry.Tags.CacheHit));
        Assert.AreEqual(false, gateway.GetTagItem(KillTokenTelemetry.Tags.FallbackUsed));
        Assert.AreEqual(false, gateway.GetTagItem(KillTokenTelemetry.Tags.IdempotentReplay));
        Assert.AreEqual(KillTokenTelemetry.BudgetStates.Unlimited, gateway.Tag(KillTokenTelemetry.Tags.BudgetState));
        Assert.AreEqual(KillTokenTelemetry.Outcomes.Success, gateway.Tag(KillTokenTelemetry.Tags.Outcome));
        Assert.IsNull(gateway.GetTagItem(GenAi.OperationName), "GenAI attributes only on the model call: a GenAI view counts each call once");

        var tokens = _telemetry.MeasurementsOf(GenAi.TokenUsageMetric);
        Assert.AreEqual(1000, tokens.Single(m => m.Tag(GenAi.TokenType) == "input").Value);
        Assert.AreEqual(500, tokens.Single(m => m.Tag(GenAi.TokenType) == "output").Value);
        Assert.IsTrue(tokens.All(m => m.Tag(GenAi.ProviderName) == "openai" && m.Tag(GenAi.RequestModel) == "gpt-4o-mini" && m.Tag(GenAi.OperationName) == "chat"));
        var duration = _telemetry.MeasurementsOf(GenAi.OperationDurationMetric).Single();
        Assert.IsTrue(duration.Value is > 0 and < 10, $"seconds, not milliseconds: {duration.Value}");
        Assert.AreEqual(0.000435, _telemetry.MeasurementsOf(KillTokenTelemetry.Tags.CostMetric).Single().Value, 1e-12);
        var request = _telemetry.MeasurementsOf(KillTokenTelemetry.Tags.RequestsMetric).Single();
        Assert.AreEqual(KillTokenTelemetry.Outcomes.Success, request.Tag(KillTokenTelemetry.Tags.Outcome));
        Assert.AreEqual("chat", request.Tag(KillTokenTelemetry.Tags.Endpoint));
    }

    [TestMethod]
    public async Task StreamedCall_ModelSpanEndsWithTheStreamsUsage()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(prompt: 9, completion: 12));
        ActivityTraceId traceId;
        using (var root = Traced.Start())
        {
            traceId = root.TraceId;
            using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(stream: true));
            var events = await SseTestKit.ReadAllAsync(response);
            Assert.IsTrue(events.Any(e => e.Name == "killtoken.metrics"));
        }

        var spans = await _telemetry.WaitForSpansAsync(traceId, s => s.Any(x => x.DisplayName == "killtoken chat"));
        var gateway = Single(spans, "killtoken chat");
        var model = Single(spans, "chat gpt-4o-mini");
        Assert.AreEqual(gateway.SpanId, model.ParentSpanId);
        Assert.AreEqual(true, gateway.GetTagItem(KillTokenTelemetry.Tags.Stream));
        Assert.AreEqual(9L, model.GetTagItem(GenAi.InputTokens));
        Assert.AreEqual(12L, model.GetTagItem(GenAi.OutputTokens));
        Assert.AreEqual("gpt-4o-mini", model.Tag(GenAi.ResponseModel));
        Assert.IsTrue(model.Duration > TimeSpan.Zero && model.Duration <= gateway.Duration, "the model span lasts until the stream ends, inside the gateway span");

        var tokens = _telemetry.MeasurementsOf(GenAi.TokenUsageMetric);
        Assert.AreEqual(9, tokens.Single(m => m.Tag(GenAi.TokenType) == "input").Value);
        Assert.AreEqual(12, tokens.Single(m => m.Tag(GenAi.TokenType) == "output").Value);
    }

    [TestMethod]
    public async Task CacheHit_HasNoModelSpan_AndCountsAsACacheHit()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 1000));
        var content = $"cache me {Guid.NewGuid():N}";
        await GatewayHost.ReadJsonAsync((await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat(content: content, cache: "read_write"))).Response, 200);
        _telemetry.ClearMeasurements();

        var (response, traceId) = await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat(content: content, cache: "read_write"));
        Assert.AreEqual("hit", (await GatewayHost.ReadJsonAsync(response, 200))["metrics"]!["cacheStatus"]!.GetValue<string>());

        var spans = await _telemetry.WaitForSpansAsync(traceId, s => s.Any(x => x.DisplayName == "killtoken chat"));
        var gateway = Single(spans, "killtoken chat");
        Assert.AreEqual(true, gateway.GetTagItem(KillTokenTelemetry.Tags.CacheHit));
        Assert.AreEqual(0d, gateway.GetTagItem(KillTokenTelemetry.Tags.CostUsd));
        Assert.IsTrue((double)gateway.GetTagItem(KillTokenTelemetry.Tags.SavedUsd)! > 0, "a hit records what it saved");
        Assert.IsFalse(spans.Any(s => s.GetTagItem(GenAi.OperationName) is not null), "no model was called");
        Assert.AreEqual(KillTokenTelemetry.Outcomes.CacheHit, _telemetry.MeasurementsOf(KillTokenTelemetry.Tags.RequestsMetric).Single().Tag(KillTokenTelemetry.Tags.Outcome));
        Assert.IsEmpty(_telemetry.MeasurementsOf(GenAi.TokenUsageMetric), "no model tokens were used");
        Assert.IsEmpty(_telemetry.MeasurementsOf(KillTokenTelemetry.Tags.CostMetric), "a hit costs nothing");
    }

    [TestMethod]
    public async Task BudgetFallback_ModelSpanNamesTheFallbackModel_BudgetBlock_HasNoModelSpan()
    {
        var tenant = await GatewayScenarios.TenantWithBudgetAsync(_host, new { dailyBudgetUsd = 0.05m, fallbackModel = "gpt-4o-mini" });
        _openai.Handler = GatewayScenarios.Usage(prompt: 100, completion: 100);

        // gpt-4.1's worst case at 10,000 output tokens ($0.08) cannot fit $0.05; gpt-4o-mini's ($0.006) can.
        var (fallback, fallbackTrace) = await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat("gpt-4.1", maxTokens: 10_000));
        Assert.IsTrue((await GatewayHost.ReadJsonAsync(fallback, 200))["metrics"]!["wasFallback"]!.GetValue<bool>());
        var spans = await _telemetry.WaitForSpansAsync(fallbackTrace, s => s.Any(x => x.DisplayName == "killtoken chat"));
        var gateway = Single(spans, "killtoken chat");
        var model = Single(spans, "chat gpt-4o-mini");
        Assert.AreEqual(true, gateway.GetTagItem(KillTokenTelemetry.Tags.FallbackUsed));
        Assert.AreEqual("gpt-4.1", gateway.Tag(KillTokenTelemetry.Tags.Model));
        Assert.AreEqual("gpt-4o-mini", gateway.Tag(KillTokenTelemetry.Tags.FinalModel));
        Assert.AreEqual("gpt-4o-mini", model.Tag(GenAi.RequestModel));
        Assert.AreEqual(KillTokenTelemetry.BudgetStates.Within, gateway.Tag(KillTokenTelemetry.Tags.BudgetState));

        // 200,000 output tokens of gpt-4o-mini ($0.12) fit no candidate: refused before any model call.
        _telemetry.ClearMeasurements();
        var (blocked, blockedTrace) = await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat("gpt-4o-mini", maxTokens: 200_000));
        Assert.AreEqual("budget_exceeded", (await GatewayHost.ReadJsonAsync(blocked, 429))["error"]!["code"]!.GetValue<string>());
        spans = await _telemetry.WaitForSpansAsync(blockedTrace, s => s.Any(x => x.DisplayName == "killtoken chat"));
        gateway = Single(spans, "killtoken chat");
        Assert.AreEqual(KillTokenTelemetry.BudgetStates.Blocked, gateway.Tag(KillTokenTelemetry.Tags.BudgetState));
        Assert.AreEqual("budget_exceeded", gateway.Tag(KillTokenTelemetry.Tags.ErrorType));
        Assert.AreEqual(ActivityStatusCode.Error, gateway.Status);
        Assert.IsFalse(spans.Any(s => s.GetTagItem(GenAi.OperationName) is not null), "a blocked call reaches no model");
        var request = _telemetry.MeasurementsOf(KillTokenTelemetry.Tags.RequestsMetric).Single();
        Assert.AreEqual(KillTokenTelemetry.Outcomes.Blocked, request.Tag(KillTokenTelemetry.Tags.Outcome));
        Assert.AreEqual("budget_exceeded", request.Tag(KillTokenTelemetry.Tags.ErrorType));
    }

    [TestMethod]
    public async Task UpstreamError_BothSpansCarryTheErrorType()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("The server had an error while processing your request.", "server_error", null), status: 500);

        var (response, traceId) = await Traced.SendAsync(tenant, HttpMethod.Post, "v1/chat", Chat());
        var code = (await GatewayHost.ReadJsonAsync(response, (int)response.StatusCode))["error"]!["code"]!.GetValue<string>();
        Assert.IsTrue((int)response.StatusCode >= 500, $"{(int)response.StatusCode} {code}");

        var spans = await _telemetry.WaitForSpansAsync(traceId, s => s.Any(x => x.DisplayName == "killtoken chat"));
        var gateway = Single(spans, "killtoken chat");
        var model = Single(spans, "chat gpt-4o-mini");
        Assert.AreEqual(code, model.Tag(KillTokenTelemetry.Tags.ErrorType));
        Assert.AreEqual(ActivityStatusCode.Error, model.Status);
        Assert.AreEqual(code, gateway.Tag(KillTokenTelemetry.Tags.ErrorType));
        Assert.AreEqual(ActivityStatusCode.Error, gateway.Status);
        Assert.AreEqual(KillTokenTelemetry.Outcomes.Error, gateway.Tag(KillTokenTelemetry.Tags.Outcome));
        Assert.AreEqual(code, _telemetry.MeasurementsOf(GenAi.OperationDurationMetric).Single().Tag(KillTokenTelemetry.Tags.ErrorType));
        Assert.AreEqual(code, _telemetry.MeasurementsOf(KillTokenTelemetry.Tags.RequestsMetric).Single().Tag(KillTokenTelemetry.Tags.ErrorType));
    }

    [TestMethod]
    public async Task NoAttributeOfAnySpanOrMetric_CarriesContentOrASecret()
    {
        const string prompt = "PROMPT-SENTINEL-4f1c9a";
        const string completion = "COMPLETION-SENTINEL-8d2e7b";
        const string providerKey = "sk-PROVIDER-SENTINEL-5a6b7c8d9e0f";
        var tenant = await _host.CreateTenantAsync("openai", providerKey);
        var traces = new List<ActivityTraceId>();

        // Plain, streamed, failed (the provider echoes the prompt in its error), and through the OpenAI wrapper route.
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: completion));
        traces.Add(await SendAsync(HttpMethod.Post, "v1/chat", Chat(content: prompt)));
        traces.Add(await SendAsync(HttpMethod.Post, "v1/openai/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = prompt } } }));
        _openai.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(pieces: [completion]));
        using (var root = Traced.Start())
        {
            using var streamed = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", Chat(content: prompt, stream: true));
            StringAssert.Contains(SseTestKit.OpenAIText(await SseTestKit.ReadAllAsync(streamed)), completion);
            traces.Add(root.TraceId);
        }

        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError($"Invalid content: {prompt} {providerKey}", "invalid_request_error", "invalid_value"), status: 400);
        traces.Add(await SendAsync(HttpMethod.Post, "v1/chat", Chat(content: prompt)));

        // An invite link carries its token in the path, of the API and of the dashboard page.
        var invite = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/invites",
            new { email = $"invitee-{Guid.NewGuid():N}@example.com", role = "member" }, session: true), 201);
        var inviteToken = new Uri(invite["inviteUrl"]!.GetValue<string>()).AbsolutePath.TrimEnd('/').Split('/')[^1];
        traces.Add(await SendAsync(HttpMethod.Get, $"api/invites/{inviteToken}?token={inviteToken}", session: true));
        traces.Add(await SendAsync(HttpMethod.Get, $"invites/{inviteToken}"));
        traces.Add(await SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/requests", session: true));

        var secrets = new[] { prompt, completion, providerKey, tenant.ApiKey, tenant.Token, inviteToken };
        var spans = new List<Activity>();
        foreach (var traceId in traces)
        {
            spans.AddRange(await _telemetry.WaitForSpansAsync(traceId, s => s.Any(x => x.IsServerOf(_host))));
        }

        Assert.AreEqual(traces.Count, spans.Count(s => s.IsServerOf(_host)), "every request left its server span");
        Assert.AreEqual(4, spans.Count(s => s.GetTagItem(GenAi.OperationName) is not null), "every chat call left its model span");
        var invitePath = spans.Single(s => s.TraceId == traces[4] && s.IsServerOf(_host));
        Assert.AreEqual("/api/invites/{token}", invitePath.Tag("url.path"), "the invite token is cut out of the path");

        // Everything recorded, not only these traces' spans: nothing any request of this gateway left may hold a secret.
        var recorded = _telemetry.Spans.SelectMany(SpanTexts).Concat(_telemetry.Measurements.SelectMany(m => m.Tags.Select(t => $"{m.Instrument} {t.Key}={t.Value}"))).ToList();
        foreach (var secret in secrets)
        {
            var leaks = recorded.Where(text => text.Contains(secret, StringComparison.Ordinal)).ToList();
            Assert.IsEmpty(leaks, $"'{secret}' was recorded: {string.Join(" | ", leaks.Take(3))}");
        }

        async Task<ActivityTraceId> SendAsync(HttpMethod method, string path, object? body = null, bool session = false)
        {
            var (response, traceId) = await Traced.SendAsync(tenant, method, path, body, session);
            await response.Content.ReadAsStringAsync();
            return traceId;
        }
    }

    /// <summary>Every text a span carries to an exporter: its name, status, attributes, events, links and baggage.</summary>
    private static IEnumerable<string> SpanTexts(Activity span)
    {
        yield return span.DisplayName;
        yield return span.StatusDescription ?? string.Empty;
        foreach (var tag in span.TagObjects)
        {
            yield return $"{span.DisplayName} {tag.Key}={tag.Value}";
        }

        foreach (var e in span.Events)
        {
            yield return e.Name;
            foreach (var tag in e.Tags)
            {
                yield return $"{span.DisplayName} event {e.Name} {tag.Key}={tag.Value}";
            }
        }

        foreach (var link in span.Links)
        {
            foreach (var tag in link.Tags ?? [])
            {
                yield return $"{tag.Key}={tag.Value}";
            }
        }

        foreach (var baggage in span.Baggage)
        {
            yield return $"{baggage.Key}={baggage.Value}";
        }
    }
}
