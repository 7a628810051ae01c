using System.Text.Json;
using System.Text.Json.Serialization;

namespace KillToken.Client.Internal;

/// <summary>An open set of string values (Azure SDK's extensible enum): any value the gateway sends reads back.</summary>
internal interface IExtensibleEnum<TSelf>
    where TSelf : struct, IExtensibleEnum<TSelf>
{
    static abstract TSelf FromString(string value);

    string Value { get; }
}

/// <summary>Writes an extensible enum as its string and reads any string as one.</summary>
internal sealed class ExtensibleEnumConverter<T> : JsonConverter<T>
    where T : struct, IExtensibleEnum<T>
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? T.FromString(reader.GetString()!)
            : throw new JsonException($"Expected a string for {typeof(T).Name}.");

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.Value);
    }
}
