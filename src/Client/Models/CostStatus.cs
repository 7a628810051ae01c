using System.Text.Json.Serialization;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>How a call's cost was found (<c>metrics.costStatus</c>): priced from reported usage, estimated, or unpriced (never $0).</summary>
[JsonConverter(typeof(ExtensibleEnumConverter<CostStatus>))]
public readonly struct CostStatus : IEquatable<CostStatus>, IExtensibleEnum<CostStatus>
{
    /// <summary>A value by its wire name.</summary>
    public CostStatus(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary><c>priced</c></summary>
    public static CostStatus Priced { get; } = new("priced");

    /// <summary><c>estimated</c></summary>
    public static CostStatus Estimated { get; } = new("estimated");

    /// <summary><c>unpriced</c></summary>
    public static CostStatus Unpriced { get; } = new("unpriced");

    /// <summary>The wire name.</summary>
    public string Value { get; }

    static CostStatus IExtensibleEnum<CostStatus>.FromString(string value) => new(value);

    /// <summary>Converts a wire name.</summary>
    public static implicit operator CostStatus(string value) => new(value);

    /// <summary>Equal when the wire names are equal (ordinal).</summary>
    public static bool operator ==(CostStatus left, CostStatus right) => left.Equals(right);

    /// <summary>Not equal when the wire names differ.</summary>
    public static bool operator !=(CostStatus left, CostStatus right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(CostStatus other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is CostStatus other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The wire name.</summary>
    public override string ToString() => Value ?? string.Empty;
}
