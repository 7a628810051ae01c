using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace KillToken.Tests.Analytics;

/// <summary>
/// One call as the test saw it: what the gateway answered (the <c>metrics</c> object, or the error body and its metrics), with
/// the time and latency its trace was written with. The analytics tests compute every expected number from these alone.
/// </summary>
internal sealed record RecordedCall
{
    public required string RequestId { get; init; }
    public required string ProjectId { get; init; }
    public required int Status { get; init; }
    /// <summary><c>success</c>, <c>blocked</c> (429 <c>budget_exceeded</c>) or <c>error</c> (any other non-2xx).</summary>
    public required string Outcome { get; init; }
    public string? ErrorCode { get; init; }
    /// <summary>The provider that served the call (the final one, after a fallback).</summary>
    public required string Provider { get; init; }
    /// <summary>The final model.</summary>
    public required string Model { get; init; }
    public required string RequestedProvider { get; init; }
    public required string RequestedModel { get; init; }
    public required string Feature { get; init; }
    /// <summary>Null when the model is unpriced, or nothing was billed (counts as 0 in every sum).</summary>
    public decimal? CostUsd { get; init; }
    /// <summary><c>priced</c>, <c>unpriced</c> or <c>free</c>.</summary>
    public required string CostStatus { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long WasteTokens { get; init; }
    public long SavedTokens { get; init; }
    public decimal SavedUsd { get; init; }
    public required string CacheStatus { get; init; }
    public bool WasFallback { get; init; }
    public double LatencyMs { get; init; }
    /// <summary>When the gateway wrote the trace (read back from <c>GET /v1/requests</c>).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    public DateOnly Day => DateOnly.FromDateTime(CreatedAt.UtcDateTime);
    public decimal Spend => CostUsd ?? 0m;
    public bool IsBlocked => Outcome == "blocked";
    public bool IsError => Outcome == "error";
    public bool IsCacheHit => CacheStatus == "hit";
}

/// <summary>What one test call asks for: the request, and what the fake provider answers with.</summary>
internal sealed record CallSpec
{
    public string Provider { get; init; } = "openai";
    public required string Model { get; init; }
    public string Content { get; init; } = "hi";
    /// <summary>Sent as <c>metadata.feature</c>.</summary>
    public string? Feature { get; init; }
    /// <summary>Sent as the <c>x-killtoken-feature</c> header.</summary>
    public string? FeatureHeader { get; init; }
    public string Mode { get; init; } = "measure_only";
    public string? Cache { get; init; }
    public string? IdempotencyKey { get; init; }
    public int PromptTokens { get; init; } = 100;
    public int CompletionTokens { get; init; } = 50;
    /// <summary>The fake provider's answer time: the test clock is moved by it while the provider "works".</summary>
    public int UpstreamLatencyMs { get; init; }
    /// <summary>Non-200: the provider answers with this status and its error body.</summary>
    public int UpstreamStatus { get; init; } = 200;
    /// <summary>The assistant's text in the provider's answer.</summary>
    public string Completion { get; init; } = "Sure.";
    /// <summary>The status the gateway must answer with (checked, so the seeded traffic is what the test thinks it is).</summary>
    public int ExpectStatus { get; init; } = 200;
}

/// <summary>
/// Sends <see cref="CallSpec"/>s through the real gateway to fake OpenAI/Anthropic upstreams and keeps a
/// <see cref="RecordedCall"/> of each, in order.
/// </summary>
internal sealed class AnalyticsTraffic(GatewayHost host, FakeUpstream openai, FakeUpstream anthropic, FakeTimeProvider? clock)
{
    private readonly List<RecordedCall> _calls = [];

    public GatewayHost Host { get; } = host;
    public FakeTimeProvider? Clock { get; } = clock;
    public IReadOnlyList<RecordedCall> Calls => _calls;

    /// <summary>The gateway settings that point both providers at the fakes.</summary>
    public static Dictionary<string, string?> Settings(FakeUpstream openai, FakeUpstream anthropic) => new()
    {
        ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
        ["KILLTOKEN_ANTHROPIC_BASE_URL"] = anthropic.BaseAddress.ToString(),
        ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
    };

    public static object Body(CallSpec spec) => new
    {
        provider = spec.Provider,
        model = spec.Model,
        optimizationMode = spec.Mode,
        messages = new[] { new { role = "user", content = spec.Content } },
        metadata = spec.Feature is null ? null : new { feature = spec.Feature },
        cachePolicy = spec.Cache is null ? null : new { exactCache = spec.Cache },
        idempotencyKey = spec.IdempotencyKey,
    };

    /// <summary>Sends one call with <paramref name="project"/>'s key and records what came back.</summary>
    public async Task<RecordedCall> SendAsync(Tenant project, CallSpec spec)
    {
        openai.Handler = Answer(spec, anthropic: false);
        anthropic.Handler = Answer(spec, anthropic: true);
        var response = await project.ChatAsync(Body(spec), spec.FeatureHeader);
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(spec.ExpectStatus, (int)response.StatusCode, $"{spec.Model} '{spec.Content}': {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        var status = (int)response.StatusCode;
        var error = body["error"];
        var metrics = status is >= 200 and < 300 ? body["metrics"]! : error?["metrics"];
        var errorCode = error?["code"]?.GetValue<string>();
        var call = new RecordedCall
        {
            RequestId = metrics?["requestId"]?.GetValue<string>() ?? error!["requestId"]!.GetValue<string>(),
            ProjectId = project.ProjectId,
            Status = status,
            Outcome = status is >= 200 and < 300 ? "success" : errorCode == "budget_exceeded" ? "blocked" : "error",
            ErrorCode = errorCode,
            Provider = metrics?["finalProvider"]?.GetValue<string>() ?? metrics?["provider"]?.GetValue<string>() ?? spec.Provider,
            Model = metrics?["finalModel"]?.GetValue<string>() ?? spec.Model,
            RequestedProvider = spec.Provider,
            RequestedModel = spec.Model,
            Feature = metrics?["feature"]?.GetValue<string>() ?? spec.Feature ?? spec.FeatureHeader ?? "(untagged)",
            CostUsd = metrics?["costUsd"]?.GetValue<decimal>(),
            CostStatus = metrics?["costStatus"]?.GetValue<string>() ?? "free",
            InputTokens = metrics?["inputTokens"]?.GetValue<long>() ?? 0,
            OutputTokens = metrics?["outputTokens"]?.GetValue<long>() ?? 0,
            WasteTokens = metrics?["wasteTokens"]?.GetValue<long>() ?? 0,
            SavedTokens = metrics?["savedTokens"]?.GetValue<long>() ?? 0,
            SavedUsd = metrics?["savedUsd"]?.GetValue<decimal>() ?? 0m,
            CacheStatus = metrics?["cacheStatus"]?.GetValue<string>() ?? "bypass",
            WasFallback = metrics?["wasFallback"]?.GetValue<bool>() ?? false,
            LatencyMs = metrics?["latencyMs"]?.GetValue<double>() ?? 0,
        };
        if (call.IsBlocked || call.IsError)
        {
            Assert.IsTrue(call.Spend == 0m, $"a refused or failed call costs nothing: {text}");
        }

        _calls.Add(call);
        return call;
    }

    /// <summary>Moves the test clock (between calls, so each trace gets its own time and day).</summary>
    public void Advance(TimeSpan by) => Clock!.Advance(by);

    /// <summary>
    /// Reads every trace of the workspace back through <c>GET /v1/requests</c> (any project key of it): each recorded call
    /// must have exactly one, and its time (and, where the answer carried no metrics, its latency and route) come from it.
    /// </summary>
    public async Task CompleteFromTracesAsync(Tenant anyProjectOfTheWorkspace)
    {
        var traces = await TracesAsync(anyProjectOfTheWorkspace);
        var mine = _calls.Select(c => c.RequestId).ToHashSet(StringComparer.Ordinal);
        Assert.AreEqual(_calls.Count, traces.Count(t => mine.Contains(t["id"]!.GetValue<string>())), "every call left exactly one trace");
        var byId = traces.ToDictionary(t => t["id"]!.GetValue<string>(), StringComparer.Ordinal);
        for (var i = 0; i < _calls.Count; i++)
        {
            var call = _calls[i];
            var trace = byId[call.RequestId];
            Assert.AreEqual(call.ProjectId, trace["projectId"]!.GetValue<string>());
            Assert.AreEqual(call.Status, trace["status"]!.GetValue<int>(), call.RequestId);
            Assert.AreEqual(call.InputTokens, trace["inputTokens"]!.GetValue<long>(), call.RequestId);
            Assert.AreEqual(call.OutputTokens, trace["outputTokens"]!.GetValue<long>(), call.RequestId);
            Assert.AreEqual(call.Spend, trace["costUsd"]?.GetValue<decimal>() ?? 0m, call.RequestId);
            _calls[i] = call with
            {
                CreatedAt = DateTimeOffset.Parse(trace["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture),
                LatencyMs = trace["latencyMs"]!.GetValue<double>(),
                Provider = trace["finalProvider"]?.GetValue<string>() ?? trace["provider"]?.GetValue<string>() ?? call.Provider,
                Model = trace["finalModel"]?.GetValue<string>() ?? call.Model,
                Feature = trace["feature"]!.GetValue<string>(),
            };
        }
    }

    /// <summary>Every trace of the key's workspace, newest first (all pages of <c>GET /v1/requests</c>).</summary>
    public static async Task<List<JsonObject>> TracesAsync(Tenant key, string query = "")
    {
        var all = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var path = "v1/requests?limit=200" + query + (cursor is null ? string.Empty : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await GatewayHost.ReadJsonAsync(await key.SendAsync(HttpMethod.Get, path), 200);
            all.AddRange(page["data"]!.AsArray().Select(t => t!.AsObject()));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return all;
    }

    /// <summary>Signs in again (a session outlives 12 h of the test clock only this way).</summary>
    public static async Task<Tenant> SignInAgainAsync(Tenant tenant, string email)
    {
        var response = await tenant.Host.Client.PostAsJsonAsync("api/auth/login", new { email, password = "correct horse battery" });
        var body = await GatewayHost.ReadJsonAsync(response, 200);
        return tenant with { Token = body["token"]!.GetValue<string>() };
    }

    private Func<HttpContext, UpstreamRequest, Task> Answer(CallSpec spec, bool anthropic) => async (context, request) =>
    {
        if (spec.UpstreamLatencyMs > 0)
        {
            Clock?.Advance(TimeSpan.FromMilliseconds(spec.UpstreamLatencyMs));
        }

        var model = request.Json["model"]?.GetValue<string>() ?? spec.Model;
        JsonObject answer;
        if (spec.UpstreamStatus != 200)
        {
            answer = anthropic
                ? Fixtures.AnthropicError("invalid_request_error", "The request was refused by the test.")
                : Fixtures.OpenAIError("The request was refused by the test.", "invalid_request_error", "invalid_value");
        }
        else if (anthropic)
        {
            answer = Fixtures.AnthropicMessage(model, spec.PromptTokens, spec.CompletionTokens);
            answer["content"]![0]!["text"] = spec.Completion;
        }
        else
        {
            answer = Fixtures.OpenAIChatCompletion(model, spec.PromptTokens, spec.CompletionTokens, content: spec.Completion);
        }

        await FakeUpstream.Json(answer, spec.UpstreamStatus)(context, request);
    };
}
