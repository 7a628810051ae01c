using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Core.Gateway;

/// <summary>
/// What the drop-in wrapper routes read from headers: their SDKs send the provider's own body, which has no place for
/// KillToken's fields.
/// </summary>
public sealed record WrapperHeaders
{
    public const string ProviderHeader = "x-killtoken-provider";
    public const string FeatureHeader = "x-killtoken-feature";
    public const string IdempotencyKeyHeader = "x-killtoken-idempotency-key";
    public const string CacheHeader = "x-killtoken-cache";
    public const string OptimizationModeHeader = "x-killtoken-optimization-mode";

    /// <summary>Anthropic's beta switches, passed on with the native Messages body.</summary>
    public const string AnthropicBetaHeader = "anthropic-beta";

    public string? Provider { get; init; }
    public string? Feature { get; init; }
    public string? IdempotencyKey { get; init; }
    public string? CachePolicy { get; init; }
    public string? OptimizationMode { get; init; }
    public string? AnthropicBeta { get; init; }
}

/// <summary>
/// Native request bodies of the wrapper routes → the pipeline's <see cref="ChatRequest"/>. The OpenAI body is taken
/// apart (messages + options, so another provider can be chosen); the Anthropic and Gemini bodies travel unchanged as
/// <see cref="ChatRequest.NativeBody"/>, with an OpenAI-shaped view of their messages for measuring and budgeting.
/// </summary>
public static class WrapperRequestParser
{
    /// <summary>Providers that take the chat-completions body itself.</summary>
    private static readonly HashSet<ProviderId> ChatCompletionsFormat =
    [
        ProviderId.OpenAI, ProviderId.Mistral, ProviderId.DeepSeek, ProviderId.OpenRouter, ProviderId.Together, ProviderId.Perplexity,
        ProviderId.XAI, ProviderId.OpenAICompatible, ProviderId.AzureOpenAI,
    ];

    /// <summary>OpenAI request fields that only mean something to OpenAI's own bookkeeping; dropped when another format is the target.</summary>
    private static readonly string[] OpenAIOnlyFields =
        ["user", "store", "metadata", "service_tier", "prompt_cache_key", "safety_identifier", "parallel_tool_calls", "stream_options"];

    public static bool IsChatCompletionsFormat(ProviderId provider) => ChatCompletionsFormat.Contains(provider);

    /// <summary><c>POST /v1/openai/chat/completions</c>: provider from <c>x-killtoken-provider</c> (default openai).</summary>
    public static ChatRequest? ParseOpenAI(JsonObject body, WrapperHeaders headers, out GatewayError? error)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(headers);
        var providerText = string.IsNullOrWhiteSpace(headers.Provider) ? ProviderId.OpenAI.Value : headers.Provider.Trim();
        if (!ProviderId.TryParse(providerText, out var provider))
        {
            error = new GatewayError(422, ErrorCodes.ProviderNotSupported,
                $"{WrapperHeaders.ProviderHeader} names no supported provider. Use one of: {string.Join(", ", ProviderId.All)}.");
            return null;
        }

        if (!TryModel(body["model"], out var model, out error))
        {
            return null;
        }

        var messages = ChatRequestParser.ParseMessages(body["messages"], out error);
        if (messages is null || !TryStream(body, out var stream, out error) || !TryFeature(body, headers, out var metadata, out var feature, out error)
            || !TryCommon(headers, allowSafe: true, out var common, out error))
        {
            return null;
        }

        var options = new JsonObject();
        foreach (var (name, value) in body)
        {
            if (name is not ("model" or "messages" or "stream" or "metadata"))
            {
                options[name] = value?.DeepClone();
            }
        }

        if (metadata is { Count: > 0 })
        {
            options["metadata"] = metadata;
        }

        if (!IsChatCompletionsFormat(provider))
        {
            foreach (var name in OpenAIOnlyFields)
            {
                options.Remove(name);
            }
        }

        return new ChatRequest
        {
            Provider = provider,
            Model = model,
            Messages = messages,
            OptimizationMode = common.Mode,
            CachePolicy = common.Cache,
            IdempotencyKey = common.IdempotencyKey,
            ProviderOptions = options.Count == 0 ? null : options,
            Stream = stream,
            Feature = feature,
        };
    }

    /// <summary><c>POST /v1/anthropic/messages</c>: the Messages body, OpenAI-style tool payloads refused.</summary>
    public static ChatRequest? ParseAnthropic(JsonObject body, WrapperHeaders headers, out GatewayError? error)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(headers);
        if (!TryModel(body["model"], out var model, out error) || !TryStream(body, out var stream, out error))
        {
            return null;
        }

        var view = new List<JsonObject>();
        switch (body["system"])
        {
            case null:
                break;
            case JsonValue system when ChatRequestParser.AsString(system) is { } text:
                view.Add(new JsonObject { ["role"] = "system", ["content"] = text });
                break;
            case JsonArray blocks when blocks.All(b => b is JsonObject):
                view.Add(new JsonObject { ["role"] = "system", ["content"] = AnthropicText(blocks) });
                break;
            default:
                error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'system' must be a string or an array of text blocks.");
                return null;
        }

        if (body["messages"] is not JsonArray { Count: > 0 } messages)
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, "'messages' must be a non-empty array.");
            return null;
        }

        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"messages[{i}] must be an object.");
                return null;
            }

            var role = ChatRequestParser.AsString(message["role"]);
            if (role is "tool" || message.ContainsKey("tool_calls") || message.ContainsKey("tool_call_id"))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                    $"messages[{i}] is an OpenAI-style tool message (role 'tool', tool_calls or tool_call_id). The Messages API takes tool_use and tool_result content blocks; send OpenAI-style requests to /v1/openai/chat/completions.");
                return null;
            }

            if (role is not ("user" or "assistant"))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                    $"messages[{i}].role must be 'user' or 'assistant'; the system prompt goes in the top-level 'system' field.");
                return null;
            }

            var content = message["content"];
            if (ChatRequestParser.AsString(content) is { } text)
            {
                view.Add(new JsonObject { ["role"] = role, ["content"] = text });
            }
            else if (content is JsonArray blocks && blocks.All(b => b is JsonObject block && ChatRequestParser.AsString(block["type"]) is not null))
            {
                view.Add(new JsonObject { ["role"] = role, ["content"] = AnthropicText(blocks) });
            }
            else
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"messages[{i}].content must be a string or an array of typed content blocks.");
                return null;
            }
        }

        if (body["tools"] is { } tools)
        {
            if (tools is not JsonArray toolList)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'tools' must be an array.");
                return null;
            }

            if (toolList.Any(t => t is JsonObject tool && (ChatRequestParser.AsString(tool["type"]) == "function" || tool["function"] is JsonObject)))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidRequest,
                    "OpenAI-style tools ({type: \"function\", function: {...}}) are not Messages API tools: use {name, description, input_schema}, or send the request to /v1/openai/chat/completions.");
                return null;
            }
        }

        if (body["tool_choice"] is { } choice && (choice is JsonValue || ChatRequestParser.AsString(ChatRequestParser.Field(choice, "type")) == "function"))
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidRequest,
                "OpenAI-style tool_choice is not a Messages API tool_choice: use {type: \"auto\" | \"any\" | \"tool\" | \"none\"}.");
            return null;
        }

        var native = body.DeepClone().AsObject();
        if (!TryFeature(native, headers, out var metadata, out var feature, out error) || !TryCommon(headers, allowSafe: false, out var common, out error))
        {
            return null;
        }

        if (headers.AnthropicBeta is { } beta && !beta.All(c => c is >= ' ' and <= '~'))
        {
            // A header value HttpClient cannot send would fail as a provider error after retries: it is the caller's.
            error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'anthropic-beta' must be comma-separated beta names in printable ASCII.");
            return null;
        }

        Restore(native, metadata);
        return new ChatRequest
        {
            Provider = ProviderId.Anthropic,
            Model = model,
            Messages = view,
            OptimizationMode = common.Mode,
            CachePolicy = common.Cache,
            IdempotencyKey = common.IdempotencyKey,
            Stream = stream,
            Feature = feature,
            NativeBody = native,
            OutputTokenCap = PositiveLong(body["max_tokens"]),
            NativeHeaders = string.IsNullOrWhiteSpace(headers.AnthropicBeta)
                ? null
                : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [WrapperHeaders.AnthropicBetaHeader] = headers.AnthropicBeta.Trim() },
        };
    }

    /// <summary><c>POST /v1/gemini/v1beta/models/{model}:generateContent</c> (and <c>:streamGenerateContent</c>).</summary>
    public static ChatRequest? ParseGemini(string model, bool stream, JsonObject body, WrapperHeaders headers, out GatewayError? error)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(headers);
        if (!TryModel(JsonValue.Create(Uri.UnescapeDataString(model ?? string.Empty)), out var modelId, out error))
        {
            return null;
        }

        if (modelId.StartsWith("models/", StringComparison.Ordinal))
        {
            modelId = modelId["models/".Length..];
        }

        var view = new List<JsonObject>();
        if ((body["systemInstruction"] ?? body["system_instruction"]) is { } system)
        {
            if (system is not JsonObject instruction)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'systemInstruction' must be a Content object ({parts: [...]}).");
                return null;
            }

            view.Add(new JsonObject { ["role"] = "system", ["content"] = GeminiText(instruction["parts"]) });
        }

        if (body["contents"] is not JsonArray { Count: > 0 } contents)
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, "'contents' must be a non-empty array of {role, parts}.");
            return null;
        }

        for (var i = 0; i < contents.Count; i++)
        {
            if (contents[i] is not JsonObject content || content["parts"] is not JsonArray parts || !parts.All(p => p is JsonObject))
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"contents[{i}] must be an object with a 'parts' array of objects.");
                return null;
            }

            var role = ChatRequestParser.AsString(content["role"]) == "model" ? "assistant" : "user";
            view.Add(new JsonObject { ["role"] = role, ["content"] = GeminiText(parts) });
        }

        var native = body.DeepClone().AsObject();
        if (!TryFeature(native, headers, out var metadata, out var feature, out error) || !TryCommon(headers, allowSafe: false, out var common, out error))
        {
            return null;
        }

        Restore(native, metadata);
        var generation = (body["generationConfig"] ?? body["generation_config"]) as JsonObject;
        return new ChatRequest
        {
            Provider = ProviderId.Gemini,
            Model = modelId,
            Messages = view,
            OptimizationMode = common.Mode,
            CachePolicy = common.Cache,
            IdempotencyKey = common.IdempotencyKey,
            Stream = stream,
            Feature = feature,
            NativeBody = native,
            OutputTokenCap = PositiveLong(generation?["maxOutputTokens"] ?? generation?["max_output_tokens"]),
        };
    }

    private sealed record Common(OptimizationMode Mode, CachePolicy Cache, string? IdempotencyKey);

    private static bool TryModel(JsonNode? node, out string model, out GatewayError? error)
    {
        var text = ChatRequestParser.AsString(node);
        if (string.IsNullOrWhiteSpace(text) || text.Length > 200)
        {
            model = string.Empty;
            error = GatewayError.BadRequest(ErrorCodes.InvalidModel, "'model' is required: a non-empty string of at most 200 characters.");
            return false;
        }

        model = text.Trim();
        error = null;
        return true;
    }

    private static bool TryStream(JsonObject body, out bool stream, out GatewayError? error)
    {
        stream = false;
        error = null;
        if (body["stream"] is not { } node)
        {
            return true;
        }

        if (node.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidRequest, "'stream' must be a boolean.");
            return false;
        }

        stream = node.GetValue<bool>();
        return true;
    }

    /// <summary>
    /// Takes <c>metadata.feature</c> out of the body (the provider would refuse the unknown field), and returns what is left of
    /// <c>metadata</c>; the body's tag beats the <c>x-killtoken-feature</c> header.
    /// </summary>
    private static bool TryFeature(JsonObject body, WrapperHeaders headers, out JsonObject? metadata, out string feature, out GatewayError? error)
    {
        metadata = null;
        feature = GatewayNames.Untagged;
        error = null;
        string? bodyFeature = null;
        if (body["metadata"] is { } node)
        {
            if (node is not JsonObject value)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidMetadata, "'metadata' must be an object.");
                return false;
            }

            metadata = value.DeepClone().AsObject();
            if (metadata["feature"] is { } featureNode)
            {
                bodyFeature = ChatRequestParser.AsString(featureNode);
                if (bodyFeature is null)
                {
                    error = GatewayError.BadRequest(ErrorCodes.InvalidMetadata, "'metadata.feature' must be a string.");
                    return false;
                }

                metadata.Remove("feature");
            }
        }

        feature = GatewayNames.NormalizeFeature(bodyFeature, headers.Feature);
        return true;
    }

    /// <summary>Puts back what is left of the metadata after the feature tag was taken out (nothing when it was all).</summary>
    private static void Restore(JsonObject body, JsonObject? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        if (metadata.Count == 0)
        {
            body.Remove("metadata");
        }
        else
        {
            body["metadata"] = metadata;
        }
    }

    private static bool TryCommon(WrapperHeaders headers, bool allowSafe, out Common common, out GatewayError? error)
    {
        common = new Common(OptimizationMode.MeasureOnly, CachePolicy.Bypass, null);
        error = null;
        var mode = OptimizationMode.MeasureOnly;
        switch (headers.OptimizationMode?.Trim())
        {
            case null or "" or "measure_only":
                break;
            case "safe" when allowSafe:
                mode = OptimizationMode.Safe;
                break;
            case "safe":
                error = GatewayError.BadRequest(ErrorCodes.InvalidOptimizationMode,
                    "Native request bodies are sent as they are: safe optimization is available on /v1/chat and /v1/openai/chat/completions. Use measure_only here.");
                return false;
            default:
                error = GatewayError.BadRequest(ErrorCodes.InvalidOptimizationMode, $"{WrapperHeaders.OptimizationModeHeader} must be 'measure_only' or 'safe'.");
                return false;
        }

        var cache = CachePolicy.Bypass;
        if (!string.IsNullOrWhiteSpace(headers.CachePolicy) && !ChatRequestParser.TryParseCachePolicy(JsonValue.Create(headers.CachePolicy.Trim()), out cache))
        {
            error = GatewayError.BadRequest(ErrorCodes.InvalidCachePolicy,
                $"{WrapperHeaders.CacheHeader} must be bypass, read_only, write_only or read_write.");
            return false;
        }

        string? key = null;
        if (headers.IdempotencyKey is { } rawKey)
        {
            key = rawKey.Trim();
            if (key.Length is 0 or > GatewayNames.IdempotencyKeyMaxLength)
            {
                error = GatewayError.BadRequest(ErrorCodes.InvalidIdempotencyKey, $"{WrapperHeaders.IdempotencyKeyHeader} must be 1 to 255 characters.");
                return false;
            }
        }

        common = new Common(mode, cache, key);
        return true;
    }

    private static long? PositiveLong(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<long>(out var number) && number > 0 ? number : null;

    /// <summary>The text of Anthropic content blocks, for measuring: text, tool results, tool inputs; images and documents count as nothing.</summary>
    private static string AnthropicText(JsonArray blocks)
    {
        var text = new StringBuilder();
        foreach (var block in blocks.OfType<JsonObject>())
        {
            var piece = ChatRequestParser.AsString(block["type"]) switch
            {
                "text" => ChatRequestParser.AsString(block["text"]),
                "tool_result" => block["content"] is JsonArray inner ? AnthropicText(inner) : ChatRequestParser.AsString(block["content"]),
                "tool_use" => block["input"]?.ToJsonString(),
                "thinking" => ChatRequestParser.AsString(block["thinking"]),
                _ => null,
            };
            if (!string.IsNullOrEmpty(piece))
            {
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append(piece);
            }
        }

        return text.ToString();
    }

    /// <summary>The text of Gemini parts, for measuring: text, function calls and responses; inline and file data count as nothing.</summary>
    private static string GeminiText(JsonNode? parts)
    {
        var text = new StringBuilder();
        foreach (var part in (parts as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var piece = ChatRequestParser.AsString(part["text"])
                ?? (part["functionCall"] ?? part["function_call"] ?? part["functionResponse"] ?? part["function_response"])?.ToJsonString();
            if (!string.IsNullOrEmpty(piece))
            {
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                text.Append(piece);
            }
        }

        return text.ToString();
    }
}
