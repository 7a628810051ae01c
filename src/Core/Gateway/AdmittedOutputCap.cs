using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Core.Gateway;

/// <summary>
/// Writes the output cap budget admission set into what is sent upstream, under the name the provider's wire format
/// reads: the cap the call's reservation holds, lowered when only that fits. Only used when the caller set no cap of its
/// own, so nothing the caller wrote is overwritten.
/// </summary>
public static class AdmittedOutputCap
{
    /// <summary>
    /// <c>providerOptions</c> with the cap added: <c>max_completion_tokens</c> for OpenAI and Azure OpenAI (their newer
    /// models refuse <c>max_tokens</c>), <c>max_tokens</c> for every other provider (each adapter maps it to its own field).
    /// </summary>
    public static JsonObject ApplyToOptions(JsonObject? options, ProviderId provider, long cap)
    {
        var capped = options?.DeepClone().AsObject() ?? [];
        capped[provider == ProviderId.OpenAI || provider == ProviderId.AzureOpenAI ? "max_completion_tokens" : "max_tokens"] = cap;
        return capped;
    }

    /// <summary>A native wrapper body with the cap set: Anthropic's <c>max_tokens</c>, Gemini's <c>generationConfig.maxOutputTokens</c>.</summary>
    public static JsonObject ApplyToNativeBody(JsonObject body, ProviderId provider, long cap)
    {
        ArgumentNullException.ThrowIfNull(body);
        var capped = body.DeepClone().AsObject();
        if (provider == ProviderId.Anthropic)
        {
            capped["max_tokens"] = cap;
            return capped;
        }

        var config = capped["generationConfig"] as JsonObject ?? capped["generation_config"] as JsonObject;
        if (config is null)
        {
            config = [];
            capped["generationConfig"] = config;
        }

        config["maxOutputTokens"] = cap;
        return capped;
    }
}
