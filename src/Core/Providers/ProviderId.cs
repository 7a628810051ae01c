using System.Diagnostics.CodeAnalysis;

namespace KillToken.Core.Providers;

/// <summary>A provider id as clients spell it (<c>openai</c>, <c>aws_bedrock</c>, …). An open set, Azure SDK style.</summary>
public readonly struct ProviderId : IEquatable<ProviderId>
{
    public ProviderId(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    public string Value { get; }

    public static ProviderId OpenAI { get; } = new("openai");
    public static ProviderId Anthropic { get; } = new("anthropic");
    public static ProviderId Gemini { get; } = new("gemini");
    public static ProviderId Mistral { get; } = new("mistral");
    public static ProviderId DeepSeek { get; } = new("deepseek");
    public static ProviderId OpenRouter { get; } = new("openrouter");
    public static ProviderId Together { get; } = new("together");
    public static ProviderId Perplexity { get; } = new("perplexity");
    public static ProviderId XAI { get; } = new("xai");
    public static ProviderId AzureOpenAI { get; } = new("azure_openai");
    public static ProviderId OpenAICompatible { get; } = new("openai_compatible");
    public static ProviderId AwsBedrock { get; } = new("aws_bedrock");
    public static ProviderId GoogleVertex { get; } = new("google_vertex");

    /// <summary>Every provider seed 000 promises, in its order.</summary>
    public static IReadOnlyList<ProviderId> All { get; } =
    [
        OpenAI, Anthropic, Gemini, Mistral, DeepSeek, OpenRouter, Together, Perplexity, XAI,
        AzureOpenAI, OpenAICompatible, AwsBedrock, GoogleVertex,
    ];

    public static bool TryParse([NotNullWhen(true)] string? value, out ProviderId provider)
    {
        foreach (var known in All)
        {
            if (string.Equals(known.Value, value, StringComparison.Ordinal))
            {
                provider = known;
                return true;
            }
        }

        provider = default;
        return false;
    }

    /// <summary>The environment-variable stem: <c>aws_bedrock</c> → <c>AWS_BEDROCK</c>.</summary>
    public string SettingStem => Value.ToUpperInvariant();

    public bool Equals(ProviderId other) => string.Equals(Value, other.Value, StringComparison.Ordinal);
    public override bool Equals(object? obj) => obj is ProviderId other && Equals(other);
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);
    public override string ToString() => Value ?? string.Empty;
    public static bool operator ==(ProviderId left, ProviderId right) => left.Equals(right);
    public static bool operator !=(ProviderId left, ProviderId right) => !left.Equals(right);
}
