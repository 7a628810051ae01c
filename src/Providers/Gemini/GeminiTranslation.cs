using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Gemini;

/// <summary>
/// OpenAI-style messages and options → Gemini's <c>generateContent</c> request, and its <c>usageMetadata</c> back.
/// One translation for the Gemini API and Vertex AI, which take the same body
/// (ai.google.dev/api/generate-content, cloud.google.com/vertex-ai/docs/reference/rest/v1/GenerateContentResponse).
/// </summary>
internal static class GeminiTranslation
{
    /// <summary>Top-level fields of the Gemini API's request that <c>providerOptions</c> may set as they are.</summary>
    public static readonly IReadOnlySet<string> GeminiNativeOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "generationConfig", "safetySettings", "toolConfig", "cachedContent",
    };

    /// <summary>Vertex AI takes the same fields plus resource <c>labels</c>.</summary>
    public static readonly IReadOnlySet<string> VertexNativeOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "generationConfig", "safetySettings", "toolConfig", "cachedContent", "labels",
    };

    /// <summary>OpenAI-style names and the <c>generationConfig</c> field each becomes.</summary>
    private static readonly Dictionary<string, string> GenerationConfigNames = new(StringComparer.Ordinal)
    {
        ["temperature"] = "temperature",
        ["top_p"] = "topP",
        ["top_k"] = "topK",
        ["max_tokens"] = "maxOutputTokens",
        ["max_completion_tokens"] = "maxOutputTokens",
        ["stop"] = "stopSequences",
        ["seed"] = "seed",
        ["presence_penalty"] = "presencePenalty",
        ["frequency_penalty"] = "frequencyPenalty",
        ["n"] = "candidateCount",
        ["logprobs"] = "responseLogprobs",
        ["top_logprobs"] = "logprobs",
    };

    /// <summary>OpenAI-style names that need more than a rename.</summary>
    private static readonly HashSet<string> TranslatedOptions = new(StringComparer.Ordinal) { "response_format", "tools", "tool_choice" };

    /// <summary>
    /// Messages → <c>{contents, systemInstruction}</c>: system/developer → <c>systemInstruction.parts</c>; user → role
    /// <c>user</c>; assistant → role <c>model</c> with <c>functionCall</c> parts for <c>tool_calls</c>; consecutive tool
    /// messages → one <c>user</c> turn of <c>functionResponse</c> parts, named after the call they answer.
    /// </summary>
    public static (JsonObject? Body, GatewayError? Error) ToRequest(IReadOnlyList<JsonObject> messages, string providerName)
    {
        var system = new JsonArray();
        var contents = new JsonArray();
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var lastWasTool = false;
        foreach (var message in messages)
        {
            var role = ChatRequestParser.AsString(message["role"])!;
            switch (role)
            {
                case "system" or "developer":
                    var instruction = TextOf(message["content"]);
                    if (instruction.Length > 0)
                    {
                        system.Add(new JsonObject { ["text"] = instruction });
                    }

                    lastWasTool = false;
                    break;

                case "tool":
                    var (response, responseError) = FunctionResponse(message, callNames, providerName);
                    if (responseError is not null)
                    {
                        return (null, responseError);
                    }

                    if (lastWasTool && contents[^1] is JsonObject previous && previous["parts"] is JsonArray previousParts)
                    {
                        previousParts.Add(response);
                    }
                    else
                    {
                        contents.Add(new JsonObject { ["role"] = "user", ["parts"] = new JsonArray(response) });
                    }

                    lastWasTool = true;
                    break;

                default:
                    var (parts, partsError) = role == "assistant" ? ModelParts(message, callNames) : UserParts(message["content"], providerName);
                    if (partsError is not null)
                    {
                        return (null, partsError);
                    }

                    if (parts!.Count > 0)
                    {
                        contents.Add(new JsonObject { ["role"] = role == "assistant" ? "model" : "user", ["parts"] = parts });
                    }

                    lastWasTool = false;
                    break;
            }
        }

        if (contents.Count == 0)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                $"{providerName} needs at least one user or assistant message besides the system prompt."));
        }

        var body = new JsonObject { ["contents"] = contents };
        if (system.Count > 0)
        {
            body["systemInstruction"] = new JsonObject { ["parts"] = system };
        }

        return (body, null);
    }

    /// <summary>
    /// <c>providerOptions</c> through the allow-list: OpenAI-style sampling names go into <c>generationConfig</c>
    /// (over a native <c>generationConfig</c> when both are sent), <c>response_format</c> becomes
    /// <c>responseMimeType</c>/<c>responseJsonSchema</c>, OpenAI <c>tools</c>/<c>tool_choice</c> become
    /// <c>functionDeclarations</c>/<c>toolConfig</c>; the native fields pass unchanged.
    /// </summary>
    public static GatewayError? ApplyOptions(JsonObject? options, JsonObject body, IReadOnlySet<string> nativeOptions, string providerName)
    {
        if (options is null || options.Count == 0)
        {
            return null;
        }

        foreach (var (name, _) in options)
        {
            if (!GenerationConfigNames.ContainsKey(name) && !TranslatedOptions.Contains(name) && !nativeOptions.Contains(name))
            {
                var allowed = GenerationConfigNames.Keys.Concat(TranslatedOptions).Concat(nativeOptions).Order(StringComparer.Ordinal);
                return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions,
                    $"providerOptions.{name} is not an option {providerName} takes here. Allowed: {string.Join(", ", allowed)}.");
            }
        }

        // Native fields first, so the OpenAI-style names below refine them.
        foreach (var name in nativeOptions)
        {
            if (options[name] is { } value)
            {
                if (name == "generationConfig" && value is not JsonObject)
                {
                    return Invalid("generationConfig", "an object");
                }

                body[name] = value.DeepClone();
            }
        }

        var config = body["generationConfig"] as JsonObject ?? new JsonObject();
        foreach (var (name, target) in GenerationConfigNames)
        {
            if (options[name] is not { } value)
            {
                continue;
            }

            config[target] = name == "stop" && value is JsonValue single ? new JsonArray(single.DeepClone()) : value.DeepClone();
        }

        if (options["response_format"] is { } format)
        {
            var error = ApplyResponseFormat(format, config);
            if (error is not null)
            {
                return error;
            }
        }

        if (config.Count > 0)
        {
            body["generationConfig"] = config;
        }

        if (options["tools"] is { } tools)
        {
            if (tools is not JsonArray toolList)
            {
                return Invalid("tools", "an array");
            }

            body["tools"] = Tools(toolList);
        }

        if (options["tool_choice"] is { } choice)
        {
            var (toolConfig, error) = ToolConfig(choice);
            if (error is not null)
            {
                return error;
            }

            body["toolConfig"] = toolConfig;
        }

        return null;
    }

    /// <summary>
    /// Gemini's usage: <c>promptTokenCount</c> counts every prompt token (cached ones included, plus
    /// <c>toolUsePromptTokenCount</c> apart); thinking tokens are billed as output on top of <c>candidatesTokenCount</c>.
    /// <c>promptTokenCount</c> is required, and <c>candidatesTokenCount</c> too when the answer has output (it is absent
    /// without, e.g. for a blocked prompt); the others may be absent. Read strictly (<see cref="UsageReader"/>).
    /// </summary>
    public static TokenUsage ReadUsage(JsonNode? body) => ReadUsage(body, HasOutput(body));

    /// <summary>As <see cref="ReadUsage(JsonNode?)"/>, told whether the answer has output (a stream knows it from its events).</summary>
    public static TokenUsage ReadUsage(JsonNode? body, bool hasOutput)
    {
        if ((body as JsonObject)?["usageMetadata"] is not JsonObject usage)
        {
            return TokenUsage.None;
        }

        var read = new UsageReader(usage);
        var thoughts = read.Optional("thoughtsTokenCount");
        return read.Result(new TokenUsage
        {
            InputTokens = read.Required("promptTokenCount") + read.Optional("toolUsePromptTokenCount"),
            OutputTokens = (hasOutput ? read.Required("candidatesTokenCount") : read.Optional("candidatesTokenCount")) + thoughts,
            CachedInputTokens = read.Optional("cachedContentTokenCount"),
            ReasoningTokens = thoughts,
        });
    }

    /// <summary>True when some candidate of the answer has output: a text part that is not a thought, or a function call.</summary>
    public static bool HasOutput(JsonNode? response) =>
        ((response as JsonObject)?["candidates"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(candidate => (ChatRequestParser.Field(candidate["content"], "parts") as JsonArray ?? []).OfType<JsonObject>().Any(IsOutput));

    /// <summary>A part that is output: a function call, or text that is not a thought.</summary>
    public static bool IsOutput(JsonObject part) =>
        part["functionCall"] is JsonObject || (ChatRequestParser.AsString(part["text"]) is { Length: > 0 } && !GeminiStream.IsThought(part));

    public static ProviderResponse ToResponse(UpstreamResult result, TimeSpan latency) =>
        result.Error is not null
            ? new ProviderResponse { Error = result.Error, UpstreamStatus = result.Status, Latency = latency }
            : new ProviderResponse
            {
                UpstreamStatus = result.Status,
                Body = result.Body,
                Usage = ReadUsage(result.Body),
                Latency = latency,
                ReportedModel = ChatRequestParser.AsString(result.Body?["modelVersion"]),
            };

    /// <summary>A model id as Gemini's path wants it: <c>models/gemini-2.5-flash</c> → <c>gemini-2.5-flash</c>, escaped.</summary>
    public static string ModelSegment(string model)
    {
        var id = model.Trim();
        foreach (var prefix in new[] { "publishers/google/models/", "models/" })
        {
            if (id.StartsWith(prefix, StringComparison.Ordinal))
            {
                id = id[prefix.Length..];
            }
        }

        return Uri.EscapeDataString(id);
    }

    private static (JsonArray? Parts, GatewayError? Error) UserParts(JsonNode? content, string providerName)
    {
        if (content is not JsonArray array)
        {
            return (new JsonArray(new JsonObject { ["text"] = ChatRequestParser.AsString(content) ?? string.Empty }), null);
        }

        var parts = new JsonArray();
        foreach (var part in array.OfType<JsonObject>())
        {
            switch (ChatRequestParser.AsString(part["type"]))
            {
                case "text":
                    parts.Add(new JsonObject { ["text"] = part["text"]?.DeepClone() });
                    break;
                case "image_url":
                    parts.Add(MediaPart(ChatRequestParser.AsString(At(part["image_url"], "url")) ?? ChatRequestParser.AsString(part["image_url"]) ?? string.Empty));
                    break;
                case "input_audio":
                    var format = ChatRequestParser.AsString(At(part["input_audio"], "format")) ?? "wav";
                    parts.Add(new JsonObject
                    {
                        ["inlineData"] = new JsonObject { ["mimeType"] = "audio/" + format, ["data"] = At(part["input_audio"], "data")?.DeepClone() },
                    });
                    break;
                default:
                    return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"Content part type '{part["type"]}' cannot be sent to {providerName}."));
            }
        }

        return (parts, null);
    }

    private static (JsonArray? Parts, GatewayError? Error) ModelParts(JsonObject message, Dictionary<string, string> callNames)
    {
        var parts = new JsonArray();
        var text = TextOf(message["content"]);
        if (text.Length > 0)
        {
            parts.Add(new JsonObject { ["text"] = text });
        }

        if (message["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                var name = ChatRequestParser.AsString(At(call["function"], "name"));
                if (string.IsNullOrEmpty(name))
                {
                    return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "tool_calls[].function.name is required."));
                }

                var (args, error) = Arguments(At(call["function"], "arguments"));
                if (error is not null)
                {
                    return (null, error);
                }

                if (ChatRequestParser.AsString(call["id"]) is { } id)
                {
                    callNames[id] = name;
                }

                parts.Add(new JsonObject { ["functionCall"] = new JsonObject { ["name"] = name, ["args"] = args } });
            }
        }

        return (parts, null);
    }

    private static (JsonObject? Part, GatewayError? Error) FunctionResponse(JsonObject message, Dictionary<string, string> callNames, string providerName)
    {
        var callId = ChatRequestParser.AsString(message["tool_call_id"]);
        var name = (callId is not null ? callNames.GetValueOrDefault(callId) : null) ?? ChatRequestParser.AsString(message["name"]);
        if (string.IsNullOrEmpty(name))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                $"A tool message must answer an earlier assistant tool call (tool_call_id) or carry the function's 'name': {providerName} matches results by name."));
        }

        // Gemini wants an object; a tool that returned one is sent as is, anything else as {"output": …} (its documented key).
        var text = TextOf(message["content"]);
        JsonNode? parsed = null;
        try
        {
            parsed = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (JsonException)
        {
            parsed = null;
        }

        var response = parsed as JsonObject ?? new JsonObject { ["output"] = parsed ?? JsonValue.Create(text) };
        return (new JsonObject { ["functionResponse"] = new JsonObject { ["name"] = name, ["response"] = response } }, null);
    }

    private static (JsonNode? Args, GatewayError? Error) Arguments(JsonNode? arguments)
    {
        if (arguments is JsonObject already)
        {
            return (already.DeepClone(), null);
        }

        var text = ChatRequestParser.AsString(arguments);
        if (string.IsNullOrWhiteSpace(text))
        {
            return (new JsonObject(), null);
        }

        try
        {
            if (JsonNode.Parse(text) is JsonObject args)
            {
                return (args, null);
            }
        }
        catch (JsonException)
        {
        }

        return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "tool_calls[].function.arguments must be a JSON object string."));
    }

    private static JsonObject MediaPart(string url)
    {
        // data:[mime];base64,xxxx → inlineData; anything else → fileData with the type guessed from the extension.
        if (url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(";base64,", StringComparison.Ordinal) is var at and > 5)
        {
            return new JsonObject { ["inlineData"] = new JsonObject { ["mimeType"] = url[5..at], ["data"] = url[(at + 8)..] } };
        }

        return new JsonObject { ["fileData"] = new JsonObject { ["mimeType"] = GuessMimeType(url), ["fileUri"] = url } };
    }

    private static string GuessMimeType(string url)
    {
        var path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : url;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".webp" => "image/webp",
            ".gif" => "image/gif",
            ".heic" => "image/heic",
            ".heif" => "image/heif",
            ".pdf" => "application/pdf",
            _ => "image/jpeg",
        };
    }

    private static GatewayError? ApplyResponseFormat(JsonNode format, JsonObject config)
    {
        switch (ChatRequestParser.AsString(At(format, "type")))
        {
            case "text":
                config["responseMimeType"] = "text/plain";
                return null;
            case "json_object":
                config["responseMimeType"] = "application/json";
                return null;
            case "json_schema" when SchemaOf(format) is { } schema:
                config["responseMimeType"] = "application/json";
                config["responseJsonSchema"] = schema.DeepClone();
                return null;
            default:
                return Invalid("response_format", "{\"type\": \"text\" | \"json_object\" | \"json_schema\", \"json_schema\": {\"schema\": {…}}}");
        }
    }

    private static JsonObject? SchemaOf(JsonNode format) => At(At(format, "json_schema"), "schema") as JsonObject;

    /// <summary>OpenAI function tools → one <c>functionDeclarations</c> tool; Gemini-native tools pass unchanged.</summary>
    private static JsonArray Tools(JsonArray tools)
    {
        var declarations = new JsonArray();
        var native = new List<JsonNode?>();
        foreach (var tool in tools)
        {
            if (tool is JsonObject openAi && ChatRequestParser.AsString(openAi["type"]) == "function" && openAi["function"] is JsonObject function)
            {
                var declaration = new JsonObject { ["name"] = function["name"]?.DeepClone() };
                if (function["description"] is { } description)
                {
                    declaration["description"] = description.DeepClone();
                }

                if (function["parameters"] is { } parameters)
                {
                    declaration["parameters"] = parameters.DeepClone();
                }

                declarations.Add(declaration);
            }
            else
            {
                native.Add(tool?.DeepClone());
            }
        }

        var result = new JsonArray();
        if (declarations.Count > 0)
        {
            result.Add(new JsonObject { ["functionDeclarations"] = declarations });
        }

        foreach (var tool in native)
        {
            result.Add(tool);
        }

        return result;
    }

    private static (JsonObject? Config, GatewayError? Error) ToolConfig(JsonNode choice)
    {
        var calling = new JsonObject();
        switch (choice)
        {
            case JsonValue when ChatRequestParser.AsString(choice) is { } mode:
                calling["mode"] = mode switch { "auto" => "AUTO", "none" => "NONE", "required" => "ANY", _ => null };
                if (calling["mode"] is null)
                {
                    return (null, Invalid("tool_choice", "'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}"));
                }

                break;
            case JsonObject named when ChatRequestParser.AsString(At(named["function"], "name")) is { } name:
                calling["mode"] = "ANY";
                calling["allowedFunctionNames"] = new JsonArray(name);
                break;
            default:
                return (null, Invalid("tool_choice", "'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}"));
        }

        return (new JsonObject { ["functionCallingConfig"] = calling }, null);
    }

    private static GatewayError Invalid(string option, string expected) =>
        GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions, $"providerOptions.{option} must be {expected}.");

    private static string TextOf(JsonNode? content) => Anthropic.AnthropicTranslation.TextOf(content);

    /// <summary>A field of an object, or null when the node is absent or not an object (client JSON may be any shape).</summary>
    private static JsonNode? At(JsonNode? node, string name) => (node as JsonObject)?[name];
}
