using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Credentials;
using KillToken.Core.Domain;
using KillToken.Core.Idempotency;
using KillToken.Core.Observability;
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
/// Plain and streamed calls share every step: <c>BeginAsync</c> (everything before the provider) and
/// <c>SucceedAsync</c>/<c>FailAsync</c> (everything after it); only step 7 differs — one JSON answer, or events passed
/// through as they arrive and settled from the usage the stream reported when it ends.
/// </summary>
public sealed partial class ChatPipeline(
    CredentialResolver credentials,
    IProviderRegistry providers,
    IIdempotencyGate idempotency,
    IBudgetGate budget,
    IResponseCache cache,
    IPromptOptimizer optimizer,
    IPricingCatalog pricing,
    WorkspacePricing workspacePricing,
    ITraceStore traces,
    PendingTraceWrites pendingTraceWrites,
    TimeProvider time,
    KillTokenTelemetry telemetry,
    ILogger<ChatPipeline> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A non-streaming call: every step of §3, then the provider's JSON answer and the metrics.</summary>
    public async Task<ChatOutcome> ExecuteAsync(ChatCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (call.Request.Stream)
        {
            throw new ArgumentException("A streaming call goes through ExecuteStreamAsync.", nameof(call));
        }

        var state = NewCallState(call);
        try
        {
            Begun begun;
            try
            {
                begun = await BeginAsync(state, cancellationToken);
            }
            catch (DependencyUnavailableException ex)
            {
                return await UnavailableAsync(state, ex);
            }

            if (begun.Flight is not { } flight)
            {
                return begun.Outcome!;
            }

            var sentAt = StartModelCall(flight);
            try
            {
                // 7. The provider call.
                var response = await flight.Adapter.SendAsync(flight.ProviderCall!, cancellationToken);
                return response.IsSuccess
                    ? await SucceedAsync(flight, response.Body ?? new JsonObject(), response.Usage, response.Latency, cancellationToken)
                    : await FailAsync(flight, response.Error!, response.Usage, response.Latency, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await FailAsync(flight, ClientClosed(), TokenUsage.None, time.GetElapsedTime(sentAt), CancellationToken.None);
                throw;
            }
            finally
            {
                await ReleaseAsync(flight);
            }
        }
        catch (Exception ex) when (!state.TelemetryEnded)
        {
            EndUnfinished(state, ex);
            throw;
        }
    }

    /// <summary>
    /// A streaming call: the same steps before and after the provider as <see cref="ExecuteAsync"/>, with the provider's
    /// events passed through as they arrive and the call settled when the stream ends. A failure before the first event
    /// comes back as <see cref="ChatStreamResult.Outcome"/>; a cache hit or an idempotent replay as a replayed stream.
    /// </summary>
    public async Task<ChatStreamResult> ExecuteStreamAsync(ChatCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (!call.Request.Stream)
        {
            throw new ArgumentException("A non-streaming call goes through ExecuteAsync.", nameof(call));
        }

        var state = NewCallState(call);
        try
        {
            Begun begun;
            try
            {
                begun = await BeginAsync(state, cancellationToken);
            }
            catch (DependencyUnavailableException ex)
            {
                return new ChatStreamResult { Outcome = await UnavailableAsync(state, ex) };
            }

            if (begun.Flight is not { } flight)
            {
                var outcome = begun.Outcome!;
                if (outcome.Error is null && outcome.ProviderBody is { } body && begun.BodyProvider is { } bodyProvider
                    && providers.TryGet(bodyProvider, out var replayAdapter) && replayAdapter is IStreamingProviderAdapter replayer)
                {
                    var events = replayer.Replay(body, call.Request.ProviderOptions);
                    return new ChatStreamResult
                    {
                        Stream = new ChatStream(bodyProvider, outcome.Metrics.FinalModel ?? call.Request.Model, events.ToAsyncEnumerable(), abandon: null) { IsReplay = true, Outcome = outcome },
                    };
                }

                return new ChatStreamResult { Outcome = outcome };
            }

            ProviderStreamStart start;
            var sentAt = StartModelCall(flight);
            try
            {
                // 7. The provider call, as a stream. BeginAsync only lets through adapters that stream this provider.
                start = await ((IStreamingProviderAdapter)flight.Adapter).OpenStreamAsync(flight.ProviderCall!, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await FailAsync(flight, ClientClosed(), TokenUsage.None, time.GetElapsedTime(sentAt), CancellationToken.None);
                }
                finally
                {
                    await ReleaseAsync(flight);
                }

                throw;
            }
            catch
            {
                await ReleaseAsync(flight);
                throw;
            }

            if (start.Stream is not { } upstream)
            {
                try
                {
                    // A request that reached the provider before the connection broke is charged for its prompt.
                    var usage = start.RequestDelivered ? UsageSoFar(flight, ProviderStreamResult.Empty) : TokenUsage.None;
                    return new ChatStreamResult { Outcome = await FailAsync(flight, start.Error!, usage, start.Latency, cancellationToken) };
                }
                finally
                {
                    await ReleaseAsync(flight);
                }
            }

            ChatStream? stream = null;
            var openedAt = time.GetTimestamp();
            stream = new ChatStream(
                flight.State.FinalProvider,
                flight.State.FinalModel,
                PumpAsync(flight, upstream, start.Latency, openedAt, () => stream!.MarkStarted(), outcome => stream!.Outcome = outcome, cancellationToken),
                abandon: async () =>
                {
                    // Nobody read the events (the client left before the first byte): no settlement, so no outcome to record.
                    EndUnfinished(flight.State, ErrorCodes.ClientClosedRequest);
                    await upstream.DisposeAsync();
                    await ReleaseAsync(flight);
                });
            return new ChatStreamResult { Stream = stream };
        }
        catch (Exception ex) when (!state.TelemetryEnded)
        {
            EndUnfinished(state, ex);
            throw;
        }
    }

    /// <summary>
    /// Passes the upstream's events through one by one (no buffering), then settles the call from what the stream
    /// reported. A client that goes away (the token fires, or the consumer stops reading) aborts the upstream request and
    /// the call is settled with what was used so far as 499 <c>client_closed_request</c>.
    /// </summary>
    private async IAsyncEnumerable<ServerSentEvent> PumpAsync(
        Flight flight, IProviderStream upstream, TimeSpan headersLatency, long openedAt, Action started, Action<ChatOutcome> finished,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        started();
        var settled = false;
        try
        {
            var events = upstream.ReadEventsAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    bool more;
                    try
                    {
                        more = await events.MoveNextAsync();
                    }
                    catch (Exception) when (cancellationToken.IsCancellationRequested)
                    {
                        // Whatever reading threw once the client left is the client's leaving.
                        break;
                    }

                    if (!more)
                    {
                        break;
                    }

                    yield return events.Current;
                }
            }
            finally
            {
                await events.DisposeAsync();
            }

            var result = upstream.Result;
            if (!cancellationToken.IsCancellationRequested || result.Completed)
            {
                settled = true; // a settle that throws must not be followed by a second one as "client gone"
                finished(await SettleStreamAsync(flight, result, headersLatency + time.GetElapsedTime(openedAt), clientGone: false));
            }
        }
        finally
        {
            try
            {
                // Disposing a response still being sent aborts the upstream request: the provider stops generating.
                await upstream.DisposeAsync();
                if (!settled)
                {
                    settled = true;
                    finished(await SettleStreamAsync(flight, upstream.Result, headersLatency + time.GetElapsedTime(openedAt), clientGone: true));
                }
            }
            finally
            {
                // Whatever happened above, the reservation and the idempotency key are released.
                EndUnfinished(flight.State, "_OTHER");
                await ReleaseAsync(flight);
            }
        }
    }

    private async Task<ChatOutcome> SettleStreamAsync(Flight flight, ProviderStreamResult result, TimeSpan latency, bool clientGone)
    {
        try
        {
            if (result.Completed && result.Failure is null)
            {
                return await SucceedAsync(flight, result.Response ?? new JsonObject(), result.Usage, latency, CancellationToken.None);
            }

            var error = clientGone
                ? ClientClosed()
                : result.Failure ?? new GatewayError(502, ErrorCodes.ProviderError, "The provider's stream ended before its terminator.");
            return await FailAsync(flight, error, UsageSoFar(flight, result), latency, CancellationToken.None);
        }
        catch (Exception ex) when (!flight.State.TelemetryEnded)
        {
            EndUnfinished(flight.State, ex);
            throw;
        }
    }

    private static GatewayError ClientClosed() =>
        new(499, ErrorCodes.ClientClosedRequest, "The client closed the connection before the answer was complete.");

    /// <summary>
    /// A stream cut short is still billed by the provider for the prompt and what it generated: usage it reported,
    /// otherwise the prompt's estimate and the output seen so far.
    /// </summary>
    private static TokenUsage UsageSoFar(Flight flight, ProviderStreamResult result)
    {
        var reported = result.Usage;
        if (reported.Invalid)
        {
            return reported; // no figure of it is trusted, nor estimated around: charged the worst case
        }

        var counter = TokenCounter.For(flight.ProviderCall!.Provider, flight.ProviderCall.Model);
        var input = reported.InputTokens > 0 ? reported.InputTokens : counter.CountMessages(flight.ProviderCall.Messages);
        var output = Math.Max(reported.OutputTokens, result.OutputText.Length == 0 ? 0 : counter.CountText(result.OutputText));
        return reported with { InputTokens = input, OutputTokens = output, Reported = true };
    }

    /// <summary>
    /// §3 steps 1 (streaming support) to 5 and 4b: everything before the provider call. Either the call is ready to send
    /// (a <see cref="Flight"/> holding its reservation and idempotency key) or it already has its outcome.
    /// </summary>
    private async Task<Begun> BeginAsync(CallState state, CancellationToken cancellationToken)
    {
        var call = state.Call;
        var request = call.Request;

        // 1. A stream needs a provider whose wire format KillToken streams (before any credential work).
        if (request.Stream && !CanStream(request.Provider))
        {
            return Finished(await FinishAsync(state, new GatewayError(422, ErrorCodes.StreamingNotSupported,
                $"KillToken does not stream '{request.Provider}' yet; send the request without stream: true."), cancellationToken));
        }

        // 2. The workspace's own credential, before any cache, idempotency, budget or provider work.
        var (credential, credentialError) = await credentials.ResolveAsync(call.Project.WorkspaceId, request.Provider, cancellationToken);
        if (credentialError is not null)
        {
            return Finished(await FinishAsync(state, credentialError, cancellationToken));
        }

        if (credential is null)
        {
            return Finished(await FinishAsync(state, GatewayError.BadRequest(ErrorCodes.ProviderCredentialRequired,
                "The workspace's credential for this provider has no secret in the vault; rotate it with a new key."), cancellationToken));
        }

        if (!providers.TryGet(request.Provider, out var adapter))
        {
            return Finished(await FinishAsync(state, new GatewayError(422, ErrorCodes.ProviderNotSupported,
                $"Provider '{request.Provider}' is not available on this gateway yet."), cancellationToken));
        }

        var flight = new Flight(state, adapter);
        var handedOver = false;
        try
        {
            // 3. Idempotency: a finished twin is replayed, a different request under the same key is refused.
            if (request.IdempotencyKey is not null)
            {
                var decision = await idempotency.BeginAsync(call.Project.WorkspaceId, call.Project.Id, request.IdempotencyKey, state.RequestHash!, cancellationToken);
                if (decision.Conflict)
                {
                    return Finished(await FinishAsync(state, new GatewayError(409, ErrorCodes.IdempotencyKeyReused,
                        "This idempotencyKey was used with a different request."), cancellationToken));
                }

                if (decision.Replay is not null)
                {
                    var replayed = await ReplayAsync(state, decision.Replay, cancellationToken);
                    return new Begun(null, replayed, ProviderId.TryParse(replayed.Metrics.FinalProvider, out var p) ? p : request.Provider);
                }

                state.HoldsIdempotencyKey = true;
            }

            // 4a. Budget plan: blocked at 100%, on the fallback model from 80% when one is set.
            var plan = await budget.PlanAsync(call.Project, cancellationToken);
            state.BudgetState = plan switch
            {
                { Rejection: not null } => KillTokenTelemetry.BudgetStates.Blocked,
                { FallbackModel: not null } => KillTokenTelemetry.BudgetStates.NearLimit,
                { HasLimits: true } => KillTokenTelemetry.BudgetStates.Within,
                _ => KillTokenTelemetry.BudgetStates.Unlimited,
            };
            if (plan.FallbackModel is not null)
            {
                var route = await FallbackRouteAsync(state, plan.FallbackModel, plan.FallbackProvider, credential, adapter, cancellationToken);
                if (route.Skipped is not null)
                {
                    state.FallbackSkipped = route.Skipped;
                }
                else
                {
                    (credential, flight.Adapter) = (route.Credential!, route.Adapter!);
                    state.UseFallback(route);
                }
            }

            // 6. Optimizer (measure_only changes nothing), then 5. the exact cache on the final model and sent messages.
            state.PriceOverrides = await workspacePricing.GetAsync(call.Project.WorkspaceId, cancellationToken);
            var counter = TokenCounter.For(state.FinalProvider, state.FinalModel);
            var optimized = optimizer.Optimize(request.Messages, request.OptimizationMode, call.Project.WorkspaceId, counter);
            state.Optimization = optimized;
            state.InputPricePerMillion = pricing.Find(state.FinalProvider, state.FinalModel, state.PriceOverrides)?.Input;

            // A cache hit spends nothing, so no budget can block it.
            // The key is hashed only for a call that reads or writes the cache.
            flight.CacheKey = UsesCache(request)
                ? CanonicalRequest.CacheKey(state.FinalProvider.Value, state.FinalModel, optimized.Messages, request.ProviderOptions, request.NativeBody, request.NativeHeaders)
                : null;
            var hit = await TryCacheAsync(state, flight.CacheKey, cancellationToken);
            if (hit is not null)
            {
                return new Begun(null, hit, state.FinalProvider);
            }

            if (plan.Rejection is not null)
            {
                return Finished(await FinishAsync(state, plan.Rejection, cancellationToken));
            }

            // 4b. Admission: hold the call's maximum cost so concurrent calls cannot overspend — at a lowered output cap
            // when only that fits, on the fallback model when the requested one cannot fit at all.
            var callerCap = CallerOutputCap(request);
            var candidates = new List<BudgetCandidate> { new(state.FinalProvider, state.FinalModel, optimized.InputTokens, callerCap, state.PriceOverrides) };
            FallbackRoute? fallback = null;
            if (plan.HasLimits && !state.WasFallback && state.FallbackSkipped is null && call.Project.FallbackModel is { } fallbackModel)
            {
                var fallbackProvider = call.Project.FallbackProvider is { } p && ProviderId.TryParse(p, out var parsed) ? parsed : (ProviderId?)null;
                fallback = await FallbackRouteAsync(state, fallbackModel, fallbackProvider, credential, flight.Adapter, cancellationToken);
                if (fallback.Skipped is null)
                {
                    candidates.Add(new BudgetCandidate(fallback.Provider, fallback.Model, optimized.InputTokens, callerCap, state.PriceOverrides));
                }
            }

            var admission = await budget.AdmitAsync(call.Project, plan, candidates, cancellationToken);
            if (admission.Rejection is not null)
            {
                if (fallback?.Skipped is { } skipped)
                {
                    state.FallbackSkipped = skipped;
                }

                state.BudgetState = KillTokenTelemetry.BudgetStates.Blocked;

                return Finished(await FinishAsync(state, admission.Rejection, cancellationToken));
            }

            flight.Reservation = admission.Reservation;
            (state.OutputCap, state.OutputLowered) = (admission.OutputCap, admission.OutputLowered);
            if (state.OutputLowered)
            {
                state.BudgetState = KillTokenTelemetry.BudgetStates.Capped;
            }
            if (admission.Candidate > 0)
            {
                (credential, flight.Adapter) = (fallback!.Credential!, fallback.Adapter!);
                state.UseFallback(fallback);
                state.InputPricePerMillion = pricing.Find(state.FinalProvider, state.FinalModel, state.PriceOverrides)?.Input;
            }

            if (admission.Candidate > 0 || state.OutputLowered)
            {
                // What is sent changed (model or a lowered cap): the cache entry is the one of what is sent, so a capped
                // answer never serves an uncapped request. The fallback's may already exist. (The reservation's own cap,
                // sent when the caller set none, is the budget's ceiling, not the caller's request: it keeps the key.)
                var (options, nativeBody) = SentOptions(state);
                flight.CacheKey = UsesCache(request)
                    ? CanonicalRequest.CacheKey(state.FinalProvider.Value, state.FinalModel, optimized.Messages, options, nativeBody, request.NativeHeaders)
                    : null;
                if (await TryCacheAsync(state, flight.CacheKey, cancellationToken) is { } fallbackHit)
                {
                    return new Begun(null, fallbackHit, state.FinalProvider);
                }
            }

            var (sentOptions, sentNativeBody) = SentOptions(state);
            flight.ProviderCall = new ProviderCall
            {
                Provider = state.FinalProvider,
                Model = state.FinalModel,
                Messages = optimized.Messages,
                Options = sentOptions,
                Credential = credential,
                RequestId = call.RequestId,
                NativeBody = sentNativeBody,
                NativeHeaders = request.NativeHeaders,
            };
            handedOver = true;
            return new Begun(flight, null, null);
        }
        finally
        {
            if (!handedOver)
            {
                await ReleaseAsync(flight);
            }
        }

        static Begun Finished(ChatOutcome outcome) => new(null, outcome, null);
    }

    /// <summary>
    /// Where the project's fallback model would send the call: the fallback's provider (seed 002 lets it cross providers)
    /// with that provider's own credential, or why it cannot be used for this call.
    /// </summary>
    private async Task<FallbackRoute> FallbackRouteAsync(CallState state, string model, ProviderId? provider, ResolvedCredential credential,
        IProviderAdapter adapter, CancellationToken cancellationToken)
    {
        var request = state.Call.Request;
        var target = provider ?? request.Provider;
        if (target == request.Provider)
        {
            return new FallbackRoute(target, model, credential, adapter, null);
        }

        if (request.NativeBody is not null)
        {
            return FallbackRoute.Skip(target, model, $"a native {request.Provider} body cannot be sent to the fallback provider '{target}'");
        }

        if (request.Stream && !CanStream(target))
        {
            return FallbackRoute.Skip(target, model, $"fallback provider '{target}' cannot stream");
        }

        var (fallbackCredential, _) = await credentials.ResolveAsync(state.Call.Project.WorkspaceId, target, cancellationToken);
        return fallbackCredential is not null && providers.TryGet(target, out var fallbackAdapter)
            ? new FallbackRoute(target, model, fallbackCredential, fallbackAdapter, null)
            : FallbackRoute.Skip(target, model, $"fallback provider '{target}' has no active credential in this workspace");
    }

    /// <summary>The options and native body sent upstream: the request's own, with the output cap admission set (the caller set none).</summary>
    private static (JsonObject? Options, JsonObject? NativeBody) SentOptions(CallState state)
    {
        var request = state.Call.Request;
        if (state.OutputCap is not { } cap)
        {
            return (request.ProviderOptions, request.NativeBody);
        }

        return request.NativeBody is { } native
            ? (request.ProviderOptions, AdmittedOutputCap.ApplyToNativeBody(native, state.FinalProvider, cap))
            : (AdmittedOutputCap.ApplyToOptions(request.ProviderOptions, state.FinalProvider, cap), null);
    }

    /// <summary>8. The provider answered: cost from its usage, settle the budget, fill the cache, finish (idempotency, trace).</summary>
    private async Task<ChatOutcome> SucceedAsync(Flight flight, JsonNode body, TokenUsage usage, TimeSpan latency, CancellationToken cancellationToken)
    {
        var state = flight.State;
        var request = state.Call.Request;
        state.ProviderLatency = latency;
        (state.Usage, state.Cost) = Charge(state, usage);
        state.SavedUsd = SavedUsd(state);
        EndModelCall(flight, usage, GenAi.ResponseModelOf(body), null, latency);

        // The reservation stays with the call until its trace is written: the settlement goes into the same write.
        if (cache.Enabled && request.CachePolicy is CachePolicy.WriteOnly or CachePolicy.ReadWrite)
        {
            try
            {
                await cache.SetAsync(state.Call.Project.WorkspaceId, flight.CacheKey!, new CachedResponse(
                    body.ToJsonString(), state.Usage.InputTokens, state.Usage.OutputTokens, state.Usage.CachedInputTokens, state.Cost.CostUsd), cancellationToken);
                state.CacheStatus = request.CachePolicy == CachePolicy.WriteOnly ? CacheStatus.Written : CacheStatus.Miss;
            }
            catch (DependencyUnavailableException ex)
            {
                // The provider answered and billed: a cache entry that could not be kept never costs the caller the answer.
                Log.StoreStepSkipped(logger, state.Call.RequestId, "cache write", ex.Code);
            }
        }

        return await FinishAsync(state, body, cancellationToken);
    }

    /// <summary>8. The provider call failed: what it used (a stream cut short) is billed and settled; the error is traced.</summary>
    private async Task<ChatOutcome> FailAsync(Flight flight, GatewayError error, TokenUsage usage, TimeSpan latency, CancellationToken cancellationToken)
    {
        var state = flight.State;
        state.ProviderLatency = latency;
        state.Usage = usage;
        if (usage.Reported)
        {
            (state.Usage, state.Cost) = Charge(state, usage);
        }

        EndModelCall(flight, usage, null, error.Code, latency);

        return await FinishAsync(state, error, cancellationToken);
    }

    /// <summary>
    /// What a provider's answer costs, and the counts to report for it. Usage figures are untrusted (a workspace's own
    /// endpoint reports them): usage that is missing or invalid never makes a priced call cheaper or free — it is charged
    /// its worst case, the same maximum its reservation holds (input estimate + output cap at the model's prices, computed
    /// even when the project has no limits), as <c>costStatus: "estimated"</c> with that estimate as its counts. An
    /// unpriced model stays unpriced.
    /// </summary>
    private (TokenUsage Usage, CostResult Cost) Charge(CallState state, TokenUsage usage)
    {
        if (usage.Billable)
        {
            return (usage, pricing.Cost(state.FinalProvider, state.FinalModel, usage, state.PriceOverrides));
        }

        if (pricing.Find(state.FinalProvider, state.FinalModel, state.PriceOverrides) is not { } price)
        {
            return (usage, new CostResult(null, CostStatus.Unpriced, null));
        }

        var worst = BudgetGate.WorstCase(price, state.Optimization?.InputTokens ?? 0, state.OutputCap ?? CallerOutputCap(state.Call.Request));
        return (worst, new CostResult(PricingCatalog.Compute(price, worst), CostStatus.Estimated, price));
    }

    /// <summary>The output cap the caller set: in its provider options, or in a native body.</summary>
    private static long? CallerOutputCap(ChatRequest request) => BudgetGate.OutputCap(request.ProviderOptions) ?? request.OutputTokenCap;

    /// <summary>
    /// Whatever a call still holds when it ends without its trace written (failure, cancellation): its reservation,
    /// settled at the cost known so far (zero before the provider answered), and its idempotency key.
    /// </summary>
    private async Task ReleaseAsync(Flight flight)
    {
        var state = flight.State;
        if (flight.Reservation is { } reservation)
        {
            flight.Reservation = null;
            try
            {
                await budget.SettleAsync(state.Call.Project, reservation, state.Cost.CostUsd ?? 0m, CancellationToken.None);
            }
            catch (DependencyUnavailableException ex)
            {
                // The reservation stays held (the budget errs on refusing); the daily reconciliation releases it.
                Log.StoreStepSkipped(logger, state.Call.RequestId, "reservation release", ex.Code);
            }
        }

        if (state.HoldsIdempotencyKey)
        {
            state.HoldsIdempotencyKey = false;
            try
            {
                await idempotency.AbandonAsync(state.Call.Project.WorkspaceId, state.Call.Project.Id, state.Call.Request.IdempotencyKey!, CancellationToken.None);
            }
            catch (DependencyUnavailableException ex)
            {
                // The hold expires on its own; a twin waits for it, then takes the key over.
                Log.StoreStepSkipped(logger, state.Call.RequestId, "idempotency release", ex.Code);
            }
        }
    }

    /// <summary>
    /// The store or the vault could not answer before the provider was called: 503 with its code and Retry-After, no
    /// provider call (its cost could not be recorded). What the call held was released on the way out of BeginAsync.
    /// </summary>
    private async Task<ChatOutcome> UnavailableAsync(CallState state, DependencyUnavailableException exception)
    {
        Log.Unavailable(logger, state.Call.RequestId, exception.Code, exception.InnerException?.GetType().Name ?? exception.GetType().Name);
        var error = GatewayError.Unavailable(exception);
        return await FinishAsync(state, error with { Message = error.Message + " The provider was not called." }, CancellationToken.None);
    }

    /// <summary>The outcome of a call, with its trace written and, for a success under an idempotency key, stored for replays.</summary>
    private async Task<ChatOutcome> FinishAsync(CallState state, object bodyOrError, CancellationToken cancellationToken)
    {
        var outcome = state.ToOutcome(bodyOrError, time);
        var call = state.Call;
        if (state.HoldsIdempotencyKey && outcome.Error is null)
        {
            try
            {
                await idempotency.CompleteAsync(call.Project.WorkspaceId, call.Project.Id, call.Request.IdempotencyKey!, state.RequestHash!,
                    new StoredOutcome(outcome.Status, outcome.ProviderBody?.ToJsonString() ?? "null",
                        JsonSerializer.Serialize(outcome.Metrics, Json)), cancellationToken);
                state.HoldsIdempotencyKey = false;
            }
            catch (DependencyUnavailableException ex)
            {
                // The answer is the caller's (the provider billed it): it goes out and is traced. The key is released
                // with the call (ReleaseAsync), so a retry under it calls the provider again rather than wait.
                Log.StoreStepSkipped(logger, call.RequestId, "idempotent answer", ex.Code);
            }
        }

        await WriteTraceAsync(state, outcome);
        EndGatewayCall(state, outcome);
        return outcome;
    }

    /// <summary>A call's bookkeeping, with its span started (null when no one listens).</summary>
    private CallState NewCallState(ChatCall call) => new(call)
    {
        RequestHash = call.Request.IdempotencyKey is null ? null : CanonicalRequest.RequestHash(call.Request),
        Span = telemetry.StartGatewayCall(call),
    };

    /// <summary>The model call's span, opened just before the provider request (which becomes its child); returns the send time.</summary>
    private long StartModelCall(Flight flight)
    {
        var state = flight.State;
        state.ModelSpan = telemetry.StartModelCall(state.Span, flight.ProviderCall!, state.OutputCap ?? CallerOutputCap(state.Call.Request));
        state.ModelCallOpen = true;
        return state.ModelSentAt = time.GetTimestamp();
    }

    private void EndModelCall(Flight flight, TokenUsage usage, string? responseModel, string? errorType, TimeSpan latency)
    {
        var state = flight.State;
        if (!state.ModelCallOpen)
        {
            return;
        }

        state.ModelCallOpen = false;
        telemetry.EndModelCall(state.ModelSpan, new ModelCallResult(flight.ProviderCall!.Provider, flight.ProviderCall.Model, responseModel, usage,
            state.Cost.CostUsd, errorType, latency));
    }

    private void EndGatewayCall(CallState state, ChatOutcome outcome)
    {
        if (state.TelemetryEnded)
        {
            return;
        }

        state.TelemetryEnded = true;
        telemetry.EndGatewayCall(state.Span, state.Call, outcome, state.BudgetState);
    }

    /// <summary>A call that ends without an outcome: an exception (recorded by its type, never its message), or a stream nobody read.</summary>
    private void EndUnfinished(CallState state, Exception exception) => EndUnfinished(state, exception.GetType().FullName ?? exception.GetType().Name);

    private void EndUnfinished(CallState state, string errorType)
    {
        if (state.TelemetryEnded)
        {
            return;
        }

        state.TelemetryEnded = true;
        if (state.ModelCallOpen)
        {
            state.ModelCallOpen = false;
            telemetry.EndModelCall(state.ModelSpan, new ModelCallResult(state.FinalProvider, state.FinalModel, null, TokenUsage.None, null, errorType,
                time.GetElapsedTime(state.ModelSentAt)));
        }

        telemetry.EndUnfinished(state.Span, state.Call, errorType, time.GetElapsedTime(state.Call.StartedAt));
    }

    private bool CanStream(ProviderId provider) =>
        providers.TryGet(provider, out var adapter) && adapter is IStreamingProviderAdapter streaming && streaming.CanStream(provider);

    /// <summary>Traces a request refused before the pipeline (validation) so failures show in the list too.</summary>
    public ValueTask TraceRejectionAsync(ProjectRecord project, string requestId, string endpoint, long startedAt, GatewayError error, ChatRequest? request, string feature)
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
        telemetry.RecordRejection(endpoint, request?.Provider.Value, error, TimeSpan.FromMilliseconds(elapsed));
        return WriteTraceBehindAsync(trace, null);
    }

    private bool UsesCache(ChatRequest request) => cache.Enabled && request.CachePolicy != CachePolicy.Bypass;

    private async Task<ChatOutcome?> TryCacheAsync(CallState state, string? cacheKey, CancellationToken cancellationToken)
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

        var cached = await cache.TryGetAsync(state.Call.Project.WorkspaceId, cacheKey!, cancellationToken);
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

        // Through FinishAsync, so a hit under an idempotency key is kept for replay like any other success.
        return await FinishAsync(state, JsonNode.Parse(cached.ResponseJson)!, cancellationToken);
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
        await WriteTraceBehindAsync(TraceFrom(state, outcome), null);
        EndGatewayCall(state, outcome);
        return outcome;
    }

    private static decimal SavedUsd(CallState state) => state.UsdOfInput(state.Optimization?.SavedTokens ?? 0);

    /// <summary>
    /// Starts writing the call's trace together with the settlement of the reservation it still holds, without waiting:
    /// the answer goes out meanwhile. Until the write is committed the reservation stays held (a concurrent call sees the
    /// budget fuller than it is, never emptier); reports wait for it (<see cref="PendingTraceWrites"/>).
    /// </summary>
    private ValueTask WriteTraceAsync(CallState state, ChatOutcome outcome)
    {
        var settling = state.Reservation is { } reservation ? new Settling(state.Call.Project, reservation, state.Cost.CostUsd ?? 0m) : null;
        state.Reservation = null; // settled by this write (or, if it fails, right after it): never twice
        return WriteTraceBehindAsync(TraceFrom(state, outcome), settling);
    }

    private ValueTask WriteTraceBehindAsync(RequestTrace trace, Settling? settling) =>
        pendingTraceWrites.StartAsync(() => SafeAppendAsync(trace, settling));

    private async Task SafeAppendAsync(RequestTrace trace, Settling? settling)
    {
        var settlement = settling is { } s && (s.Reservation.AmountUsd != 0 || s.CostUsd != 0)
            ? new BudgetSettlement(s.Project.Id, s.Reservation.Periods, s.Reservation.AmountUsd, s.CostUsd, s.Reservation.IncludesWorkspace)
            : null;
        try
        {
            await AppendWithRetriesAsync(trace, settlement);
        }
        catch (Exception ex)
        {
            // A trace that cannot be written must not fail a call the provider already answered (and billed); its
            // settlement was not written either (the store's promise), so it is written on its own.
            Log.TraceWriteFailed(logger, trace.Id, ex.GetType().Name);
            if (settlement is not null)
            {
                try
                {
                    await budget.SettleAsync(settling!.Project, settling.Reservation, settling.CostUsd, CancellationToken.None);
                }
                catch (Exception settleError)
                {
                    // The store is down: the reservation stays held (the budget errs on refusing, never on overspending).
                    Log.TraceWriteFailed(logger, trace.Id, settleError.GetType().Name);
                }
            }

            return;
        }

        if (settlement is not null)
        {
            budget.Settled(settling!.Project, settling.Reservation, settling.CostUsd);
        }
    }

    /// <summary>Tries of a trace write the store could not take for now (throttled, unavailable), behind the answer.</summary>
    internal const int TraceWriteAttempts = 6;

    /// <summary>
    /// The append, tried again with backoff while the store says it is unavailable and the append may be repeated (the
    /// store's promise for <see cref="StoreUnavailableException"/> without <see cref="DependencyUnavailableException.OutcomeUnknown"/>:
    /// nothing but the trace, idempotently, was written). Bounded (about 8 s in all), so a clean stop still drains.
    /// </summary>
    private async Task AppendWithRetriesAsync(RequestTrace trace, BudgetSettlement? settlement)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await traces.AppendAsync(trace, settlement, CancellationToken.None);
                return;
            }
            catch (StoreUnavailableException ex) when (!ex.OutcomeUnknown && attempt < TraceWriteAttempts)
            {
                var backoff = TimeSpan.FromMilliseconds(250 * (1 << (attempt - 1)));
                var wait = ex.RetryAfter is { } asked && asked > backoff ? (asked < MaxTraceRetryWait ? asked : MaxTraceRetryWait) : backoff;
                Log.TraceWriteRetrying(logger, trace.Id, attempt, (long)wait.TotalMilliseconds);
                await Task.Delay(wait, time);
            }
        }
    }

    private static readonly TimeSpan MaxTraceRetryWait = TimeSpan.FromSeconds(5);

    /// <summary>The reservation a finished call still holds, and what the call cost: settled with its trace.</summary>
    private sealed record Settling(ProjectRecord Project, BudgetReservation Reservation, decimal CostUsd);

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
            OutputCapped = m.OutputCapped,
            OutputCap = m.OutputCap,
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

    /// <summary>A call past every check and ready for the provider: what it holds until it settles or is released.</summary>
    private sealed class Flight(CallState state, IProviderAdapter adapter)
    {
        public CallState State { get; } = state;
        public IProviderAdapter Adapter { get; set; } = adapter;
        public string? CacheKey { get; set; }
        public BudgetReservation? Reservation { get => State.Reservation; set => State.Reservation = value; }
        public ProviderCall? ProviderCall { get; set; }
    }

    /// <summary>Where the fallback model would send a call, or why it cannot (<see cref="Skipped"/>).</summary>
    private sealed record FallbackRoute(ProviderId Provider, string Model, ResolvedCredential? Credential, IProviderAdapter? Adapter, string? Skipped)
    {
        public static FallbackRoute Skip(ProviderId provider, string model, string reason) => new(provider, model, null, null, reason);
    }

    /// <summary>BeginAsync's answer: a call to send, or its outcome (and, for a stored answer, the provider whose format it is in).</summary>
    private sealed record Begun(Flight? Flight, ChatOutcome? Outcome, ProviderId? BodyProvider);

    /// <summary>Mutable bookkeeping of one call; turned into an immutable outcome at the end.</summary>
    private sealed class CallState(ChatCall call)
    {
        public ChatCall Call { get; } = call;
        public string FinalModel { get; set; } = call.Request.Model;
        public ProviderId FinalProvider { get; set; } = call.Request.Provider;
        public string? FallbackSkipped { get; set; }
        public IReadOnlyList<ModelPrice>? PriceOverrides { get; set; }
        public decimal? InputPricePerMillion { get; set; }

        public decimal UsdOfInput(long tokens) => InputPricePerMillion is { } price && tokens > 0 ? Math.Round(tokens * price / 1_000_000m, 10) : 0m;
        public bool WasFallback { get; set; }

        /// <summary>The output cap sent for the caller, who set none: the one its reservation holds; null without limits.</summary>
        public long? OutputCap { get; set; }

        /// <summary>True when that cap was lowered below the call's worst case to fit the remaining budget.</summary>
        public bool OutputLowered { get; set; }

        public void UseFallback(FallbackRoute route)
        {
            FinalProvider = route.Provider;
            FinalModel = route.Model;
            WasFallback = true;
            FallbackSkipped = null;
        }

        public string? RequestHash { get; init; }

        /// <summary>The gateway call's span and the model call's (null when no one listens); ended once, by whichever end comes first.</summary>
        public Activity? Span { get; init; }
        public Activity? ModelSpan { get; set; }
        public bool ModelCallOpen { get; set; }
        public long ModelSentAt { get; set; }
        public bool TelemetryEnded { get; set; }

        /// <summary>Where the project stood against its limits (<see cref="KillTokenTelemetry.BudgetStates"/>); null before the budget step.</summary>
        public string? BudgetState { get; set; }
        public bool HoldsIdempotencyKey { get; set; }
        /// <summary>Money held for the call until its trace is written with the settlement.</summary>
        public BudgetReservation? Reservation { get; set; }
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
                OutputCapped = OutputLowered,
                OutputCap = OutputLowered ? OutputCap : null,
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

        [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Trace {RequestId}: the store is unavailable (attempt {Attempt}); trying again in {DelayMs} ms")]
        public static partial void TraceWriteRetrying(ILogger logger, string requestId, int attempt, long delayMs);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Request {RequestId} answered 503 {Code} before the provider ({Cause})")]
        public static partial void Unavailable(ILogger logger, string requestId, string code, string cause);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Request {RequestId}: {Step} skipped, {Code}")]
        public static partial void StoreStepSkipped(ILogger logger, string requestId, string step, string code);
    }
}
