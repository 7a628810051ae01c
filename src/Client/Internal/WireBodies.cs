using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace KillToken.Client.Internal;

/// <summary>The <c>/v1/chat</c> body as the gateway reads it; built from a <see cref="ChatRequest"/>.</summary>
internal sealed class ChatRequestBody
{
    public required ModelProvider Provider { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<ChatMessage> Messages { get; init; }
    public OptimizationMode? OptimizationMode { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public JsonObject? ProviderOptions { get; init; }
    public CachePolicyBody? CachePolicy { get; init; }
    public string? IdempotencyKey { get; init; }
    public bool? Stream { get; init; }

    public static ChatRequestBody From(ChatRequest request, bool stream)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Messages.Count == 0)
        {
            throw new ArgumentException("A chat request needs at least one message.", nameof(request));
        }

        Dictionary<string, string>? metadata = request.Metadata.Count > 0 || request.Feature is not null
            ? new(request.Metadata, StringComparer.Ordinal)
            : null;
        if (request.Feature is not null)
        {
            metadata!["feature"] = request.Feature;
        }

        var options = request.ProviderOptions?.DeepClone().AsObject();
        if (request.MaxTokens is { } maxTokens)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens, nameof(request.MaxTokens));
            options ??= [];
            options["max_tokens"] = maxTokens;
        }

        return new ChatRequestBody
        {
            Provider = request.Provider,
            Model = request.Model,
            Messages = [.. request.Messages],
            OptimizationMode = request.OptimizationMode,
            Metadata = metadata,
            ProviderOptions = options,
            CachePolicy = request.CachePolicy is { } policy ? new CachePolicyBody(policy) : null,
            IdempotencyKey = request.IdempotencyKey,
            Stream = stream ? true : null,
        };
    }
}

internal sealed record CachePolicyBody(CachePolicy ExactCache);

internal sealed record ChatResponseBody(JsonElement Response, ChatMetrics Metrics);

internal sealed record CredentialList(IReadOnlyList<ProviderCredential> Data);

/// <summary>The contract's error body: <c>{ "error": { "code", "message", "requestId", … } }</c>.</summary>
internal sealed record ErrorEnvelope(ErrorBody? Error);

internal sealed class ErrorBody
{
    public string? Code { get; init; }
    public string? Message { get; init; }
    public string? RequestId { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Details { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChatRequestBody))]
[JsonSerializable(typeof(ChatResponseBody))]
[JsonSerializable(typeof(ChatMetrics))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(RequestTrace))]
[JsonSerializable(typeof(RequestTracePage))]
[JsonSerializable(typeof(SummaryReport))]
[JsonSerializable(typeof(RoiReport))]
[JsonSerializable(typeof(AnalyticsExport))]
[JsonSerializable(typeof(CredentialList))]
[JsonSerializable(typeof(ProviderCredential))]
[JsonSerializable(typeof(CreateProviderCredentialOptions))]
[JsonSerializable(typeof(UpdateProviderCredentialOptions))]
[JsonSerializable(typeof(CredentialTestResult))]
internal sealed partial class KillTokenJsonContext : JsonSerializerContext;
