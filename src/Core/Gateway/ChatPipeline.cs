using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Credentials;
using KillToken.Core.Domain;
using KillToken.Core.Idempotency;
using KillToken.Core.Optimization;
using KillToken.Core.Ports;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Gateway;

/// <summary>One authenticated, validated gateway call on its way through §3's steps.</summary>
public sealed record ChatCall
{
    public required string RequestId { get; init; }
    public required ProjectRecord Project { get; init; }
    public required ChatRequest Request { get; init; }
    /// <summary>The route family that received it (<c>chat</c>, <c>openai</c>, <c>anthropic</c>, …), for the trace.</summary>
    public required string Endpoint { get; init; }
    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the request arrived.</summary>
    public required long StartedAt { get; init; }
}

/// <summary>The gateway's answer: the provider body unchanged, or an error, plus metrics.</summary>
public sealed record ChatOutcome
{
    public required int Status { get; init; }
    public JsonNode? ProviderBody { get; init; }
    public GatewayError? Error { get; init; }
    public required ChatMetrics Metrics { get; init; }
}

/// <summary>
/// §3's request path after authentication and validation:
/// credential → idempotency → budget → optimize → cache → provider → settle → trace.
/// Each step is a port; the pipeline only orders them and keeps the books straight on every exit.
/// </summary>
public sealed partial class ChatPipeline(
    CredentialResolver credentials,
    IProviderRegistry providers,
    IIdempotencyGate idempotency,
    IBudgetGate budget,
    IResponseCache cache,
    IPromptOptimizer optimizer,
    IPricingCatalog pricing,
    ITraceStore traces,
    IUsageRollups rollups,
    TimeProvider time,
    ILogger<ChatPipeline> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<ChatOutcome> ExecuteAsync(ChatCall call, CancellationToken cancellationToken = default)
    {
        var request = call.Request;
        var state = new CallState(call);
        var requestHash = request.IdempotencyKey is null ? null : CanonicalRequest.RequestHash(request);

        // 2. The workspace's own credential, before any cache, idempotency, budget or provider work.
        var (credential, credentialError) = await credentials.ResolveAsync(call.Project.WorkspaceId, request.Provider, cancellationToken);
        if (credentialError is not null)
        {
            return await FinishAsync(state, credentialError, cancellationToken);
        }

        if (credential is null)
        {
            return await FinishAsync(state, GatewayError.BadRequest(ErrorCodes.ProviderCredentialRequired,
                "The workspace's credential for this provider has no secret in the vault; rotate it with a new key."), cancellationToken);
        }

        if (!providers.TryGet(request.Provider, out var adapter))
        {
            return await FinishAsync(state, new GatewayError(422, ErrorCodes.ProviderNotSupported,
                $"Provider '{request.Provider}' is not available on this gateway yet."), cancellationToken);
        }

        if (request.Stream)
        {
            return await FinishAsync(state, new GatewayError(422, ErrorCodes.StreamingNotSupported,
                "Streaming is not available on this route; send the request without stream: true."), cancellationToken);
        }

        // 3. Idempotency: a finished twin is replayed, a different request under the same key is refused.
        if (request.IdempotencyKey is not null)
        {
            var decision = await idempotency.BeginAsync(call.Project.WorkspaceId, call.Project.Id, request.IdempotencyKey, requestHash!, cancellationToken);
            if (decision.Conflict)
            {
                return await FinishAsync(state, new GatewayError(409, ErrorCodes.IdempotencyKeyReused,
                    "This idempotencyKey was used with a different request."), cancellationToken);
            }

            if (decision.Replay is not null)
            {
                return await ReplayAsync(state, decision.Replay, cancellationToken);
            }

            state.HoldsIdempotencyKey = true;
        }

        BudgetReservation? reservation = null;
        try
        {
            // 4a. Budget plan: blocked at 100%, on the fallback model from 80% when one is set.
            var plan = await budget.PlanAsync(call.Project, cancellationToken);
            if (plan.FallbackModel is not null)
            {
                var fallbackProvider = plan.FallbackProvider ?? request.Provider;
                if (fallbackProvider != request.Provider)
                {
                    // Seed 002 lets the fallback cross providers; it then needs that provider's own credential.
                    var (fallbackCredential, _) = await credentials.ResolveAsync(call.Project.WorkspaceId, fallbackProvider, cancellationToken);
                    if (fallbackCredential is not null && providers.TryGet(fallbackProvider, out var fallbackAdapter))
                    {
                        credential = fallbackCredential;
                        adapter = fallbackAdapter;
                        state.FinalProvider = fallbackProvider;
                    }
                    else
                    {
                        state.FallbackSkipped = $"fallback provider '{fallbackProvider}' has no active credential in this workspace";
                    }
                }

                if (state.FallbackSkipped is null)
                {
                    state.FinalModel = plan.FallbackModel;
                    state.WasFallback = true;
                }
            }

            // 6. Optimizer (measure_only changes nothing), then 5. the exact cache on the final model and sent messages.
            var optimized = optimizer.Optimize(request.Messages, request.OptimizationMode, call.Project.WorkspaceId);
            state.Optimization = optimized;
            state.InputPricePerMillion = pricing.Find(state.FinalProvider, state.FinalModel)?.Input;

            // A cache hit spends nothing, so no budget can block it.
            var cacheKey = CanonicalRequest.CacheKey(state.FinalProvider.Value, state.FinalModel, optimized.Messages, request.ProviderOptions);
            var hit = await TryCacheAsync(state, cacheKey, cancellationToken);
            if (hit is not null)
            {
                return hit;
            }

            if (plan.Rejection is not null)
            {
                return await FinishAsync(state, plan.Rejection, cancellationToken);
            }

            // 4b. Reserve the call's maximum cost so concurrent calls cannot overspend.
            var (held, refusal) = await budget.ReserveAsync(call.Project, plan, state.FinalProvider, state.FinalModel, optimized.Messages, request.ProviderOptions, cancellationToken);
            if (refusal is not null)
            {
                return await FinishAsync(state, refusal, cancellationToken);
            }

            reservation = held;

            // 7. The provider call.
            var response = await adapter.SendAsync(new ProviderCall
            {
                Provider = state.FinalProvider,
                Model = state.FinalModel,
                Messages = optimized.Messages,
                Options = request.ProviderOptions,
                Credential = credential,
                RequestId = call.RequestId,
            }, cancellationToken);

            state.ProviderLatency = response.Latency;
            state.Usage = response.Usage;
            if (!response.IsSuccess)
            {
                return await FinishAsync(state, response.Error!, cancellationToken);
            }

            state.Cost = response.Usage.Reported
                ? pricing.Cost(state.FinalProvider, state.FinalModel, response.Usage)
                : new CostResult(null, CostStatus.Unpriced, null);
            state.SavedUsd = SavedUsd(state);

            // 8. Settle, then remember the answer for the cache and for replays.
            if (reservation is not null)
            {
                await budget.SettleAsync(call.Project, reservation, state.Cost.CostUsd ?? 0m, cancellationToken);
                reservation = null;
            }

            if (cache.Enabled && request.CachePolicy is CachePolicy.WriteOnly or CachePolicy.ReadWrite)
            {
                await cache.SetAsync(call.Project.WorkspaceId, cacheKey, new CachedResponse(
                    response.Body!.ToJsonString(), response.Usage.InputTokens, response.Usage.OutputTokens,
                    response.Usage.CachedInputTokens, state.Cost.CostUsd), cancellationToken);
                state.CacheStatus = request.CachePolicy == CachePolicy.WriteOnly ? CacheStatus.Written : CacheStatus.Miss;
            }

            return await FinishAsync(state, response.Body ?? new JsonObject(), cancellationToken);
        }
        finally
        {
            if (reservation is not null)
            {
                // The call failed or was cancelled after the reservation: release it.
                await budget.SettleAsync(call.Project, reservation, 0m, CancellationToken.None);
            }

            if (state.HoldsIdempotencyKey)
            {
                await idempotency.AbandonAsync(call.Project.WorkspaceId, call.Project.Id, request.IdempotencyKey!, CancellationToken.None);
            }
        }

        async Task<ChatOutcome> FinishAsync(CallState s, object bodyOrError, CancellationToken ct)
        {
            var outcome = s.ToOutcome(bodyOrError, time);
            if (s.HoldsIdempotencyKey && outcome.Error is null)
            {
                await idempotency.CompleteAsync(call.Project.WorkspaceId, call.Project.Id, request.IdempotencyKey!, requestHash!,
                    new StoredOutcome(outcome.Status, outcome.ProviderBody?.ToJsonString() ?? "null",
                        JsonSerializer.Serialize(outcome.Metrics, Json)), ct);
                s.HoldsIdempotencyKey = false;
            }

            await WriteTraceAsync(s, outcome, ct);
            return outcome;
        }
    }

    /// <summary>Traces a request refused before the pipeline (validation) so failures show in the list too.</summary>
    public Task TraceRejectionAsync(ProjectRecord project, string requestId, string endpoint, long startedAt, GatewayError error, ChatRequest? request, string feature)
    {
        var elapsed = time.GetElapsedTime(startedAt).TotalMilliseconds;
        var trace = new RequestTrace
        {
            Id = requestId,
            WorkspaceId = project.WorkspaceId,
            ProjectId = project.Id,
            CreatedAt = time.GetUtcNow(),
            Endpoint = endpoint,
            Provider = request?.Provider.Value,
            Model = request?.Model,
            FinalModel = request?.Model,
            OptimizationMode = request?.OptimizationMode.ToWire(),
            Feature = request?.Feature ?? feature,
            Status = error.Status,
            ErrorCode = error.Code,
            CostStatus = CostStatus.Free,
            CacheStatus = CacheStatus.Bypass,
            Idempotency = IdempotencyStatus.None,
            LatencyMs = elapsed,
            OverheadMs = elapsed,
        };
        return SafeAppendAsync(trace, CancellationToken.None);
    }

    private async Task<ChatOutcome?> TryCacheAsync(CallState state, string cacheKey, CancellationToken cancellationToken)
    {
        var policy = state.Call.Request.CachePolicy;
        if (!cache.Enabled)
        {
            state.CacheStatus = CacheStatus.Disabled;
            return null;
        }

        if (policy is not (CachePolicy.ReadOnly or CachePolicy.ReadWrite))
        {
            return null;
        }

        var cached = await cache.TryGetAsync(state.Call.Project.WorkspaceId, cacheKey, cancellationToken);
        state.CacheStatus = CacheStatus.Miss;
        if (cached is null)
        {
            return null;
        }

        state.CacheStatus = CacheStatus.Hit;
        state.Usage = new TokenUsage
        {
            InputTokens = cached.InputTokens,
            OutputTokens = cached.OutputTokens,
            CachedInputTokens = cached.CachedInputTokens,
            Reported = true,
        };
        state.Cost = new CostResult(0m, CostStatus.Free, null);
        state.SavedUsd = cached.AvoidedCostUsd ?? 0m;
        var outcome = state.ToOutcome(JsonNode.Parse(cached.ResponseJson)!, time);
        await WriteTraceAsync(state, outcome, cancellationToken);
        return outcome;
    }

    private async Task<ChatOutcome> ReplayAsync(CallState state, StoredOutcome stored, CancellationToken cancellationToken)
    {
        var original = JsonSerializer.Deserialize<ChatMetrics>(stored.MetricsJson, Json)!;
        var elapsed = time.GetElapsedTime(state.Call.StartedAt).TotalMilliseconds;
        var metrics = original with
        {
            RequestId = state.Call.RequestId,
            Idempotency = IdempotencyStatus.Replayed,
            CostUsd = 0m,
            CostStatus = CostStatus.Free,
            SavedUsd = original.CostUsd ?? 0m,
            LatencyMs = elapsed,
            ProviderLatencyMs = 0,
            OverheadMs = elapsed,
        };
        var outcome = new ChatOutcome { Status = stored.Status, ProviderBody = JsonNode.Parse(stored.BodyJson), Metrics = metrics };
        await SafeAppendAsync(TraceFrom(state, outcome), cancellationToken);
        return outcome;
    }

    private static decimal SavedUsd(CallState state) => state.UsdOfInput(state.Optimization?.SavedTokens ?? 0);

    private Task WriteTraceAsync(CallState state, ChatOutcome outcome, CancellationToken cancellationToken) =>
        SafeAppendAsync(TraceFrom(state, outcome), cancellationToken);

    private async Task SafeAppendAsync(RequestTrace trace, CancellationToken cancellationToken)
    {
        try
        {
            await traces.AppendAsync(trace, CancellationToken.None);
            await rollups.AddAsync(trace.WorkspaceId, Budgets.BudgetPeriods.At(trace.CreatedAt).Day, RollupDimensions.Of(trace), UsageDelta.From(trace), CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A trace that cannot be written must not fail a call the provider already answered (and billed).
            Log.TraceWriteFailed(logger, trace.Id, ex.GetType().Name);
        }
    }

    private RequestTrace TraceFrom(CallState state, ChatOutcome outcome)
    {
        var call = state.Call;
        var m = outcome.Metrics;
        return new RequestTrace
        {
            Id = call.RequestId,
            WorkspaceId = call.Project.WorkspaceId,
            ProjectId = call.Project.Id,
            CreatedAt = time.GetUtcNow(),
            Endpoint = call.Endpoint,
            Provider = m.Provider,
            FinalProvider = m.FinalProvider,
            Model = m.Model,
            FinalModel = m.FinalModel,
            WasFallback = m.WasFallback,
            OptimizationMode = m.OptimizationMode,
            Feature = m.Feature,
            Stream = call.Request.Stream,
            Status = outcome.Status,
            ErrorCode = outcome.Error?.Code,
            InputTokens = m.InputTokens,
            OutputTokens = m.OutputTokens,
            CachedInputTokens = m.CachedInputTokens,
            TotalTokens = m.TotalTokens,
            WasteTokens = m.WasteTokens,
            SavedTokens = m.SavedTokens,
            CostUsd = m.CostUsd,
            CostStatus = m.CostStatus,
            SavedUsd = m.SavedUsd,
            WasteUsd = state.UsdOfInput(m.WasteTokens),
            PotentialSavedUsd = call.Request.OptimizationMode == OptimizationMode.MeasureOnly ? state.UsdOfInput(state.Optimization?.RemovableTokens ?? 0) : 0m,
            WasteByCategory = m.WasteByCategory,
            CacheStatus = m.CacheStatus,
            Idempotency = m.Idempotency,
            LatencyMs = m.LatencyMs,
            ProviderLatencyMs = m.ProviderLatencyMs,
            OverheadMs = m.OverheadMs,
            TemplateId = m.TemplateId,
        };
    }

    /// <summary>Mutable bookkeeping of one call; turned into an immutable outcome at the end.</summary>
    private sealed class CallState(ChatCall call)
    {
        public ChatCall Call { get; } = call;
        public string FinalModel { get; set; } = call.Request.Model;
        public ProviderId FinalProvider { get; set; } = call.Request.Provider;
        public string? FallbackSkipped { get; set; }
        public decimal? InputPricePerMillion { get; set; }

        public decimal UsdOfInput(long tokens) => InputPricePerMillion is { } price && tokens > 0 ? Math.Round(tokens * price / 1_000_000m, 10) : 0m;
        public bool WasFallback { get; set; }
        public bool HoldsIdempotencyKey { get; set; }
        public OptimizationResult? Optimization { get; set; }
        public TokenUsage Usage { get; set; } = TokenUsage.None;
        public CostResult Cost { get; set; } = new(null, CostStatus.Free, null);
        public decimal SavedUsd { get; set; }
        public string CacheStatus { get; set; } = Caching.CacheStatus.Bypass;
        public TimeSpan ProviderLatency { get; set; }

        public ChatOutcome ToOutcome(object bodyOrError, TimeProvider time)
        {
            var elapsed = time.GetElapsedTime(Call.StartedAt).TotalMilliseconds;
            var providerMs = ProviderLatency.TotalMilliseconds;
            var error = bodyOrError as GatewayError;
            var request = Call.Request;
            var metrics = new ChatMetrics
            {
                RequestId = Call.RequestId,
                Provider = request.Provider.Value,
                Model = request.Model,
                OriginalModel = request.Model,
                FinalModel = FinalModel,
                FinalProvider = FinalProvider.Value,
                WasFallback = WasFallback,
                FallbackSkipped = FallbackSkipped,
                OptimizationMode = request.OptimizationMode.ToWire(),
                InputTokens = Usage.InputTokens,
                OutputTokens = Usage.OutputTokens,
                CachedInputTokens = Usage.CachedInputTokens,
                TotalTokens = Usage.TotalTokens,
                WasteTokens = Optimization?.WasteTokens ?? 0,
                WasteByCategory = Optimization?.WasteByCategory,
                SavedTokens = Optimization?.SavedTokens ?? 0,
                CostUsd = Cost.CostUsd,
                CostStatus = Cost.Status,
                SavedUsd = SavedUsd,
                CacheStatus = CacheStatus,
                Idempotency = request.IdempotencyKey is null ? IdempotencyStatus.None : IdempotencyStatus.New,
                LatencyMs = Math.Round(elapsed, 3),
                ProviderLatencyMs = Math.Round(providerMs, 3),
                OverheadMs = Math.Round(Math.Max(0, elapsed - providerMs), 3),
                Feature = request.Feature,
                TemplateId = Optimization?.TemplateId,
            };

            return error is null
                ? new ChatOutcome { Status = 200, ProviderBody = (JsonNode?)bodyOrError, Metrics = metrics }
                : new ChatOutcome { Status = error.Status, Error = error, Metrics = metrics };
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Could not write trace {RequestId}: {ErrorType}")]
        public static partial void TraceWriteFailed(ILogger logger, string requestId, string errorType);
    }
}
