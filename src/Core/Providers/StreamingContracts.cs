using System.Text;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Providers;

/// <summary>
/// One server-sent event: the bytes exactly as the provider sent them (forwarded unchanged, blank line included) and
/// its parsed <c>event</c> name and <c>data</c> (data lines joined by '\n'). A comment-only event has no name and empty data.
/// </summary>
public sealed class ServerSentEvent
{
    public ServerSentEvent(ReadOnlyMemory<byte> raw, string? name, string data)
    {
        Raw = raw;
        Name = name;
        Data = data;
    }

    public ReadOnlyMemory<byte> Raw { get; }
    public string? Name { get; }
    public string Data { get; }

    /// <summary>An event KillToken writes itself: <c>event: name</c> (when given) and one <c>data:</c> line per line of data.</summary>
    public static ServerSentEvent Create(string? name, string data)
    {
        var text = new StringBuilder();
        if (name is not null)
        {
            text.Append("event: ").Append(name).Append('\n');
        }

        foreach (var line in data.Split('\n'))
        {
            text.Append("data: ").Append(line).Append('\n');
        }

        text.Append('\n');
        return new ServerSentEvent(Encoding.UTF8.GetBytes(text.ToString()), name, data);
    }

    public static ServerSentEvent Json(string? name, JsonNode data) => Create(name, ReadableJson.Write(data));

    /// <summary>
    /// The event's data as a JSON object; null when it is empty, not JSON, not an object, or names a member twice in one
    /// object (a stream may send anything; a duplicate would otherwise throw where it is read).
    /// </summary>
    public JsonObject? DataAsObject()
    {
        if (Data.Length == 0)
        {
            return null;
        }

        return UntrustedJson.TryParse(Data, out var node, out _) ? node as JsonObject : null;
    }
}

/// <summary>What an upstream stream came to, known once its events have been read (or reading stopped).</summary>
public sealed record ProviderStreamResult
{
    public static ProviderStreamResult Empty { get; } = new();

    /// <summary>Usage as the stream reported it so far (final usage chunk, message_delta usage, usageMetadata).</summary>
    public TokenUsage Usage { get; init; } = TokenUsage.None;

    /// <summary>The provider's terminator arrived ([DONE], message_stop, a finishReason).</summary>
    public bool Completed { get; init; }

    /// <summary>Why the stream failed: an error event, a broken connection, silence, or an end without the terminator.</summary>
    public GatewayError? Failure { get; init; }

    /// <summary>The answer reassembled in the provider's non-streaming JSON shape (for the cache and idempotent replays).</summary>
    public JsonNode? Response { get; init; }

    /// <summary>The generated text seen so far, to estimate output tokens of a stream cut short before its usage arrived.</summary>
    public string OutputText { get; init; } = string.Empty;

    public string? ReportedModel { get; init; }
}

/// <summary>An upstream answer being streamed. Events are read once; <see cref="Result"/> is final after they end.</summary>
public interface IProviderStream : IAsyncDisposable
{
    /// <summary>
    /// The events to forward to the client, as they arrive. Ends at the upstream's end or at a failure (see
    /// <see cref="Result"/>); throws <see cref="OperationCanceledException"/> only when <paramref name="cancellationToken"/> fires.
    /// Events KillToken asked for on its own account (the OpenAI usage-only chunk) are read but not yielded.
    /// </summary>
    IAsyncEnumerable<ServerSentEvent> ReadEventsAsync(CancellationToken cancellationToken = default);

    ProviderStreamResult Result { get; }
}

/// <summary>The upstream's answer to a streaming request: an open stream, or a failure before any event (retries done).</summary>
public sealed record ProviderStreamStart
{
    public IProviderStream? Stream { get; init; }
    public GatewayError? Error { get; init; }
    public int UpstreamStatus { get; init; }
    /// <summary>Until the upstream's response headers.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>
    /// The request was sent and the connection broke before the response's headers could be read: the provider may be
    /// working on it (and billing it), so it was not sent again and the call is charged for its prompt.
    /// </summary>
    public bool RequestDelivered { get; init; }
}

/// <summary>An adapter whose wire format streams as server-sent events.</summary>
public interface IStreamingProviderAdapter
{
    /// <summary>False for the providers of this adapter that have no SSE stream (or that KillToken does not stream yet).</summary>
    bool CanStream(ProviderId provider);

    /// <summary>
    /// Sends the call as a streaming request. Connection failures, 429 and 5xx are retried until the response begins;
    /// never after. For the OpenAI family, usage is requested from the upstream (<c>stream_options.include_usage</c>).
    /// </summary>
    Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default);

    /// <summary>
    /// A finished answer (a cache hit, an idempotent replay) as the events the provider would have streamed; the
    /// request's <paramref name="options"/> say whether the client asked for the usage chunk.
    /// </summary>
    IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options);
}

/// <summary>
/// An adapter whose wire format is not OpenAI chat completions, saying how its answers look in that format (the
/// OpenAI-compatible wrapper routes with <c>x-killtoken-provider</c> set to another provider).
/// </summary>
public interface IChatCompletionsTranslator
{
    /// <summary>The provider's JSON answer as an OpenAI <c>chat.completion</c>.</summary>
    JsonObject ToChatCompletion(JsonNode response, string model);

    /// <summary>Translates the provider's stream event by event into <c>chat.completion.chunk</c> objects; null when it does not stream.</summary>
    IChatCompletionChunkTranslator? CreateChunkTranslator(string model, bool includeUsage);
}

/// <summary>Per stream: one provider event in, zero or more OpenAI <c>chat.completion.chunk</c> objects out.</summary>
public interface IChatCompletionChunkTranslator
{
    IReadOnlyList<JsonObject> Translate(ServerSentEvent providerEvent);

    /// <summary>The closing chunks once the provider's stream completed (the usage chunk when the client asked for it).</summary>
    IReadOnlyList<JsonObject> Complete(TokenUsage usage);
}
