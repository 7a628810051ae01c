using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>
/// A prompt's template: its system prompt and first user message with the variable parts masked (quoted values,
/// dates, emails, URLs, ids, numbers), hashed into a stable id. Requests that differ only in those parts share it.
/// </summary>
public static partial class TemplateFingerprint
{
    public static string Of(IReadOnlyList<JsonObject> messages)
    {
        var builder = new StringBuilder();
        var firstUser = true;
        foreach (var message in messages)
        {
            var role = ChatRequestParser.AsString(message["role"]);
            if (role is "system" or "developer" || (role == "user" && firstUser))
            {
                builder.Append(role).Append(':').Append(Normalize(TokenEstimator.TextOf(message))).Append('\n');
                firstUser &= role != "user";
            }
        }

        return "tpl_" + CanonicalRequest.Sha256Hex(builder.ToString())[..16];
    }

    public static string Normalize(string text)
    {
        text = QuotedRegex().Replace(text, "\"<q>\"");
        text = DateRegex().Replace(text, "<date>");
        text = EmailRegex().Replace(text, "<email>");
        text = UrlRegex().Replace(text, "<url>");
        text = IdRegex().Replace(text, "<id>");
        text = NumberRegex().Replace(text, "<n>");
        text = SpaceRegex().Replace(text, " ");
        return text.Trim().ToLowerInvariant();
    }

    [GeneratedRegex("\"[^\"\\n]*\"|'[^'\\n]{2,}'")]
    private static partial Regex QuotedRegex();

    [GeneratedRegex(@"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")]
    private static partial Regex DateRegex();

    [GeneratedRegex(@"[\w.+-]+@[\w-]+\.[\w.-]+")]
    private static partial Regex EmailRegex();

    [GeneratedRegex(@"https?://\S+")]
    private static partial Regex UrlRegex();

    // UUIDs, long hex strings, and tokens mixing letters and digits (order ids, SKUs).
    [GeneratedRegex(@"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\b[0-9a-fA-F]{16,}\b|\b(?=[A-Za-z_-]*\d)(?=\d*[A-Za-z])[A-Za-z0-9_-]{6,}\b")]
    private static partial Regex IdRegex();

    [GeneratedRegex(@"\d+(?:[.,]\d+)*")]
    private static partial Regex NumberRegex();

    [GeneratedRegex(@"\s+")]
    private static partial Regex SpaceRegex();
}
