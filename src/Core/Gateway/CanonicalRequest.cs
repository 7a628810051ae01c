using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Core.Gateway;

/// <summary>Stable hashes of a request: object keys sorted, so key order and whitespace never change them.</summary>
public static class CanonicalRequest
{
    /// <summary>Everything that identifies the request a client sent (for idempotency).</summary>
    public static string RequestHash(ChatRequest request)
    {
        var node = new JsonObject
        {
            ["provider"] = request.Provider.Value,
            ["model"] = request.Model,
            ["messages"] = new JsonArray([.. request.Messages.Select(m => m.DeepClone())]),
            ["optimizationMode"] = request.OptimizationMode.ToWire(),
            ["providerOptions"] = request.ProviderOptions?.DeepClone(),
            ["stream"] = request.Stream,
        };
        if (request.NativeBody is not null)
        {
            node["nativeBody"] = request.NativeBody.DeepClone();
            node["nativeHeaders"] = Headers(request.NativeHeaders);
        }

        return Hash(node);
    }

    /// <summary>
    /// What decides the answer (for the exact cache): provider, final model, sent messages, output-affecting options —
    /// or the native body, which carries all of them. Whether the answer is streamed does not change it, so a streamed
    /// request and a plain one share an entry.
    /// </summary>
    public static string CacheKey(string provider, string finalModel, IReadOnlyList<JsonObject> messages, JsonObject? providerOptions,
        JsonObject? nativeBody = null, IReadOnlyDictionary<string, string>? nativeHeaders = null)
    {
        var node = new JsonObject
        {
            ["provider"] = provider,
            ["model"] = finalModel,
        };
        if (nativeBody is not null)
        {
            node["nativeBody"] = Without(nativeBody, "model", "stream");
            node["nativeHeaders"] = Headers(nativeHeaders);
        }
        else
        {
            node["messages"] = new JsonArray([.. messages.Select(m => m.DeepClone())]);
            node["providerOptions"] = providerOptions is null ? null : Without(providerOptions, "stream_options");
        }

        return Hash(node);
    }

    private static JsonObject? Headers(IReadOnlyDictionary<string, string>? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return null;
        }

        var node = new JsonObject();
        foreach (var (name, value) in headers)
        {
            node[name.ToLowerInvariant()] = value;
        }

        return node;
    }

    private static JsonObject Without(JsonObject source, params string[] names)
    {
        var copy = source.DeepClone().AsObject();
        foreach (var name in names)
        {
            copy.Remove(name);
        }

        return copy;
    }

    public static string Hash(JsonNode node)
    {
        var buffer = new ArrayBufferWriterStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(writer, node);
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteCanonical(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }

    /// <summary>A growable in-memory stream that exposes what was written without copying.</summary>
    private sealed class ArrayBufferWriterStream : MemoryStream
    {
        public ReadOnlySpan<byte> WrittenSpan => GetBuffer().AsSpan(0, (int)Length);
    }

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
