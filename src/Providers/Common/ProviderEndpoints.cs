using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// Base URLs per provider: the public API by default, <c>KILLTOKEN_&lt;PROVIDER&gt;_BASE_URL</c> to override (tests,
/// sovereign clouds). Server configuration only: a request can never choose where its credential is sent.
/// </summary>
public sealed class ProviderEndpoints
{
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

    public Uri Resolve(ProviderId provider, string relativePath) =>
        new(BaseUrl(provider) ?? throw new InvalidOperationException($"No base URL for {provider}."), relativePath.TrimStart('/'));
}
