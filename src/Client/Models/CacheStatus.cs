using System.Text.Json.Serialization;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>What the exact cache did for a call (<c>metrics.cacheStatus</c>).</summary>
[JsonConverter(typeof(ExtensibleEnumConverter<CacheStatus>))]
public readonly struct CacheStatus : IEquatable<CacheStatus>, IExtensibleEnum<CacheStatus>
{
    /// <summary>A value by its wire name.</summary>
    public CacheStatus(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary><c>hit</c></summary>
    public static CacheStatus Hit { get; } = new("hit");

    /// <summary><c>miss</c></summary>
    public static CacheStatus Miss { get; } = new("miss");

    /// <summary><c>bypass</c></summary>
    public static CacheStatus Bypass { get; } = new("bypass");

    /// <summary><c>disabled</c></summary>
    public static CacheStatus Disabled { get; } = new("disabled");

    /// <summary><c>write</c></summary>
    public static CacheStatus Written { get; } = new("write");

    /// <summary>The wire name.</summary>
    public string Value { get; }

    static CacheStatus IExtensibleEnum<CacheStatus>.FromString(string value) => new(value);

    /// <summary>Converts a wire name.</summary>
    public static implicit operator CacheStatus(string value) => new(value);

    /// <summary>Equal when the wire names are equal (ordinal).</summary>
    public static bool operator ==(CacheStatus left, CacheStatus right) => left.Equals(right);

    /// <summary>Not equal when the wire names differ.</summary>
    public static bool operator !=(CacheStatus left, CacheStatus right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(CacheStatus other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is CacheStatus other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The wire name.</summary>
    public override string ToString() => Value ?? string.Empty;
}
