using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Tests.Fuzz;

/// <summary>A place in a JSON document: property names and array indexes from the root.</summary>
internal sealed class JsonPath(IReadOnlyList<object> segments)
{
    public static readonly JsonPath Root = new([]);

    public IReadOnlyList<object> Segments { get; } = segments;

    public bool IsRoot => Segments.Count == 0;

    public JsonPath Child(object segment) => new([.. Segments, segment]);

    public JsonPath Parent => new([.. Segments.Take(Segments.Count - 1)]);

    public override string ToString() =>
        IsRoot ? "the body" : string.Concat(Segments.Select((s, i) => s is int n ? $"[{n}]" : (i == 0 ? "" : ".") + s));
}

/// <summary>
/// Cuts and splices JSON text. Valid bodies are built as <see cref="JsonObject"/>s; the broken parts (bytes no JSON
/// writer would produce) are spliced into their serialisation at a marker, so every corruption sits inside an otherwise
/// valid body of the route.
/// </summary>
internal static class JsonSurgery
{
    public const string Marker = "FUZZ_MARK_Q7";

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The text with non-ASCII characters as raw UTF-8 (not \u escapes), so a cut can land inside one.</summary>
    public static string Text(JsonNode node) => node.ToJsonString(Relaxed);

    public static byte[] Bytes(JsonNode node) => Encoding.UTF8.GetBytes(Text(node));

    public static string Quote(string text) => JsonValue.Create(text).ToJsonString(Relaxed);

    /// <summary>Every node below the root, parents before children.</summary>
    public static List<JsonPath> Paths(JsonNode root)
    {
        var paths = new List<JsonPath>();
        void Walk(JsonNode? node, JsonPath path)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, child) in obj)
                    {
                        var childPath = path.Child(key);
                        paths.Add(childPath);
                        Walk(child, childPath);
                    }

                    break;
                case JsonArray array:
                    for (var i = 0; i < array.Count; i++)
                    {
                        var childPath = path.Child(i);
                        paths.Add(childPath);
                        Walk(array[i], childPath);
                    }

                    break;
            }
        }

        Walk(root, JsonPath.Root);
        return paths;
    }

    public static List<JsonPath> StringPaths(JsonNode root) => [.. Paths(root).Where(p => Kind(Get(root, p)) == JsonValueKind.String)];

    public static List<JsonPath> NumberPaths(JsonNode root) => [.. Paths(root).Where(p => Kind(Get(root, p)) == JsonValueKind.Number)];

    public static List<JsonPath> ObjectPaths(JsonNode root) => [JsonPath.Root, .. Paths(root).Where(p => Get(root, p) is JsonObject)];

    public static List<JsonPath> NestedObjectPaths(JsonNode root) => [.. Paths(root).Where(p => Get(root, p) is JsonObject { Count: > 0 })];

    public static JsonValueKind Kind(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;

    public static JsonNode? Get(JsonNode root, JsonPath path)
    {
        JsonNode? node = root;
        foreach (var segment in path.Segments)
        {
            node = segment is int i
                ? node is JsonArray array && i < array.Count ? array[i] : null
                : (node as JsonObject)?[(string)segment];
        }

        return node;
    }

    /// <summary>A copy of <paramref name="root"/> with the value at <paramref name="path"/> replaced (or removed).</summary>
    public static JsonObject With(JsonObject root, JsonPath path, JsonNode? value, bool remove = false)
    {
        var copy = root.DeepClone().AsObject();
        if (path.IsRoot)
        {
            return copy;
        }

        var parent = Get(copy, path.Parent);
        var last = path.Segments[^1];
        switch (parent)
        {
            case JsonObject obj when remove:
                obj.Remove((string)last);
                break;
            case JsonObject obj:
                obj[(string)last] = value;
                break;
            case JsonArray array when remove:
                array.RemoveAt((int)last);
                break;
            case JsonArray array:
                array[(int)last] = value;
                break;
        }

        return copy;
    }

    /// <summary>The body with the value at <paramref name="path"/> replaced by raw bytes (valid JSON or not).</summary>
    public static byte[] WithRawValue(JsonObject root, JsonPath path, byte[] raw) =>
        Splice(Bytes(With(root, path, JsonValue.Create(Marker))), Quote(Marker), raw);

    /// <summary>The body with the string at <paramref name="path"/> replaced by <c>"raw"</c> (raw bytes between the quotes).</summary>
    public static byte[] WithRawString(JsonObject root, JsonPath path, byte[] inner) =>
        WithRawValue(root, path, [(byte)'"', .. inner, (byte)'"']);

    /// <summary>The body with one more member, written raw, in the object at <paramref name="objectPath"/>.</summary>
    public static byte[] WithRawMember(JsonObject root, JsonPath objectPath, byte[] member)
    {
        var copy = root.DeepClone().AsObject();
        if (Get(copy, objectPath) is not JsonObject target)
        {
            target = copy;
        }

        target[Marker] = 0;
        return Splice(Bytes(copy), Quote(Marker) + ":0", member);
    }

    public static byte[] Splice(byte[] text, string marker, byte[] replacement)
    {
        var needle = Encoding.UTF8.GetBytes(marker);
        var at = text.AsSpan().IndexOf(needle);
        if (at < 0)
        {
            throw new InvalidOperationException($"marker {marker} not found");
        }

        return [.. text.AsSpan(0, at), .. replacement, .. text.AsSpan(at + needle.Length)];
    }

    public static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];
}
