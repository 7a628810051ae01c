using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Core.Gateway;

/// <summary>Turns a <c>/v1/chat</c> body into a <see cref="ChatRequest"/> or the contract's 4xx.</summary>
public static class ChatRequestParser
{
    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal) { "system", "developer", "user", "assistant", "tool" };

    /// <summary>
    /// The top-level fields of a <c>/v1/chat</c> body: seed 000's table and <c>stream</c> (§3). Any other name is refused
    /// (<see cref="UnknownField"/>) rather than silently ignored.
    /// </summary>
    public static readonly IReadOnlyList<string> ChatFields =
        ["provider", "model", "messages", "optimizationMode", "metadata", "providerOptions", "cachePolicy", "idempotencyKey", "stream"];

    private static readonly HashSet<string> ChatFieldSet = new(ChatFields, StringComparer.Ordinal);

    /// <summary>
    /// Names the provider adapters take inside <c>providerOptions</c> (OpenAI-style, Anthropic, Gemini, Bedrock, and the
    /// output-cap aliases), so a body that sends one at the top level is told where it belongs.
    /// </summary>
    private static readonly HashSet<string> ProviderOptionNames = new(StringComparer.Ordinal)
    {
        "max_tokens", "max_completion_tokens", "max_output_tokens", "maxTokens", "maxOutputTokens", "temperature", "top_p", "top_k",
        "stop", "stop_sequences", "n", "seed", "tools", "tool_choice", "parallel_tool_calls", "response_format", "presence_penalty",
        "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "reasoning_effort", "service_tier", "store",
        "modalities", "prediction", "verbosity", "web_search_options", "prompt_cache_key", "safety_identifier", "stream_options",
        "thinking", "generationConfig", "safetySettings", "toolConfig", "cachedContent", "labels", "inferenceConfig",
        "guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig",
    };

    /// <summary>The one parse of every request body (chat, wrappers, management): any failure is a 400 <c>invalid_json</c>.</summary>
    public static JsonNode? ParseJson(ReadOnlySpan<byte> body, out GatewayError? error)
    {
        error = UntrustedJson.TryParse(body, out var node, out var problem)
            ? null
            : GatewayError.BadRequest(ErrorCodes.InvalidJson, "The request body is not valid JSON. " + problem);
        return node;
    }

    public static ChatRequest? Parse(ReadOnlySpan<byte> body, string? featureHeader, out GatewayError? error)
    {
        var root = ParseJson(body, out error);
        if (error is not null)
        {
            return null;
        }

        if (root is not JsonObject obj)
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "The request body must be a JSON object.");
            return null;
        }

        return Parse(obj, featureHeader, out error);
    }

    public static ChatRequest? Parse(JsonObject obj, string? featureHeader, out GatewayError? error)
    {
        error = null;

        foreach (var (name, _) in obj)
        {
            if (!ChatFieldSet.Contains(name))
            {
                error = UnknownField(name);
                return null;
            }
        }

        if (!TryGetString(obj, "provider", out var providerText) || string.IsNullOrWhiteSpace(providerText))
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'provider' is required and must be a string.");
            return null;
        }

        if (!ProviderId.TryParse(providerText, out var provider))
        {
            error = new GatewayError(422, ErrorCodes.ProviderNotSupported,
                $"Provider is not supported. Use one of: {string.Join(", ", ProviderId.All)}.");
            return null;
        }

        if (!TryGetString(obj, "model", out var model) || string.IsNullOrWhiteSpace(model) || model.Length > 200)
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidModel, "'model' is required: a non-empty string of at most 200 characters.");
            return null;
        }

        var messages = ParseMessages(obj["messages"], out error);
        if (messages is null)
        {
            return null;
        }

        var mode = OptimizationMode.MeasureOnly;
        if (obj.TryGetPropertyValue("optimizationMode", out var modeNode) && modeNode is not null)
        {
            switch (AsString(modeNode))
            {
                case "measure_only":
                    break;
                case "safe":
                    mode = OptimizationMode.Safe;
                    break;
                default:
                    error = GatewayError.BadRequest(ErrorCodes.InvalidOptimizationMode, "'optimizationMode' must be 'measure_only' or 'safe'.");
                    return null;
            }
        }

        if (!TryParseCachePolicy(obj["cachePolicy"], out var cachePolicy))
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidCachePolicy,
                "'cachePolicy' must be { \"exactCache\": \"bypass\" | \"read_only\" | \"write_only\" | \"read_write\" }.");
            return null;
        }

        string? idempotencyKey = null;
        if (obj.TryGetPropertyValue("idempotencyKey", out var keyNode) && keyNode is not null)
        {
            idempotencyKey = AsString(keyNode);
            if (string.IsNullOrEmpty(idempotencyKey) || idempotencyKey.Length > GatewayNames.IdempotencyKeyMaxLength)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidIdempotencyKey, "'idempotencyKey' must be a string of 1 to 255 characters.");
                return null;
            }
        }

        JsonObject? metadata = null;
        if (obj.TryGetPropertyValue("metadata", out var metadataNode) && metadataNode is not null)
        {
            metadata = metadataNode as JsonObject;
            if (metadata is null)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMetadata, "'metadata' must be an object.");
                return null;
            }
        }

        string? bodyFeature = null;
        if (metadata is not null && metadata.TryGetPropertyValue("feature", out var featureNode) && featureNode is not null)
        {
            bodyFeature = AsString(featureNode);
            if (bodyFeature is null)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMetadata, "'metadata.feature' must be a string.");
                return null;
            }
        }

        JsonObject? providerOptions = null;
        if (obj.TryGetPropertyValue("providerOptions", out var optionsNode) && optionsNode is not null)
        {
            providerOptions = optionsNode as JsonObject;
            if (providerOptions is null)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions, "'providerOptions' must be an object.");
                return null;
            }
        }

        var stream = false;
        if (obj.TryGetPropertyValue("stream", out var streamNode) && streamNode is not null)
        {
            if (streamNode.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'stream' must be a boolean.");
                return null;
            }

            stream = streamNode.GetValue<bool>();
        }

        return new ChatRequest
        {
            Provider = provider,
            Model = model.Trim(),
            Messages = messages,
            OptimizationMode = mode,
            Metadata = metadata,
            ProviderOptions = providerOptions,
            CachePolicy = cachePolicy,
            IdempotencyKey = idempotencyKey,
            Stream = stream,
            Feature = GatewayNames.NormalizeFeature(bodyFeature, featureHeader),
        };
    }

    /// <summary>
    /// The 400 for a top-level name <c>/v1/chat</c> does not take: a provider option is pointed into
    /// <c>providerOptions</c>; anything else gets the list of fields (and the field it misspells, if any).
    /// </summary>
    public static GatewayError UnknownField(string name)
    {
        if (ProviderOptionNames.Contains(name))
        {
            return GatewayError.BadRequest(ErrorCodes.InvalidRequest, $"'{name}' is a provider option: send it inside 'providerOptions'.");
        }

        var meant = ChatFields.FirstOrDefault(field => string.Equals(field, Squash(name), StringComparison.OrdinalIgnoreCase));
        var hint = meant is null ? string.Empty : $" Did you mean '{meant}'?";
        var shown = name.Length <= 64 ? name : string.Concat(name.AsSpan(0, char.IsHighSurrogate(name[63]) ? 63 : 64), "…");
        return GatewayError.BadRequest(ErrorCodes.InvalidRequest,
            $"'{shown}' is not a field of /v1/chat.{hint} Its fields are: {string.Join(", ", ChatFields)}.");

        static string Squash(string text) => text.Replace("_", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal);
    }

    /// <summary>OpenAI-style messages: a non-empty array of objects with a known role and string or part-array content.</summary>
    public static IReadOnlyList<JsonObject>? ParseMessages(JsonNode? node, out GatewayError? error)
    {
        error = null;
        if (node is not JsonArray array || array.Count == 0)
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, "'messages' must be a non-empty array.");
            return null;
        }

        var result = new List<JsonObject>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject message)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"messages[{i}] must be an object.");
                return null;
            }

            var role = AsString(message["role"]);
            if (role is null || !Roles.Contains(role))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                    $"messages[{i}].role must be one of system, developer, user, assistant, tool.");
                return null;
            }

            if (message["tool_calls"] is { } toolCalls && !(toolCalls is JsonArray calls
                && calls.All(c => c is JsonObject call && Field(call, "function") is JsonObject function && AsString(function["name"]) is not null)))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                    $"messages[{i}].tool_calls must be an array of {{ id, type: \"function\", function: {{ name, arguments }} }}.");
                return null;
            }

            var content = message["content"];
            var hasToolCalls = message["tool_calls"] is JsonArray { Count: > 0 };
            var contentOk = content switch
            {
                null => role == "assistant" && hasToolCalls,
                JsonArray parts => parts.Count > 0 && parts.All(p => p is JsonObject part && AsString(part["type"]) is not null),
                _ => AsString(content) is not null,
            };

            if (!contentOk)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                    $"messages[{i}].content must be a string or a non-empty array of typed parts.");
                return null;
            }

            result.Add(message);
        }

        return result;
    }

    public static bool TryParseCachePolicy(JsonNode? node, out CachePolicy policy)
    {
        policy = CachePolicy.Bypass;
        if (node is null)
        {
            return true;
        }

        var text = node switch
        {
            JsonObject o when o.Count == 1 && o.ContainsKey("exactCache") => AsString(o["exactCache"]),
            JsonObject o when o.Count == 0 => "bypass",
            JsonValue => AsString(node),
            _ => null,
        };

        switch (text)
        {
            case "bypass":
                policy = CachePolicy.Bypass;
                return true;
            case "read_only":
                policy = CachePolicy.ReadOnly;
                return true;
            case "write_only":
                policy = CachePolicy.WriteOnly;
                return true;
            case "read_write":
                policy = CachePolicy.ReadWrite;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A property of an object; null for anything that is not an object (never throws on odd shapes).</summary>
    public static JsonNode? Field(JsonNode? node, string name) => node is JsonObject obj ? obj[name] : null;

    public static string? AsString(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static bool TryGetString(JsonObject obj, string name, out string value)
    {
        var text = AsString(obj[name]);
        value = text ?? string.Empty;
        return text is not null;
    }
}
