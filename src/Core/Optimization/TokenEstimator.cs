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
            total += EstimateMessage(message);
        }

        return total;
    }

    /// <summary>One message: framing, content, and its name when present.</summary>
    public static long EstimateMessage(JsonObject message)
    {
        var total = PerMessageOverhead + EstimateText(TextOf(message));
        if (ChatRequestParser.AsString(message["name"]) is { Length: > 0 } name)
        {
            total += EstimateText(name) + 1;
        }

        return total;
    }

    /// <summary>
    /// Words of up to 8 letters are one token (BPE vocabularies hold most common words whole), longer ones one more per
    /// 5 letters; a contraction ("'s", "'re") joins its apostrophe; digits go in groups of 3; other symbols are one each.
    /// </summary>
    public static long EstimateText(string text)
    {
        long tokens = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (IsLetter(c) || (c == '\'' && i + 1 < text.Length && IsLetter(text[i + 1]) && i > 0 && IsLetter(text[i - 1])))
            {
                var start = i;
                i++;
                while (i < text.Length && IsLetter(text[i]))
                {
                    i++;
                }

                var length = i - start;
                tokens += length <= 8 ? 1 : 1 + ((length - 8 + 4) / 5);
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                var start = i;
                while (i < text.Length && char.IsAsciiDigit(text[i]))
                {
                    i++;
                }

                tokens += (i - start + 2) / 3;
                continue;
            }

            if (c == '\n' || (c != ' ' && !char.IsWhiteSpace(c)))
            {
                tokens++;
            }

            i++;
        }

        return tokens;
    }

    // ASCII first: prompts are mostly ASCII, and the general check costs more per character.
    private static bool IsLetter(char c) => c < 128 ? char.IsAsciiLetter(c) : char.IsLetter(c);

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
            text += string.Concat(calls.OfType<JsonObject>().Select(c => (ChatRequestParser.AsString(ChatRequestParser.Field(c["function"], "name")) ?? "") + (ChatRequestParser.AsString(ChatRequestParser.Field(c["function"], "arguments")) ?? "")));
        }

        return text;
    }
}
