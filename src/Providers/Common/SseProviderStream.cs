using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// One wire format's reading of a stream as it passes: usage, the terminator, the provider's own error event and the
/// answer reassembled in the non-streaming shape. Not thread-safe: one stream, one reader.
/// </summary>
internal interface IStreamAccumulator
{
    /// <summary>Sees one event; false to keep it from the client (the usage chunk KillToken asked for, an error event).</summary>
    bool Observe(ServerSentEvent sse);

    /// <summary>The terminator arrived ([DONE], message_stop, a finishReason).</summary>
    bool Completed { get; }

    TokenUsage Usage { get; }

    /// <summary>An error event from the provider: an HTTP-like status for it and its body.</summary>
    (int Status, JsonNode? Body)? ProviderError { get; }

    string OutputText { get; }

    string? ReportedModel { get; }

    /// <summary>The answer so far in the provider's non-streaming JSON shape.</summary>
    JsonNode Assemble();
}

/// <summary>Reads an upstream body as events, one at a time; null at its end. Malformed input throws <see cref="InvalidDataException"/>.</summary>
internal interface IProviderEventReader
{
    ValueTask<ServerSentEvent?> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// How a provider's stream travels: its media type, how its body is read as events, and whether the answer is complete
/// only when the body also ended cleanly (AWS sends its usage after the terminator, so a break after it still loses data).
/// </summary>
internal sealed record StreamWireFormat(string MediaType, Func<Stream, IProviderEventReader> CreateReader, bool CompleteOnlyAtCleanEnd = false)
{
    public static StreamWireFormat ServerSentEvents { get; } = new("text/event-stream", body => new SseReader(body));
}

/// <summary>
/// An upstream event stream read event by event, with an idle timeout between events. Reading failures end the
/// enumeration and are reported in <see cref="Result"/>; only the caller's cancellation throws.
/// </summary>
internal sealed class SseProviderStream(
    HttpResponseMessage response, Stream body, IStreamAccumulator accumulator, ResolvedCredential credential, string providerName,
    TimeSpan idleTimeout, TimeProvider time, StreamWireFormat? format = null) : IProviderStream
{
    private readonly StreamWireFormat _format = format ?? StreamWireFormat.ServerSentEvents;
    private GatewayError? _failure;
    private int _disposed;

    private bool Completed => accumulator.Completed && !(_format.CompleteOnlyAtCleanEnd && _failure is not null);

    public ProviderStreamResult Result => new()
    {
        Usage = accumulator.Usage,
        Completed = Completed,
        Failure = Completed ? null : _failure,
        Response = Completed ? accumulator.Assemble() : null,
        OutputText = accumulator.OutputText,
        ReportedModel = accumulator.ReportedModel,
    };

    public async IAsyncEnumerable<ServerSentEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = _format.CreateReader(body);
        var started = time.GetTimestamp();
        while (true)
        {
            ServerSentEvent? next;
            try
            {
                idle.CancelAfter(idleTimeout);
                next = await reader.ReadAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _failure = new GatewayError(504, ErrorCodes.ProviderTimeout,
                    $"{providerName} sent nothing for {idleTimeout.TotalSeconds:0} seconds in the middle of its stream.");
                break;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or InvalidDataException)
            {
                _failure = new GatewayError(502, ErrorCodes.ProviderError, ex is InvalidDataException
                    ? $"{providerName}'s stream is malformed: {ex.Message}"
                    : $"{providerName}'s stream broke off ({ex.GetType().Name}).");
                break;
            }

            if (next is null)
            {
                break;
            }

            var forward = accumulator.Observe(next);
            if (accumulator.ProviderError is { } error)
            {
                var bytes = error.Body is null ? [] : Encoding.UTF8.GetBytes(error.Body.ToJsonString());
                var mapped = ProviderHttp.Map(error.Status, bytes, null, credential, providerName, time.GetElapsedTime(started)).Error!;
                _failure = mapped with { Message = $"{providerName} failed in the middle of its stream: {mapped.Message}" };
                break;
            }

            if (forward)
            {
                yield return next;
            }
        }

        if (_failure is null && !accumulator.Completed)
        {
            _failure = new GatewayError(502, ErrorCodes.ProviderError, $"{providerName}'s stream ended before its terminator: the answer is incomplete.");
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Disposing a response that is still arriving closes its connection, so the provider stops generating.
            body.Dispose();
            response.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
