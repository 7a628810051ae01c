using KillToken.Core.Providers;

namespace KillToken.Core.Observability;

/// <summary>
/// Names from the OpenTelemetry semantic conventions for generative AI (v1.37+). The provider goes in
/// <c>gen_ai.provider.name</c>, which replaced <c>gen_ai.system</c> in v1.37; the older attribute is not written as well —
/// the exporters used here (OTLP, Azure Monitor) pass attributes through unchanged and key nothing on it.
/// </summary>
public static class GenAi
{
    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    public const string RequestModel = "gen_ai.request.model";
    public const string RequestMaxTokens = "gen_ai.request.max_tokens";
    public const string ResponseModel = "gen_ai.response.model";
    public const string InputTokens = "gen_ai.usage.input_tokens";
    public const string OutputTokens = "gen_ai.usage.output_tokens";
    public const string TokenType = "gen_ai.token.type";
    public const string TokenUsageMetric = "gen_ai.client.token.usage";
    public const string OperationDurationMetric = "gen_ai.client.operation.duration";
    public const string Chat = "chat";
    public const string Input = "input";
    public const string Output = "output";

    /// <summary>The conventions' well-known value for a provider where there is one; KillToken's own id otherwise.</summary>
    public static string ProviderNameOf(ProviderId provider) => ProviderNameOf(provider.Value);

    public static string ProviderNameOf(string? provider) => provider switch
    {
        "gemini" => "gcp.gemini",
        "google_vertex" => "gcp.vertex_ai",
        "aws_bedrock" => "aws.bedrock",
        "azure_openai" => "azure.ai.openai",
        "mistral" => "mistral_ai",
        "xai" => "x_ai",
        null => "_OTHER",
        _ => provider, // openai, anthropic, deepseek, perplexity as the conventions spell them; the rest as KillToken does
    };

    /// <summary>The model a provider's answer names (<c>model</c>, Gemini's <c>modelVersion</c>), when it names one.</summary>
    public static string? ResponseModelOf(System.Text.Json.Nodes.JsonNode? body)
    {
        if (body is not System.Text.Json.Nodes.JsonObject answer)
        {
            return null;
        }

        var node = answer["model"] ?? answer["modelVersion"];
        return node is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var model) && model.Length is > 0 and <= 200
            ? model
            : null;
    }
}
