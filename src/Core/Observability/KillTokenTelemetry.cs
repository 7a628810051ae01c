using System.Diagnostics;
using System.Diagnostics.Metrics;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;

namespace KillToken.Core.Observability;

/// <summary>
/// The gateway's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named <see cref="Name"/>: a span per
/// gateway call with a child span per model call in the OpenTelemetry GenAI conventions, and the GenAI client metrics
/// plus KillToken's cost and request metrics. Only ids, names of models and providers, counts, money and error codes
/// are recorded — never a prompt, a completion, a key, a token or a header value. With no listener attached every call
/// here is a null check or an <c>Enabled</c> check: nothing is allocated.
/// </summary>
public sealed class KillTokenTelemetry : IDisposable
{
    /// <summary>What an OpenTelemetry SDK adds with <c>AddSource</c> and <c>AddMeter</c>.</summary>
    public const string Name = "KillToken.Gateway";

    // GenAI semantic conventions' advised bucket boundaries for the two client histograms.
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _operationDuration;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;

    /// <param name="meterFactory">The host's factory (its meters are disposed with it); a meter of its own without one.</param>
    public KillTokenTelemetry(IMeterFactory? meterFactory = null)
    {
        Source = new ActivitySource(Name, typeof(KillTokenTelemetry).Assembly.GetName().Version?.ToString());
        Meter = meterFactory?.Create(Name) ?? new Meter(Name);
        _tokenUsage = Meter.CreateHistogram<long>(GenAi.TokenUsageMetric, "{token}", "Tokens a model call used, by gen_ai.token.type.",
            tags: null, advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        _operationDuration = Meter.CreateHistogram<double>(GenAi.OperationDurationMetric, "s", "Duration of a model call, to its last token.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _cost = Meter.CreateCounter<double>(Tags.CostMetric, "USD", "What gateway calls cost at the provider's prices (free answers add nothing).");
        _requests = Meter.CreateCounter<long>(Tags.RequestsMetric, "{request}", "Gateway calls, by killtoken.outcome.");
        _requestDuration = Meter.CreateHistogram<double>(Tags.RequestDurationMetric, "s", "Duration of a gateway call, from arrival to settlement.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    public ActivitySource Source { get; }

    public Meter Meter { get; }

    /// <summary>The span of one gateway call (kind Internal: the host's HTTP span is its parent); null when nobody listens.</summary>
    public Activity? StartGatewayCall(ChatCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (!Source.HasListeners())
        {
            return null;
        }

        var span = Source.StartActivity("killtoken " + call.Endpoint, ActivityKind.Internal);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(Tags.RequestId, call.RequestId);
            span.SetTag(Tags.Endpoint, call.Endpoint);
            span.SetTag(Tags.WorkspaceId, call.Project.WorkspaceId);
            span.SetTag(Tags.ProjectId, call.Project.Id);
            span.SetTag(Tags.Provider, call.Request.Provider.Value);
            span.SetTag(Tags.Model, call.Request.Model);
            span.SetTag(Tags.Stream, call.Request.Stream);
            span.SetTag(Tags.Feature, call.Request.Feature);
        }

        return span;
    }

    /// <summary>
    /// The child span of the provider call: <c>chat {model}</c>, kind Client, with the attributes the GenAI conventions
    /// want at creation (so a sampler can see them). Started before the provider's HTTP request, which becomes its child.
    /// </summary>
    public Activity? StartModelCall(Activity? gatewayCall, ProviderCall providerCall, long? maxTokens)
    {
        ArgumentNullException.ThrowIfNull(providerCall);
        if (!Source.HasListeners())
        {
            return null;
        }

        List<KeyValuePair<string, object?>> tags =
        [
            new(GenAi.OperationName, GenAi.Chat),
            new(GenAi.ProviderName, GenAi.ProviderNameOf(providerCall.Provider)),
            new(GenAi.RequestModel, providerCall.Model),
        ];
        if (maxTokens is { } max)
        {
            tags.Add(new(GenAi.RequestMaxTokens, max));
        }

        return Source.StartActivity(ActivityKind.Client, gatewayCall?.Context ?? default, tags, name: "chat " + providerCall.Model);
    }

    /// <summary>The provider answered (or failed): the model span's response attributes, and the GenAI client metrics.</summary>
    public void EndModelCall(Activity? span, in ModelCallResult result)
    {
        if (span is null && !_operationDuration.Enabled && !_tokenUsage.Enabled)
        {
            return;
        }

        var provider = GenAi.ProviderNameOf(result.Provider);
        if (_operationDuration.Enabled)
        {
            var tags = ModelMetricTags(provider, result);
            if (result.ErrorType is { } errorType)
            {
                tags.Add(Tags.ErrorType, errorType);
            }

            _operationDuration.Record(result.Duration.TotalSeconds, tags);
        }

        if (_tokenUsage.Enabled && result.Usage.Billable)
        {
            var tags = ModelMetricTags(provider, result);
            tags.Add(GenAi.TokenType, GenAi.Input);
            _tokenUsage.Record(result.Usage.InputTokens, tags);
            tags = ModelMetricTags(provider, result);
            tags.Add(GenAi.TokenType, GenAi.Output);
            _tokenUsage.Record(result.Usage.OutputTokens, tags);
        }

        if (span is null)
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            if (result.ResponseModel is { } responseModel)
            {
                span.SetTag(GenAi.ResponseModel, responseModel);
            }

            if (result.Usage.Billable)
            {
                span.SetTag(GenAi.InputTokens, result.Usage.InputTokens);
                span.SetTag(GenAi.OutputTokens, result.Usage.OutputTokens);
            }

            if (result.CostUsd is { } cost)
            {
                span.SetTag(Tags.CostUsd, (double)cost);
            }
        }

        Fail(span, result.ErrorType);
        span.Stop();
    }

    /// <summary>The gateway call ended with an answer or a contract error: its span's outcome attributes, and the gateway metrics.</summary>
    public void EndGatewayCall(Activity? span, ChatCall call, ChatOutcome outcome, string? budgetState)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(outcome);
        if (span is null && !_requests.Enabled && !_requestDuration.Enabled && !_cost.Enabled)
        {
            return;
        }

        var metrics = outcome.Metrics;
        var errorType = outcome.Error?.Code;
        var result = OutcomeOf(outcome);
        RecordRequest(call.Endpoint, call.Request.Provider.Value, result, errorType, metrics.LatencyMs / 1000d);
        if (_cost.Enabled && metrics.CostUsd is { } cost && cost > 0)
        {
            _cost.Add((double)cost, new TagList
            {
                { GenAi.ProviderName, GenAi.ProviderNameOf(metrics.FinalProvider) },
                { GenAi.RequestModel, metrics.FinalModel },
                { Tags.CostStatus, metrics.CostStatus },
            });
        }

        if (span is null)
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            span.SetTag(Tags.Outcome, result);
            span.SetTag(Tags.StatusCode, outcome.Status);
            span.SetTag(Tags.FinalProvider, metrics.FinalProvider);
            span.SetTag(Tags.FinalModel, metrics.FinalModel);
            span.SetTag(Tags.InputTokens, metrics.InputTokens);
            span.SetTag(Tags.OutputTokens, metrics.OutputTokens);
            span.SetTag(Tags.CostUsd, metrics.CostUsd is { } usd ? (double)usd : null);
            span.SetTag(Tags.CostStatus, metrics.CostStatus);
            span.SetTag(Tags.SavedUsd, (double)metrics.SavedUsd);
            span.SetTag(Tags.CacheStatus, metrics.CacheStatus);
            span.SetTag(Tags.CacheHit, metrics.CacheStatus == Caching.CacheStatus.Hit);
            span.SetTag(Tags.FallbackUsed, metrics.WasFallback);
            span.SetTag(Tags.OutputCapped, metrics.OutputCapped);
            span.SetTag(Tags.Idempotency, metrics.Idempotency);
            span.SetTag(Tags.IdempotentReplay, metrics.Idempotency == Idempotency.IdempotencyStatus.Replayed);
            span.SetTag(Tags.BudgetState, budgetState);
        }

        Fail(span, errorType);
        span.Stop();
    }

    /// <summary>
    /// A call that ended without an outcome (an exception, a stream nobody read): its span closed with
    /// <paramref name="errorType"/> (an exception's type name or a contract error code, never a message), and counted.
    /// </summary>
    public void EndUnfinished(Activity? span, ChatCall call, string errorType, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(call);
        RecordRequest(call.Endpoint, call.Request.Provider.Value, Outcomes.Error, errorType, elapsed.TotalSeconds);
        if (span is { IsStopped: false })
        {
            Fail(span, errorType);
            span.Stop();
        }
    }

    /// <summary>A call refused before the pipeline (authenticated, but its body was invalid): counted, no span.</summary>
    public void RecordRejection(string endpoint, string? provider, GatewayError error, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(error);
        RecordRequest(endpoint, provider, Outcomes.Rejected, error.Code, elapsed.TotalSeconds);
    }

    public void Dispose()
    {
        Source.Dispose();
        Meter.Dispose();
    }

    private void RecordRequest(string endpoint, string? provider, string outcome, string? errorType, double seconds)
    {
        if (!_requests.Enabled && !_requestDuration.Enabled)
        {
            return;
        }

        var tags = new TagList { { Tags.Endpoint, endpoint }, { Tags.Outcome, outcome } };
        if (provider is not null)
        {
            tags.Add(Tags.Provider, provider);
        }

        if (errorType is not null)
        {
            tags.Add(Tags.ErrorType, errorType);
        }

        _requests.Add(1, tags);
        _requestDuration.Record(seconds, tags);
    }

    private static TagList ModelMetricTags(string provider, in ModelCallResult result)
    {
        var tags = new TagList
        {
            { GenAi.OperationName, GenAi.Chat },
            { GenAi.ProviderName, provider },
            { GenAi.RequestModel, result.RequestModel },
        };
        if (result.ResponseModel is { } responseModel)
        {
            tags.Add(GenAi.ResponseModel, responseModel);
        }

        return tags;
    }

    private static void Fail(Activity span, string? errorType)
    {
        if (errorType is null)
        {
            return;
        }

        span.SetTag(Tags.ErrorType, errorType);
        span.SetStatus(ActivityStatusCode.Error, errorType);
    }

    private static string OutcomeOf(ChatOutcome outcome) => outcome.Error switch
    {
        { Code: ErrorCodes.BudgetExceeded } => Outcomes.Blocked,
        not null => Outcomes.Error,
        null when outcome.Metrics.Idempotency == Idempotency.IdempotencyStatus.Replayed => Outcomes.Replayed,
        null when outcome.Metrics.CacheStatus == Caching.CacheStatus.Hit => Outcomes.CacheHit,
        _ => Outcomes.Success,
    };

    /// <summary>Values of <c>killtoken.outcome</c>.</summary>
    public static class Outcomes
    {
        public const string Success = "success";
        public const string CacheHit = "cache_hit";
        public const string Replayed = "replayed";
        public const string Blocked = "budget_blocked";
        public const string Rejected = "rejected";
        public const string Error = "error";
    }

    /// <summary>KillToken's own attribute and metric names (<c>killtoken.*</c>), plus the general <c>error.type</c>.</summary>
    public static class Tags
    {
        public const string ErrorType = "error.type";
        public const string RequestId = "killtoken.request_id";
        public const string Endpoint = "killtoken.endpoint";
        public const string WorkspaceId = "killtoken.workspace.id";
        public const string ProjectId = "killtoken.project.id";
        public const string Provider = "killtoken.provider";
        public const string Model = "killtoken.model";
        public const string FinalProvider = "killtoken.final_provider";
        public const string FinalModel = "killtoken.final_model";
        public const string Stream = "killtoken.stream";
        public const string Feature = "killtoken.feature";
        public const string Outcome = "killtoken.outcome";
        public const string StatusCode = "killtoken.status_code";
        public const string InputTokens = "killtoken.usage.input_tokens";
        public const string OutputTokens = "killtoken.usage.output_tokens";
        public const string CostUsd = "killtoken.cost_usd";
        public const string CostStatus = "killtoken.cost_status";
        public const string SavedUsd = "killtoken.saved_usd";
        public const string CacheStatus = "killtoken.cache.status";
        public const string CacheHit = "killtoken.cache.hit";
        public const string FallbackUsed = "killtoken.fallback_used";
        public const string OutputCapped = "killtoken.output_capped";
        public const string BudgetState = "killtoken.budget.state";
        public const string Idempotency = "killtoken.idempotency";
        public const string IdempotentReplay = "killtoken.idempotent_replay";
        public const string CostMetric = "killtoken.cost";
        public const string RequestsMetric = "killtoken.gateway.requests";
        public const string RequestDurationMetric = "killtoken.gateway.request.duration";
    }

    /// <summary>Values of <c>killtoken.budget.state</c>: where the project stood against its limits when the call was planned.</summary>
    public static class BudgetStates
    {
        public const string Unlimited = "unlimited";
        public const string Within = "within";
        public const string NearLimit = "near_limit";
        public const string Capped = "capped";
        public const string Blocked = "blocked";
    }
}

/// <summary>What a model call came to, for its span and the GenAI client metrics.</summary>
public readonly record struct ModelCallResult(ProviderId Provider, string RequestModel, string? ResponseModel, TokenUsage Usage, decimal? CostUsd,
    string? ErrorType, TimeSpan Duration);
