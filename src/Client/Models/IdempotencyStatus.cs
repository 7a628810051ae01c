using System.Text.Json.Serialization;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>What the idempotency key did for a call (<c>metrics.idempotency</c>).</summary>
[JsonConverter(typeof(ExtensibleEnumConverter<IdempotencyStatus>))]
public readonly struct IdempotencyStatus : IEquatable<IdempotencyStatus>, IExtensibleEnum<IdempotencyStatus>
{
    /// <summary>A value by its wire name.</summary>
    public IdempotencyStatus(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary><c>none</c></summary>
    public static IdempotencyStatus None { get; } = new("none");

    /// <summary><c>new</c></summary>
    public static IdempotencyStatus New { get; } = new("new");

    /// <summary><c>replayed</c></summary>
    public static IdempotencyStatus Replayed { get; } = new("replayed");

    /// <summary>The wire name.</summary>
    public string Value { get; }

    static IdempotencyStatus IExtensibleEnum<IdempotencyStatus>.FromString(string value) => new(value);

    /// <summary>Converts a wire name.</summary>
    public static implicit operator IdempotencyStatus(string value) => new(value);

    /// <summary>Equal when the wire names are equal (ordinal).</summary>
    public static bool operator ==(IdempotencyStatus left, IdempotencyStatus right) => left.Equals(right);

    /// <summary>Not equal when the wire names differ.</summary>
    public static bool operator !=(IdempotencyStatus left, IdempotencyStatus right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(IdempotencyStatus other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is IdempotencyStatus other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The wire name.</summary>
    public override string ToString() => Value ?? string.Empty;
}
