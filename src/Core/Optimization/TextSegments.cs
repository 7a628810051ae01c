using System.Text;

namespace KillToken.Core.Optimization;

/// <summary>
/// Splits text into parts a transform may touch and parts it must never touch: fenced code blocks (```),
/// inline code (`…`) and double-quoted text on one line.
/// </summary>
public static class TextSegments
{
    public readonly record struct Segment(string Text, bool Protected);

    public static List<Segment> Split(string text)
    {
        var segments = new List<Segment>();
        var plainStart = 0;
        var i = text.AsSpan().IndexOfAny('`', '"');
        while (i >= 0 && i < text.Length)
        {
            var end = ProtectedEnd(text, i);
            if (end > i)
            {
                if (i > plainStart)
                {
                    segments.Add(new Segment(text[plainStart..i], false));
                }

                segments.Add(new Segment(text[i..end], true));
                plainStart = end;
                i = end;
            }
            else
            {
                i++;
            }

            var next = i < text.Length ? text.AsSpan(i).IndexOfAny('`', '"') : -1;
            i = next < 0 ? -1 : i + next;
        }

        if (plainStart < text.Length)
        {
            segments.Add(new Segment(text[plainStart..], false));
        }

        return segments;
    }

    /// <summary>Applies <paramref name="transform"/> to the unprotected parts only.</summary>
    public static string MapPlain(string text, Func<string, string> transform)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var segment in Split(text))
        {
            builder.Append(segment.Protected ? segment.Text : transform(segment.Text));
        }

        return builder.ToString();
    }

    // Returns the end (exclusive) of a protected span starting at i, or i when none starts there.
    private static int ProtectedEnd(string text, int i)
    {
        if (string.CompareOrdinal(text, i, "```", 0, 3) == 0)
        {
            var close = text.IndexOf("```", i + 3, StringComparison.Ordinal);
            return close < 0 ? text.Length : close + 3;
        }

        if (text[i] == '`')
        {
            var close = text.IndexOf('`', i + 1);
            var newline = text.IndexOf('\n', i + 1);
            return close > i && (newline < 0 || close < newline) ? close + 1 : i;
        }

        if (text[i] == '"')
        {
            for (var j = i + 1; j < text.Length && text[j] != '\n'; j++)
            {
                if (text[j] == '\\')
                {
                    j++;
                    continue;
                }

                if (text[j] == '"')
                {
                    return j + 1;
                }
            }
        }

        return i;
    }
}
