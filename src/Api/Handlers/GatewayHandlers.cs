using System.Text.Json.Nodes;
using KillToken.Core;
using KillToken.Core.Analytics;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;
using KillToken.Api.Http;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// The gateway's API-key routes: <c>POST /v1/chat</c> (plain or streamed), the drop-in wrapper routes of the native SDKs
/// (GatewayHandlers.Wrappers.cs) and the trace reads.
/// </summary>
public sealed partial class GatewayHandlers(
    ApiKeyAuthenticator keys,
    ChatPipeline pipeline,
    ITraceStore traces,
    ReportService reports,
    GatewayOptions options,
    IProviderRegistry providers,
    IPricingCatalog pricing,
    TimeProvider time)
{
    public const string FeatureHeader = WrapperHeaders.FeatureHeader;

    public async Task<IResult> ChatAsync(HttpContext context)
    {
        var startedAt = time.GetTimestamp();
        var requestId = RequestIds.Get(context);
        var (project, authError) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.Chat, context.RequestAborted);
        if (authError is not null)
        {
            return GatewayJson.Error(context, authError);
        }

        var featureHeader = context.Request.Headers[FeatureHeader].ToString();
        var (body, readError) = await RequestBody.ReadJsonAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        ChatRequest? request = null;
        var error = readError;
        if (error is null)
        {
            request = ChatRequestParser.Parse(body, featureHeader, out error);
        }

        if (error is not null)
        {
            await pipeline.TraceRejectionAsync(project!, requestId, "chat", startedAt, error, request, GatewayNames.NormalizeFeature(null, featureHeader));
            return GatewayJson.Error(context, error);
        }

        var call = new ChatCall
        {
            RequestId = requestId,
            Project = project!,
            Request = request!,
            Endpoint = "chat",
            StartedAt = startedAt,
        };

        if (request!.Stream)
        {
            // The provider's own events unchanged, then `event: killtoken.metrics`.
            var started = await pipeline.ExecuteStreamAsync(call, context.RequestAborted);
            return started.Stream is { } stream
                ? new SseResult(stream, new PassThroughDialect(Wire.KillToken))
                : Respond(context, started.Outcome!);
        }

        return Respond(context, await pipeline.ExecuteAsync(call, context.RequestAborted));
    }

    public async Task<IResult> ListRequestsAsync(HttpContext context)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : await HandlerSupport.TracePageAsync(context, traces, project!.WorkspaceId);
    }

    public async Task<IResult> GetRequestAsync(HttpContext context, string requestId)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var trace = await traces.GetAsync(project!.WorkspaceId, requestId, context.RequestAborted);
        return trace is null ? GatewayJson.Error(context, GatewayError.NotFound("Request")) : GatewayJson.Ok(trace);
    }

    public async Task<IResult> SummaryAsync(HttpContext context)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        var (query, queryError) = HandlerSupport.ReadTraceQuery(context.Request);
        if ((error ?? queryError) is { } failure)
        {
            return GatewayJson.Error(context, failure);
        }

        return GatewayJson.Ok(await reports.SummaryAsync(project!.WorkspaceId, query!.From, query.To, context.RequestAborted));
    }

    public async Task<IResult> RoiAsync(HttpContext context)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        var (query, queryError) = HandlerSupport.ReadTraceQuery(context.Request);
        if ((error ?? queryError) is { } failure)
        {
            return GatewayJson.Error(context, failure);
        }

        return GatewayJson.Ok(await reports.RoiAsync(project!.WorkspaceId, query!.From, query.To, context.RequestAborted));
    }

    private static IResult Respond(HttpContext context, ChatOutcome outcome) =>
        outcome.Error is not null
            ? WireFormats.Error(Wire.KillToken, context, outcome.Error, outcome.Metrics)
            : GatewayJson.Ok(new ChatAnswer(outcome.ProviderBody, outcome.Metrics), outcome.Status);

    /// <summary>
    /// <c>{ "response": …, "metrics": … }</c>: written straight from the provider's document and the metrics record
    /// (no copy of the one, no intermediate document of the other).
    /// </summary>
    private sealed record ChatAnswer(JsonNode? Response, ChatMetrics Metrics);
}
