using System.Text.Json.Serialization;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>A provider id as the gateway spells it (<c>openai</c>, <c>aws_bedrock</c>, …). An open set: a provider added to the gateway later is just a new value.</summary>
[JsonConverter(typeof(ExtensibleEnumConverter<ModelProvider>))]
public readonly struct ModelProvider : IEquatable<ModelProvider>, IExtensibleEnum<ModelProvider>
{
    /// <summary>A value by its wire name.</summary>
    public ModelProvider(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        Value = value;
    }

    /// <summary><c>openai</c></summary>
    public static ModelProvider OpenAI { get; } = new("openai");

    /// <summary><c>anthropic</c></summary>
    public static ModelProvider Anthropic { get; } = new("anthropic");

    /// <summary><c>gemini</c></summary>
    public static ModelProvider Gemini { get; } = new("gemini");

    /// <summary><c>mistral</c></summary>
    public static ModelProvider Mistral { get; } = new("mistral");

    /// <summary><c>deepseek</c></summary>
    public static ModelProvider DeepSeek { get; } = new("deepseek");

    /// <summary><c>openrouter</c></summary>
    public static ModelProvider OpenRouter { get; } = new("openrouter");

    /// <summary><c>together</c></summary>
    public static ModelProvider Together { get; } = new("together");

    /// <summary><c>perplexity</c></summary>
    public static ModelProvider Perplexity { get; } = new("perplexity");

    /// <summary><c>xai</c></summary>
    public static ModelProvider XAI { get; } = new("xai");

    /// <summary><c>azure_openai</c></summary>
    public static ModelProvider AzureOpenAI { get; } = new("azure_openai");

    /// <summary><c>openai_compatible</c></summary>
    public static ModelProvider OpenAICompatible { get; } = new("openai_compatible");

    /// <summary><c>aws_bedrock</c></summary>
    public static ModelProvider AwsBedrock { get; } = new("aws_bedrock");

    /// <summary><c>google_vertex</c></summary>
    public static ModelProvider GoogleVertex { get; } = new("google_vertex");

    /// <summary>The wire name.</summary>
    public string Value { get; }

    static ModelProvider IExtensibleEnum<ModelProvider>.FromString(string value) => new(value);

    /// <summary>Converts a wire name.</summary>
    public static implicit operator ModelProvider(string value) => new(value);

    /// <summary>Equal when the wire names are equal (ordinal).</summary>
    public static bool operator ==(ModelProvider left, ModelProvider right) => left.Equals(right);

    /// <summary>Not equal when the wire names differ.</summary>
    public static bool operator !=(ModelProvider left, ModelProvider right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(ModelProvider other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ModelProvider other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value is null ? 0 : StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The wire name.</summary>
    public override string ToString() => Value ?? string.Empty;
}
