using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>One kind of prompt waste: it can always be measured; a safe transform may also remove it.</summary>
public interface IPromptTransform
{
    /// <summary>The waste category reported in metrics and traces.</summary>
    string Category { get; }

    /// <summary>True when removing this waste cannot change the prompt's meaning (used in <c>safe</c> mode).</summary>
    bool IsSafe { get; }

    /// <summary>The messages with this waste removed (new objects; the input is never modified).</summary>
    IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> messages);
}

/// <summary>
/// Redundant whitespace outside code, inline code and quotes: interior runs of spaces/tabs become one space,
/// trailing spaces go, three or more line breaks become two. Leading indentation is significant and kept.
/// </summary>
public sealed class WhitespaceTransform : IPromptTransform
{
    public string Category => "whitespace";
    public bool IsSafe => true;

    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> messages) => [.. messages.Select(m => MessageText.MapText(m, Collapse))];

    public static string Collapse(string text) => NeedsWork(text) ? TextSegments.MapPlain(text, CollapsePlain) : text;

    // Most prompts have nothing to collapse: skip the rewrite unless a double space, tab, trailing space or blank-line run exists.
    private static bool NeedsWork(string text) =>
        text.Contains("  ", StringComparison.Ordinal) || text.Contains('\t', StringComparison.Ordinal) || text.Contains(" \n", StringComparison.Ordinal)
        || text.Contains("\n\n\n", StringComparison.Ordinal) || text.Contains('\r', StringComparison.Ordinal) || text.EndsWith(' ');

    private static string CollapsePlain(string text)
    {
        var builder = new StringBuilder(text.Length);
        var lineStart = true;
        var pendingSpace = false;
        var newlines = 0;
        foreach (var c in text)
        {
            if (c == '\r')
            {
                continue;
            }

            if (c == '\n')
            {
                pendingSpace = false; // trailing whitespace on the line goes
                newlines++;
                lineStart = true;
                continue;
            }

            if (newlines > 0)
            {
                builder.Append('\n', Math.Min(newlines, 2));
                newlines = 0;
            }

            if (c is ' ' or '\t')
            {
                if (lineStart)
                {
                    builder.Append(c); // indentation
                }
                else
                {
                    pendingSpace = true;
                }

                continue;
            }

            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }

            lineStart = false;
            builder.Append(c);
        }

        if (newlines > 0)
        {
            builder.Append('\n', Math.Min(newlines, 2));
        }
        else if (pendingSpace)
        {
            builder.Append(' '); // a segment may continue with protected text on the same line
        }

        return builder.ToString();
    }
}

/// <summary>A message repeated verbatim right after itself (same role, same content): the copy adds nothing.</summary>
public sealed class DuplicateMessageTransform : IPromptTransform
{
    public string Category => "duplicate_message";
    public bool IsSafe => true;

    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> messages)
    {
        var result = new List<JsonObject>(messages.Count);
        foreach (var message in messages)
        {
            if (result.Count > 0 && JsonNode.DeepEquals(result[^1], message))
            {
                continue;
            }

            result.Add(message);
        }

        return result;
    }
}

/// <summary>
/// Pretty-printed JSON that could be compact, where the JSON is clearly delimited: a whole message that is JSON,
/// or a ```json fenced block. Only whitespace between tokens is removed; strings stay byte-for-byte.
/// </summary>
public sealed class JsonMinifyTransform : IPromptTransform
{
    private const string Fence = "```json";

    public string Category => "json_pretty";
    public bool IsSafe => true;

    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> messages) => [.. messages.Select(m => MessageText.MapText(m, MinifyText))];

    public static string MinifyText(string text)
    {
        var first = text.AsSpan().TrimStart();
        if (first.IsEmpty || (first[0] != '{' && first[0] != '[' && !text.Contains(Fence, StringComparison.OrdinalIgnoreCase)))
        {
            return text;
        }

        var trimmed = text.Trim();
        if (trimmed.Length > 1 && (trimmed[0] == '{' || trimmed[0] == '[') && TryMinify(trimmed, out var whole))
        {
            return whole;
        }

        var builder = new StringBuilder(text.Length);
        var at = 0;
        while (true)
        {
            var open = text.IndexOf(Fence, at, StringComparison.OrdinalIgnoreCase);
            var bodyStart = open < 0 ? -1 : text.IndexOf('\n', open + Fence.Length);
            var close = bodyStart < 0 ? -1 : text.IndexOf("```", bodyStart, StringComparison.Ordinal);
            if (close < 0 || text.AsSpan(open + Fence.Length, bodyStart - open - Fence.Length).Trim().Length != 0)
            {
                builder.Append(text, at, text.Length - at);
                return builder.ToString();
            }

            builder.Append(text, at, bodyStart + 1 - at);
            var body = text[(bodyStart + 1)..close];
            builder.Append(TryMinify(body.Trim(), out var minified) ? minified + "\n" : body);
            builder.Append("```");
            at = close + 3;
        }
    }

    /// <summary>Removes whitespace outside string literals, after checking the text is one valid JSON value.</summary>
    public static bool TryMinify(string json, out string minified)
    {
        minified = json;
        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return false;
        }

        var builder = new StringBuilder(json.Length);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                builder.Append(c);
                if (c == '\\' && i + 1 < json.Length)
                {
                    builder.Append(json[++i]);
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                continue;
            }

            builder.Append(c);
        }

        minified = builder.ToString();
        return minified.Length < json.Length;
    }
}

/// <summary>The system prompt pasted again later in the conversation (measured, never removed: the copy may matter to the model).</summary>
public sealed class RepeatedSystemPromptTransform : IPromptTransform
{
    private const int MinimumLength = 20;

    public string Category => "repeated_system_prompt";
    public bool IsSafe => false;

    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> messages)
    {
        var systemTexts = messages
            .Where(m => ChatRequestParser.AsString(m["role"]) is "system" or "developer")
            .Select(m => TokenEstimator.TextOf(m).Trim())
            .Where(t => t.Length >= MinimumLength)
            .ToList();
        if (systemTexts.Count == 0)
        {
            return messages;
        }

        var seenSystem = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<JsonObject>(messages.Count);
        foreach (var message in messages)
        {
            var isSystem = ChatRequestParser.AsString(message["role"]) is "system" or "developer";
            if (isSystem && seenSystem.Add(TokenEstimator.TextOf(message).Trim()))
            {
                result.Add(message);
                continue;
            }

            result.Add(MessageText.MapText(message, text =>
            {
                foreach (var system in systemTexts)
                {
                    if (text.Contains(system, StringComparison.Ordinal))
                    {
                        text = text.Replace(system, string.Empty, StringComparison.Ordinal);
                    }
                }

                return text;
            }));
        }

        return result;
    }
}

/// <summary>Applies a text function to a message's string content or to each text part, returning a new message.</summary>
internal static class MessageText
{
    public static JsonObject MapText(JsonObject message, Func<string, string> map)
    {
        switch (message["content"])
        {
            case JsonArray parts:
                var changed = false;
                var mapped = new List<string?>(parts.Count);
                foreach (var part in parts)
                {
                    var text = part is JsonObject p && ChatRequestParser.AsString(p["type"]) == "text" ? ChatRequestParser.AsString(p["text"]) : null;
                    var result = text is null ? null : map(text);
                    changed |= result is not null && !ReferenceEquals(result, text) && result != text;
                    mapped.Add(result);
                }

                if (!changed)
                {
                    return message;
                }

                var copy = message.DeepClone().AsObject();
                var copiedParts = copy["content"]!.AsArray();
                for (var i = 0; i < copiedParts.Count; i++)
                {
                    if (mapped[i] is { } newText)
                    {
                        copiedParts[i]!["text"] = newText;
                    }
                }

                return copy;
            case JsonValue when ChatRequestParser.AsString(message["content"]) is { } content:
                var updated = map(content);
                if (ReferenceEquals(updated, content) || updated == content)
                {
                    return message; // unchanged messages keep their identity (and their cached token estimate)
                }

                var clone = message.DeepClone().AsObject();
                clone["content"] = updated;
                return clone;
            default:
                return message;
        }
    }
}
