using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// Base URLs per provider: the public API by default, <c>KILLTOKEN_&lt;PROVIDER&gt;_BASE_URL</c> to override (tests,
/// sovereign clouds). Server configuration only: a request can never choose where its credential is sent.
/// <c>azure_openai</c> and <c>openai_compatible</c> take their endpoint from the credential's config (no default);
/// <c>aws_bedrock</c> and <c>google_vertex</c> have regional hosts built from the credential's region/location, which
/// the override replaces (requests are still signed for the real region and service).
/// </summary>
public sealed class ProviderEndpoints
{
    /// <summary>Google's OAuth 2.0 token endpoint, where a service account's signed JWT is exchanged for an access token.</summary>
    public const string GoogleTokenUrl = "https://oauth2.googleapis.com/token";

    private static readonly Dictionary<ProviderId, string> Defaults = new()
    {
        [ProviderId.OpenAI] = "https://api.openai.com/v1",
        [ProviderId.Anthropic] = "https://api.anthropic.com",
        [ProviderId.Gemini] = "https://generativelanguage.googleapis.com",
        [ProviderId.Mistral] = "https://api.mistral.ai/v1",
        [ProviderId.DeepSeek] = "https://api.deepseek.com",
        [ProviderId.OpenRouter] = "https://openrouter.ai/api/v1",
        [ProviderId.Together] = "https://api.together.xyz/v1",
        [ProviderId.Perplexity] = "https://api.perplexity.ai",
        [ProviderId.XAI] = "https://api.x.ai/v1",
    };

    private readonly Dictionary<ProviderId, Uri> _baseUrls = [];

    public ProviderEndpoints(Func<string, string?> readSetting)
    {
        ArgumentNullException.ThrowIfNull(readSetting);
        foreach (var provider in ProviderId.All)
        {
            var configured = readSetting($"KILLTOKEN_{provider.SettingStem}_BASE_URL");
            var value = string.IsNullOrWhiteSpace(configured) ? Defaults.GetValueOrDefault(provider) : configured.Trim();
            if (value is not null)
            {
                _baseUrls[provider] = new Uri(value.TrimEnd('/') + "/", UriKind.Absolute);
            }
        }
    }

    /// <summary>The base URL, ending in '/', or null for providers whose endpoint comes from the credential.</summary>
    public Uri? BaseUrl(ProviderId provider) => _baseUrls.GetValueOrDefault(provider);

    /// <summary>Bedrock's data plane (Converse): <c>https://bedrock-runtime.{region}.amazonaws.com/</c>, or the override.</summary>
    public Uri BedrockRuntime(string region) => BaseUrl(ProviderId.AwsBedrock) ?? new Uri($"https://bedrock-runtime.{region}.amazonaws.com/");

    /// <summary>Bedrock's control plane (ListFoundationModels): <c>https://bedrock.{region}.amazonaws.com/</c>, or the override.</summary>
    public Uri BedrockControl(string region) => BaseUrl(ProviderId.AwsBedrock) ?? new Uri($"https://bedrock.{region}.amazonaws.com/");

    /// <summary>Vertex AI: <c>https://{location}-aiplatform.googleapis.com/</c> (<c>aiplatform.googleapis.com</c> for <c>global</c>), or the override.</summary>
    public Uri VertexBase(string location) => BaseUrl(ProviderId.GoogleVertex)
        ?? new Uri(string.Equals(location, "global", StringComparison.Ordinal)
            ? "https://aiplatform.googleapis.com/"
            : $"https://{location}-aiplatform.googleapis.com/");

    public Uri Resolve(ProviderId provider, string relativePath) =>
        new(BaseUrl(provider) ?? throw new InvalidOperationException($"No base URL for {provider}."), relativePath.TrimStart('/'));
}
