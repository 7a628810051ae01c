using System.Text;
using System.Text.Json;

namespace KillToken.Client;

/// <summary>The answer of <c>/v1/chat</c>: the provider's response unchanged, and the gateway's metrics.</summary>
public sealed class ChatResult
{
    internal ChatResult(JsonElement response, ChatMetrics metrics)
    {
        Response = response;
        Metrics = metrics;
    }

    /// <summary>The provider's own response body, exactly as the provider answered (OpenAI, Anthropic, Gemini, Bedrock shape).</summary>
    public JsonElement Response { get; }

    /// <summary>Tokens, cost, savings, cache and idempotency status, latencies.</summary>
    public ChatMetrics Metrics { get; }

    /// <summary>
    /// The answer's text, read from whichever provider shape <see cref="Response"/> has (OpenAI <c>choices</c>, Anthropic
    /// <c>content</c>, Gemini <c>candidates</c>, Bedrock <c>output.message</c>); null when it has none.
    /// </summary>
    public string? OutputText => ResponseText.Of(Response);
}

/// <summary>The answer's text in each provider's response shape, for the common case; the full body stays available.</summary>
internal static class ResponseText
{
    public static string? Of(JsonElement response)
    {
        if (response.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        // OpenAI chat completion (and every OpenAI-compatible provider).
        if (Property(response, "choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0)
        {
            return Property(Property(choices[0], "message"), "content") is { ValueKind: JsonValueKind.String } content ? content.GetString() : null;
        }

        // Anthropic Messages.
        if (Property(response, "content") is { ValueKind: JsonValueKind.Array } blocks)
        {
            return Texts(blocks);
        }

        // Gemini generateContent.
        if (Property(response, "candidates") is { ValueKind: JsonValueKind.Array } candidates && candidates.GetArrayLength() > 0)
        {
            return Property(Property(candidates[0], "content"), "parts") is { ValueKind: JsonValueKind.Array } parts ? Texts(parts) : null;
        }

        // Bedrock Converse.
        return Property(Property(Property(response, "output"), "message"), "content") is { ValueKind: JsonValueKind.Array } converse ? Texts(converse) : null;
    }

    private static string? Texts(JsonElement parts)
    {
        StringBuilder? text = null;
        foreach (var part in parts.EnumerateArray())
        {
            if (Property(part, "text") is { ValueKind: JsonValueKind.String } piece)
            {
                (text ??= new StringBuilder()).Append(piece.GetString());
            }
        }

        return text?.ToString();
    }

    internal static JsonElement? Property(JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(name, out var value) ? value : null;
}
