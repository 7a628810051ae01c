using System.Text.Json;

namespace KillToken.Client;

/// <summary>
/// One event of a streamed <c>/v1/chat</c>: the provider's own events pass through unchanged (OpenAI chunks, Anthropic
/// named events, Gemini chunks), then the gateway's <c>killtoken.metrics</c> event closes the stream.
/// </summary>
public sealed class ChatStreamEvent
{
    internal ChatStreamEvent(string? eventName, string data, ChatMetrics? metrics)
    {
        EventName = eventName;
        Data = data;
        Metrics = metrics;
        _json = new Lazy<JsonElement?>(() => Parse(data));
    }

    private readonly Lazy<JsonElement?> _json;

    /// <summary>The event's <c>event:</c> name (Anthropic's <c>content_block_delta</c>, <c>killtoken.metrics</c>), or null.</summary>
    public string? EventName { get; }

    /// <summary>The event's data as sent (a JSON document, or OpenAI's closing <c>[DONE]</c>).</summary>
    public string Data { get; }

    /// <summary>The gateway's metrics, on the stream's last event only (<see cref="IsMetrics"/>).</summary>
    public ChatMetrics? Metrics { get; }

    /// <summary>True for the gateway's closing <c>killtoken.metrics</c> event.</summary>
    public bool IsMetrics => Metrics is not null;

    /// <summary>The data parsed as JSON; null when it is not JSON (<c>[DONE]</c>).</summary>
    public JsonElement? Json => _json.Value;

    /// <summary>
    /// The text this event adds to the answer, read from the provider's event shape (OpenAI <c>choices[0].delta.content</c>,
    /// Anthropic <c>text_delta</c>, Gemini <c>candidates[0].content.parts</c>, Bedrock <c>contentBlockDelta</c>); null when it adds none.
    /// </summary>
    public string? TextDelta
    {
        get
        {
            if (IsMetrics || Json is not { ValueKind: JsonValueKind.Object } json)
            {
                return null;
            }

            if (ResponseText.Property(json, "choices") is { ValueKind: JsonValueKind.Array } choices)
            {
                return choices.GetArrayLength() > 0
                    && ResponseText.Property(ResponseText.Property(choices[0], "delta"), "content") is { ValueKind: JsonValueKind.String } content
                    ? content.GetString()
                    : null;
            }

            if (ResponseText.Property(json, "delta") is { } delta && ResponseText.Property(delta, "text") is { ValueKind: JsonValueKind.String } text)
            {
                return text.GetString();
            }

            return ResponseText.Property(json, "candidates") is not null ? ResponseText.Of(json) : null;
        }
    }

    private static JsonElement? Parse(string data)
    {
        if (data.Length == 0 || (data[0] != '{' && data[0] != '['))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
