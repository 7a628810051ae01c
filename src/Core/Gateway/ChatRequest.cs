using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Core.Gateway;

public enum OptimizationMode
{
    MeasureOnly,
    Safe,
}

public enum CachePolicy
{
    Bypass,
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

public static class GatewayNames
{
    public const string Untagged = "(untagged)";
    public const int FeatureMaxLength = 80;
    public const int IdempotencyKeyMaxLength = 255;

    public static string ToWire(this OptimizationMode mode) => mode == OptimizationMode.Safe ? "safe" : "measure_only";

    public static string ToWire(this CachePolicy policy) => policy switch
    {
        CachePolicy.ReadOnly => "read_only",
        CachePolicy.WriteOnly => "write_only",
        CachePolicy.ReadWrite => "read_write",
        _ => "bypass",
    };

    /// <summary>Seed 000's rule: trimmed, capped at 80 characters, empty means untagged.</summary>
    public static string NormalizeFeature(string? bodyValue, string? headerValue)
    {
        var chosen = !string.IsNullOrWhiteSpace(bodyValue) ? bodyValue : headerValue;
        if (string.IsNullOrWhiteSpace(chosen))
        {
            return Untagged;
        }

        var trimmed = chosen.Trim();
        return trimmed.Length > FeatureMaxLength ? trimmed[..FeatureMaxLength].TrimEnd() : trimmed;
    }
}

/// <summary>The unified request of seed 000, validated. Messages stay OpenAI-shaped JSON objects.</summary>
public sealed record ChatRequest
{
    public required ProviderId Provider { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<JsonObject> Messages { get; init; }
    public OptimizationMode OptimizationMode { get; init; }
    public JsonObject? Metadata { get; init; }
    public JsonObject? ProviderOptions { get; init; }
    public CachePolicy CachePolicy { get; init; }
    public string? IdempotencyKey { get; init; }
    public bool Stream { get; init; }
    public required string Feature { get; init; }

    /// <summary>
    /// The client's own body in the provider's wire format (the Anthropic and Gemini wrapper routes), sent upstream as
    /// it is apart from the model; <see cref="Messages"/> are then an OpenAI-shaped view of it for measuring and budgeting.
    /// </summary>
    public JsonObject? NativeBody { get; init; }

    /// <summary>The output cap a native body sets (<c>max_tokens</c>, <c>generationConfig.maxOutputTokens</c>), for the budget's reservation.</summary>
    public long? OutputTokenCap { get; init; }

    /// <summary>Provider headers the client set on a native route that change what the provider does (<c>anthropic-beta</c>).</summary>
    public IReadOnlyDictionary<string, string>? NativeHeaders { get; init; }
}
