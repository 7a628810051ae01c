using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KillToken.Api.Handlers;

/// <summary>How one route writes a stream: each provider event (as it is, or translated), then its closing events.</summary>
internal interface ISseDialect
{
    IEnumerable<ServerSentEvent> Translate(ServerSentEvent providerEvent);

    /// <summary>After the last provider event: an error event if the stream failed, then KillToken's metrics where the route has them.</summary>
    IEnumerable<ServerSentEvent> Finish(ChatOutcome? outcome, string requestId);
}

/// <summary>
/// Writes a <see cref="ChatStream"/> as <c>text/event-stream</c>: headers at once, then every event flushed as soon as it
/// arrives (no buffering of the answer). A client that disconnects ends the loop; the pipeline has already settled the call.
/// </summary>
internal sealed class SseResult(ChatStream stream, ISseDialect dialect) : IResult
{
    public const string MetricsEvent = "killtoken.metrics";

    public async Task ExecuteAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        await using var owned = stream;
        var requestId = RequestIds.Get(context);
        var response = context.Response;
        var aborted = context.RequestAborted;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await response.StartAsync(aborted);
            await foreach (var providerEvent in stream.Events.WithCancellation(aborted))
            {
                foreach (var output in dialect.Translate(providerEvent))
                {
                    await response.Body.WriteAsync(output.Raw, aborted);
                }

                await response.Body.FlushAsync(aborted);
            }

            foreach (var output in dialect.Finish(stream.Outcome, requestId))
            {
                await response.Body.WriteAsync(output.Raw, aborted);
            }

            await response.Body.FlushAsync(aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away; the pipeline recorded it (499 client_closed_request) and cancelled the upstream.
        }
        catch (IOException)
        {
            // Writing to a connection the client reset: the same, noticed from this side first.
        }
    }
}

/// <summary>Provider events unchanged; the closing events in the route's own shape.</summary>
internal sealed class PassThroughDialect(Wire wire) : ISseDialect
{
    public IEnumerable<ServerSentEvent> Translate(ServerSentEvent providerEvent) => [providerEvent];

    public IEnumerable<ServerSentEvent> Finish(ChatOutcome? outcome, string requestId)
    {
        if (outcome?.Error is { } error)
        {
            yield return ErrorEvent(wire, error, requestId);
        }

        if (outcome is not null && MetricsEventFor(wire, outcome.Metrics) is { } metrics)
        {
            yield return metrics;
        }
    }

    /// <summary>A failure inside a stream, the way each API reports one there.</summary>
    public static ServerSentEvent ErrorEvent(Wire wire, GatewayError error, string requestId) => wire switch
    {
        Wire.OpenAI => ServerSentEvent.Json(null, WireFormats.OpenAIError(error, requestId)),
        Wire.Anthropic => ServerSentEvent.Json("error", WireFormats.AnthropicError(error, requestId).Body),
        Wire.Gemini => ServerSentEvent.Json(null, WireFormats.GeminiError(error, requestId)),
        _ => ServerSentEvent.Json("error", KillTokenError(error, requestId)),
    };

    /// <summary>
    /// <c>event: killtoken.metrics</c> after the provider's last event. The Anthropic wrapper's carries a <c>type</c>, as
    /// every Messages event does; the Gemini wrapper has none (Google's SDKs read every data line as a response chunk).
    /// </summary>
    public static ServerSentEvent? MetricsEventFor(Wire wire, ChatMetrics metrics) => wire switch
    {
        Wire.Gemini => null,
        Wire.Anthropic => ServerSentEvent.Json(SseResult.MetricsEvent, new JsonObject { ["type"] = SseResult.MetricsEvent, ["metrics"] = GatewayJson.ToNode(metrics) }),
        _ => ServerSentEvent.Json(SseResult.MetricsEvent, GatewayJson.ToNode(metrics)),
    };

    private static JsonObject KillTokenError(GatewayError error, string requestId)
    {
        var body = new JsonObject { ["code"] = error.Code, ["message"] = error.Message, ["requestId"] = requestId };
        foreach (var (key, value) in error.Details ?? [])
        {
            body[key] = value?.DeepClone();
        }

        return new JsonObject { ["error"] = body };
    }
}

/// <summary>The OpenAI wrapper over another wire format: provider events become <c>chat.completion.chunk</c>s, then [DONE].</summary>
internal sealed class ChatCompletionsDialect(IChatCompletionChunkTranslator translator) : ISseDialect
{
    public IEnumerable<ServerSentEvent> Translate(ServerSentEvent providerEvent) =>
        translator.Translate(providerEvent).Select(chunk => ServerSentEvent.Json(null, chunk));

    public IEnumerable<ServerSentEvent> Finish(ChatOutcome? outcome, string requestId)
    {
        if (outcome is null)
        {
            yield break;
        }

        if (outcome.Error is { } error)
        {
            yield return PassThroughDialect.ErrorEvent(Wire.OpenAI, error, requestId);
        }
        else
        {
            var m = outcome.Metrics;
            var usage = new TokenUsage { InputTokens = m.InputTokens, OutputTokens = m.OutputTokens, CachedInputTokens = m.CachedInputTokens, Reported = true };
            foreach (var chunk in translator.Complete(usage))
            {
                yield return ServerSentEvent.Json(null, chunk);
            }

            yield return ServerSentEvent.Create(null, "[DONE]");
        }

        yield return PassThroughDialect.MetricsEventFor(Wire.OpenAI, outcome.Metrics)!;
    }
}
