using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Core.Gateway;

/// <summary>
/// The one parse of JSON that comes from outside — client bodies, provider answers, stream events — and it is total:
/// what is not well-formed JSON of valid Unicode with each name once per object is refused here, never later.
/// <see cref="JsonNode"/> reads names and strings lazily, so invalid UTF-8, escaped lone surrogates and duplicate names
/// would otherwise surface as InvalidOperationException or ArgumentException wherever the node is first touched.
/// </summary>
public static class UntrustedJson
{
    // Duplicate names are refused while parsing (a JsonException) instead of throwing ArgumentException on first use.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>Parses <paramref name="utf8"/>; false with a short reason (no input text) when it is not acceptable JSON.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out JsonNode? node, out string? problem)
    {
        try
        {
            node = JsonNode.Parse(utf8, documentOptions: DocumentOptions);
            Materialize(node);
            problem = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            node = null;
            problem = Describe(ex);
            return false;
        }
    }

    /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out JsonNode?, out string?)"/>
    public static bool TryParse(string text, out JsonNode? node, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            node = JsonNode.Parse(text, documentOptions: DocumentOptions);
            Materialize(node);
            problem = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            node = null;
            problem = Describe(ex);
            return false;
        }
    }

    private static string Describe(Exception ex) =>
        ex is JsonException { Message: { } m } && m.Contains("Duplicate", StringComparison.OrdinalIgnoreCase)
            ? "A property name appears twice in one object."
            : ex is InvalidOperationException ? "It holds invalid UTF-8 or an unpaired surrogate escape." : "It is not well-formed JSON.";

    /// <summary>Reads every name and string once, so whatever cannot be read fails here (depth is bounded by MaxDepth).</summary>
    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, value) in obj)
                {
                    Materialize(value);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Materialize(item);
                }

                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                _ = value.GetValue<string>();
                break;
        }
    }
}
