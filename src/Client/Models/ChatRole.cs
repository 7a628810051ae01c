using System.Text.Json.Serialization;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>The role of a chat message (OpenAI-style, as <c>/v1/chat</c> takes them).</summary>
[JsonConverter(typeof(ExtensibleEnumConverter<ChatRole>))]
public readonly struct ChatRole : IEquatable<ChatRole>, IExtensibleEnum<ChatRole>
{
    /// <summary>A value by its wire name.</summary>
    public ChatRole(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary><c>system</c></summary>
    public static ChatRole System { get; } = new("system");

    /// <summary><c>developer</c></summary>
    public static ChatRole Developer { get; } = new("developer");

    /// <summary><c>user</c></summary>
    public static ChatRole User { get; } = new("user");

    /// <summary><c>assistant</c></summary>
    public static ChatRole Assistant { get; } = new("assistant");

    /// <summary><c>tool</c></summary>
    public static ChatRole Tool { get; } = new("tool");

    /// <summary>The wire name.</summary>
    public string Value { get; }

    static ChatRole IExtensibleEnum<ChatRole>.FromString(string value) => new(value);

    /// <summary>Converts a wire name.</summary>
    public static implicit operator ChatRole(string value) => new(value);

    /// <summary>Equal when the wire names are equal (ordinal).</summary>
    public static bool operator ==(ChatRole left, ChatRole right) => left.Equals(right);

    /// <summary>Not equal when the wire names differ.</summary>
    public static bool operator !=(ChatRole left, ChatRole right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(ChatRole other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ChatRole other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The wire name.</summary>
    public override string ToString() => Value ?? string.Empty;
}
