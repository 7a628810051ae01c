using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Core.Gateway;

/// <summary>
/// How the gateway writes JSON for clients and people: only what JSON itself requires is escaped, so
/// <c>'</c>, <c>+</c> (timestamps' offsets), <c>&lt;</c>, <c>&amp;</c> and non-ASCII text read as written. The default
/// encoder's extra escapes guard JSON pasted into HTML; every body here is served as <c>application/json</c> or an SSE
/// event, never as HTML.
/// </summary>
public static class ReadableJson
{
    /// <summary>Web defaults (camelCase, case-insensitive reads), nulls written, readable escaping.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
    };

    public static string Write(JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.ToJsonString(Options);
    }
}
