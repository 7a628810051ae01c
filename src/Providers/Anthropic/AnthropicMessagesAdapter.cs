using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Anthropic;

/// <summary>Anthropic Messages: <c>x-api-key</c>, <c>anthropic-version</c>, top-level <c>system</c>, content blocks.</summary>
internal sealed class AnthropicMessagesAdapter(ProviderHttp http, ProviderEndpoints endpoints)
    : IProviderAdapter, IStreamingProviderAdapter, IChatCompletionsTranslator
{
    public const string ApiVersion = "2023-06-01";
    public const int DefaultMaxTokens = 4096;

    private static readonly HashSet<string> Options = new(StringComparer.Ordinal)
    {
        "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "stop_sequences", "tools", "tool_choice",
        "metadata", "thinking", "service_tier",
    };

    private static readonly Dictionary<string, string> Renames = new(StringComparer.Ordinal)
    {
        ["stop"] = "stop_sequences",
        ["max_completion_tokens"] = "max_tokens",
    };

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.Anthropic];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = BuildBody(call);
        return error is not null
            ? new ProviderResponse { Error = error }
            : await SendRawAsync(body!, call.Credential, cancellationToken, call.NativeHeaders);
    }

    public bool CanStream(ProviderId provider) => provider == ProviderId.Anthropic;

    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = BuildBody(call);
        if (error is not null)
        {
            return new ProviderStreamStart { Error = error };
        }

        body!["stream"] = true;
        var url = endpoints.Resolve(ProviderId.Anthropic, "v1/messages");
        return await http.OpenStreamAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body) };
            Authorize(request, call.Credential, call.NativeHeaders);
            return request;
        }, new AnthropicStreamAccumulator(), call.Credential, "anthropic", cancellationToken);
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => AnthropicStream.Replay(response);

    public JsonObject ToChatCompletion(JsonNode response, string model) => AnthropicChatCompletions.ToChatCompletion(response, model);

    public IChatCompletionChunkTranslator CreateChunkTranslator(string model, bool includeUsage) =>
        new AnthropicChatCompletions.ChunkTranslator(model, includeUsage);

    /// <summary>
    /// The Messages body: the client's native body (the Anthropic wrapper) with the final model set, or OpenAI-style
    /// messages and options translated (system to the top level, OpenAI tools to Anthropic's, stop to stop_sequences).
    /// </summary>
    private static (JsonObject? Body, GatewayError? Error) BuildBody(ProviderCall call)
    {
        if (call.NativeBody is not null)
        {
            var native = call.NativeBody.DeepClone().AsObject();
            native["model"] = call.Model;
            native.Remove("stream");
            return (native, null);
        }

        var (body, error) = AnthropicTranslation.ToMessagesRequest(call.Model, call.Messages);
        if (error is not null)
        {
            return (null, error);
        }

        var optionsError = ProviderOptionsFilter.Apply(call.Options, body!, Options, "anthropic", Renames)
            ?? AnthropicTranslation.TranslateTools(body!);
        if (optionsError is not null)
        {
            return (null, optionsError);
        }

        if (body!["stop_sequences"] is JsonValue single)
        {
            body["stop_sequences"] = new JsonArray(single.DeepClone());
        }

        body["max_tokens"] ??= DefaultMaxTokens;
        return (body, null);
    }

    /// <summary>Sends a body already in Anthropic's format (the native wrapper route).</summary>
    public async Task<ProviderResponse> SendRawAsync(JsonObject body, ResolvedCredential credential, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? nativeHeaders = null)
    {
        var url = endpoints.Resolve(ProviderId.Anthropic, "v1/messages");
        var result = await http.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body) };
            Authorize(request, credential, nativeHeaders);
            return request;
        }, credential, "anthropic", cancellationToken);

        return result.Error is not null
            ? new ProviderResponse { Error = result.Error, UpstreamStatus = result.Status, Latency = result.Latency }
            : new ProviderResponse
            {
                UpstreamStatus = result.Status,
                Body = result.Body,
                Usage = ReadUsage(result.Body),
                Latency = result.Latency,
                ReportedModel = ChatRequestParser.AsString(result.Body?["model"]),
            };
    }

    public Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var url = endpoints.Resolve(ProviderId.Anthropic, "v1/models?limit=1");
        return http.TestAsync(() =>
        {
            var request = ProviderHttp.Get(url);
            Authorize(request, credential);
            return request;
        }, credential, "anthropic", cancellationToken);
    }

    /// <summary>
    /// Anthropic's input_tokens excludes cache reads and writes; ours counts every prompt token. <c>input_tokens</c> and
    /// <c>output_tokens</c> are required, the cache counts may be absent. Read strictly (<see cref="UsageReader"/>).
    /// </summary>
    internal static TokenUsage ReadUsage(JsonNode? body)
    {
        if (body?["usage"] is not JsonObject usage)
        {
            return TokenUsage.None;
        }

        var reader = new UsageReader(usage);
        var read = reader.Optional("cache_read_input_tokens");
        var written = reader.Optional("cache_creation_input_tokens");
        return reader.Result(new TokenUsage
        {
            InputTokens = reader.Required("input_tokens") + read + written,
            OutputTokens = reader.Required("output_tokens"),
            CachedInputTokens = read,
            CacheWriteTokens = written,
        });
    }

    private static void Authorize(HttpRequestMessage request, ResolvedCredential credential, IReadOnlyDictionary<string, string>? nativeHeaders = null)
    {
        request.Headers.TryAddWithoutValidation("x-api-key", credential.ApiKey);
        request.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
        if (nativeHeaders is not null && nativeHeaders.TryGetValue("anthropic-beta", out var beta))
        {
            request.Headers.TryAddWithoutValidation("anthropic-beta", beta);
        }
    }
}

/// <summary>OpenAI-style messages → Anthropic Messages request.</summary>
internal static class AnthropicTranslation
{
    public static (JsonObject? Body, GatewayError? Error) ToMessagesRequest(string model, IReadOnlyList<JsonObject> messages)
    {
        var system = new List<string>();
        var output = new JsonArray();
        foreach (var message in messages)
        {
            var role = ChatRequestParser.AsString(message["role"])!;
            switch (role)
            {
                case "system" or "developer":
                    system.Add(TextOf(message["content"]));
                    break;
                case "tool":
                    output.Add(new JsonObject
                    {
                        ["role"] = "user",
                        ["content"] = new JsonArray(new JsonObject
                        {
                            ["type"] = "tool_result",
                            ["tool_use_id"] = message["tool_call_id"]?.DeepClone(),
                            ["content"] = TextOf(message["content"]),
                        }),
                    });
                    break;
                default:
                    var (blocks, error) = Blocks(message);
                    if (error is not null)
                    {
                        return (null, error);
                    }

                    output.Add(new JsonObject { ["role"] = role, ["content"] = blocks });
                    break;
            }
        }

        if (output.Count == 0)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "Anthropic needs at least one user or assistant message besides the system prompt."));
        }

        var body = new JsonObject { ["model"] = model };
        if (system.Count > 0)
        {
            body["system"] = string.Join("\n\n", system);
        }

        body["messages"] = output;
        return (body, null);
    }

    /// <summary>
    /// OpenAI-style <c>tools</c> (<c>{type: "function", function: {name, description, parameters}}</c>) become Anthropic's
    /// <c>{name, description, input_schema}</c>, and <c>tool_choice</c> strings and <c>{type: "function"}</c> objects
    /// Anthropic's choice objects; tools already in Anthropic's shape pass unchanged.
    /// </summary>
    public static GatewayError? TranslateTools(JsonObject body)
    {
        if (body["tools"] is { } tools)
        {
            if (tools is not JsonArray list)
            {
                return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions, "providerOptions.tools must be an array.");
            }

            var translated = new JsonArray();
            foreach (var tool in list)
            {
                if (tool is JsonObject openAi && ChatRequestParser.AsString(openAi["type"]) == "function" && openAi["function"] is JsonObject function)
                {
                    var anthropic = new JsonObject { ["name"] = function["name"]?.DeepClone() };
                    if (function["description"] is { } description)
                    {
                        anthropic["description"] = description.DeepClone();
                    }

                    anthropic["input_schema"] = function["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
                    translated.Add(anthropic);
                }
                else
                {
                    translated.Add(tool?.DeepClone());
                }
            }

            body["tools"] = translated;
        }

        switch (body["tool_choice"])
        {
            case JsonValue value when ChatRequestParser.AsString(value) is { } mode:
                body["tool_choice"] = mode switch
                {
                    "auto" => new JsonObject { ["type"] = "auto" },
                    "required" => new JsonObject { ["type"] = "any" },
                    "none" => new JsonObject { ["type"] = "none" },
                    _ => null,
                };
                if (body["tool_choice"] is null)
                {
                    return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions, "providerOptions.tool_choice must be 'auto', 'none', 'required' or an object.");
                }

                break;
            case JsonObject choice when ChatRequestParser.AsString(choice["type"]) == "function":
                body["tool_choice"] = new JsonObject
                {
                    ["type"] = "tool",
                    ["name"] = ChatRequestParser.Field(choice["function"], "name")?.DeepClone(),
                };
                break;
        }

        return null;
    }

    private static (JsonNode? Blocks, GatewayError? Error) Blocks(JsonObject message)
    {
        var content = message["content"];
        var blocks = new JsonArray();
        if (content is JsonArray parts)
        {
            foreach (var part in parts.OfType<JsonObject>())
            {
                switch (ChatRequestParser.AsString(part["type"]))
                {
                    case "text":
                        blocks.Add(new JsonObject { ["type"] = "text", ["text"] = part["text"]?.DeepClone() });
                        break;
                    case "image_url":
                        var url = ChatRequestParser.AsString(ChatRequestParser.Field(part["image_url"], "url")) ?? string.Empty;
                        blocks.Add(ImageBlock(url));
                        break;
                    default:
                        return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"Content part type '{part["type"]}' cannot be sent to Anthropic."));
                }
            }
        }
        else if (ChatRequestParser.AsString(content) is { } text)
        {
            if (message["tool_calls"] is null)
            {
                return (JsonValue.Create(text), null);
            }

            if (text.Length > 0)
            {
                blocks.Add(new JsonObject { ["type"] = "text", ["text"] = text });
            }
        }

        if (message["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                var arguments = ChatRequestParser.AsString(ChatRequestParser.Field(call["function"], "arguments")) ?? "{}";
                JsonNode? input;
                try
                {
                    input = JsonNode.Parse(arguments);
                }
                catch (System.Text.Json.JsonException)
                {
                    return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "tool_calls[].function.arguments must be a JSON object string."));
                }

                blocks.Add(new JsonObject
                {
                    ["type"] = "tool_use",
                    ["id"] = call["id"]?.DeepClone(),
                    ["name"] = ChatRequestParser.Field(call["function"], "name")?.DeepClone(),
                    ["input"] = input ?? new JsonObject(),
                });
            }
        }

        return (blocks, null);
    }

    private static JsonObject ImageBlock(string url)
    {
        // data:[mime];base64,xxxx → base64 source; anything else → url source.
        if (url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(";base64,", StringComparison.Ordinal) is var at and > 5)
        {
            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = url[5..at], ["data"] = url[(at + 8)..] },
            };
        }

        return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
    }

    public static string TextOf(JsonNode? content) => content switch
    {
        JsonArray parts => string.Join("\n", parts.OfType<JsonObject>().Select(p => ChatRequestParser.AsString(p["text"])).Where(t => t is not null)),
        _ => ChatRequestParser.AsString(content) ?? string.Empty,
    };
}
