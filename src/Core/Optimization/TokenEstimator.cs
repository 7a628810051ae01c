using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>
/// Token counts before the provider has reported usage. No tokenizer library is available, so this is a
/// character-class heuristic tuned on BPE tokenizers' behaviour: ~4 characters per token for English prose,
/// ~1 token per digit group and punctuation run, plus per-message framing.
/// </summary>
public static class TokenEstimator
{
    public const int PerMessageOverhead = 4;
    public const int PerRequestOverhead = 3;

    public static long EstimateMessages(IReadOnlyList<JsonObject> messages)
    {
        long total = PerRequestOverhead;
        foreach (var message in messages)
        {
            total += PerMessageOverhead + EstimateText(TextOf(message));
        }

        return total;
    }

    public static long EstimateText(string text)
    {
        long tokens = 0;
        var letters = 0;
        foreach (var c in text)
        {
            if (char.IsLetter(c))
            {
                letters++;
                continue;
            }

            tokens += (letters + 3) / 4;
            letters = 0;
            if (char.IsWhiteSpace(c))
            {
                continue; // a space usually joins the next word's token
            }

            tokens++; // digits, punctuation and symbols are mostly their own tokens
        }

        return tokens + ((letters + 3) / 4);
    }

    /// <summary>All text of a message: string content, text parts, and tool-call arguments.</summary>
    public static string TextOf(JsonObject message)
    {
        var content = message["content"];
        var text = content switch
        {
            JsonArray parts => string.Join("\n", parts.OfType<JsonObject>().Select(p => ChatRequestParser.AsString(p["text"]) ?? string.Empty)),
            _ => ChatRequestParser.AsString(content) ?? string.Empty,
        };

        if (message["tool_calls"] is JsonArray calls)
        {
            text += string.Concat(calls.OfType<JsonObject>().Select(c => (ChatRequestParser.AsString(c["function"]?["name"]) ?? "") + (ChatRequestParser.AsString(c["function"]?["arguments"]) ?? "")));
        }

        return text;
    }
}
