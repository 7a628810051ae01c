using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// The one reader of a provider's token counts, for every wire format, plain and streamed. Usage figures are untrusted
/// input (an <c>openai_compatible</c> endpoint belongs to the workspace), so a count is accepted only as a JSON number
/// with a whole value from 0 to <see cref="TokenUsage.MaxTokensPerCall"/> (<c>12</c>, <c>12.0</c> and <c>1.2e1</c>
/// alike). A required count that is missing, null or anything else — a negative or fractional number, a string, a
/// boolean, a larger number — and an optional count that is present but not a valid count make the whole usage
/// <see cref="TokenUsage.InvalidReport"/>: no figure of it is trusted, and the gateway charges the call its worst case.
/// Optional counts (cache reads and writes, reasoning) that are absent or null count 0.
/// </summary>
internal sealed class UsageReader(JsonObject usage)
{
    /// <summary>True once any count read so far was invalid.</summary>
    public bool Invalid { get; private set; }

    /// <summary>A count the format always reports.</summary>
    public long Required(string name) => Read(usage[name], required: true);

    /// <summary>A count the format may leave out.</summary>
    public long Optional(string name) => Read(usage[name], required: false);

    /// <summary>An optional count inside an optional detail object (<c>prompt_tokens_details.cached_tokens</c>); a null object is absent.</summary>
    public long Optional(string container, string name)
    {
        switch (usage[container])
        {
            case null:
                return 0;
            case JsonObject details:
                return Read(details[name], required: false);
            default:
                Invalid = true;
                return 0;
        }
    }

    /// <summary>The counts read, as reported usage — or <see cref="TokenUsage.InvalidReport"/> if any of them was invalid.</summary>
    public TokenUsage Result(TokenUsage counts) => Invalid ? TokenUsage.InvalidReport : counts with { Reported = true, Invalid = false };

    /// <summary>A valid count: a JSON number whose value is a whole number from 0 to <see cref="TokenUsage.MaxTokensPerCall"/>.</summary>
    public static bool TryCount(JsonNode? node, out long count)
    {
        count = 0;
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        // Parsed JSON holds its numbers as elements; a value built in code is read back through its JSON text.
        if (value.TryGetValue<JsonElement>(out var element))
        {
            return TryCount(element, out count);
        }

        using var document = JsonDocument.Parse(value.ToJsonString());
        return TryCount(document.RootElement, out count);
    }

    private static bool TryCount(JsonElement number, out long count)
    {
        count = 0;
        long whole;
        if (number.TryGetInt64(out var integer))
        {
            whole = integer; // 12
        }
        else if (number.TryGetDecimal(out var exact) && exact == decimal.Truncate(exact) && exact is >= long.MinValue and <= long.MaxValue)
        {
            whole = (long)exact; // a whole number written otherwise: 12.0, 1.2e1
        }
        else
        {
            return false; // a fraction, or beyond any count (1e30, 1e400)
        }

        if (whole is < 0 or > TokenUsage.MaxTokensPerCall)
        {
            return false;
        }

        count = whole;
        return true;
    }

    private long Read(JsonNode? node, bool required)
    {
        if (node is null)
        {
            // JsonObject keeps a JSON null as a null node: missing and null are the same here.
            Invalid |= required;
            return 0;
        }

        if (TryCount(node, out var count))
        {
            return count;
        }

        Invalid = true;
        return 0;
    }
}
