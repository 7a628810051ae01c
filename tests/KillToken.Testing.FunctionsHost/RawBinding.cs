using System.Text.Json;
using KillToken.Testing.FunctionsHost.Rpc;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// One of a function's raw bindings (the JSON the worker indexed from its attributes), reduced to what the host routes
/// and invokes by. Property names are read regardless of case, as the worker's own reader does.
/// </summary>
internal sealed record RawBinding(string Name, string Type, string? Route, IReadOnlyList<string>? Methods)
{
    public bool IsTrigger => Type.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase);

    public static RawBinding Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var methods = Json.Property(root, "methods") is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray().Select(m => m.GetString() ?? "").ToList()
            : null;
        return new RawBinding(Json.String(root, "name") ?? "", Json.String(root, "type") ?? "", Json.String(root, "route"), methods);
    }

    /// <summary>The function's trigger binding (each function has exactly one).</summary>
    public static RawBinding TriggerOf(RpcFunctionMetadata function) =>
        function.RawBindings.Select(Parse).FirstOrDefault(b => b.IsTrigger)
        ?? throw new InvalidOperationException($"Function '{function.Name}' has no trigger binding.");
}

/// <summary>Case-insensitive property reads on a JSON object.</summary>
internal static class Json
{
    public static JsonElement? Property(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }

    public static string? String(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
}
