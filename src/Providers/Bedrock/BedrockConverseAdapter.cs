using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Anthropic;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Bedrock;

/// <summary>
/// Amazon Bedrock Converse: <c>POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse</c>, SigV4
/// signed for service <c>bedrock</c> with the workspace's access key (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
/// AWS errors (<c>{"message": …}</c>, type in <c>x-amzn-errortype</c>) map by status: 403 → provider_auth_failed,
/// 429 ThrottlingException → provider_rate_limited, 400 ValidationException → provider_rejected. Streams through
/// <c>converse-stream</c> (see <see cref="BedrockStream"/>).
/// </summary>
internal sealed partial class BedrockConverseAdapter(ProviderHttp http, ProviderEndpoints endpoints, TimeProvider time) : IProviderAdapter, IStreamingProviderAdapter, IChatCompletionsTranslator
{
    public const string SigningService = "bedrock";
    private const string Name = "aws_bedrock";

    private static readonly Dictionary<string, string> InferenceConfigNames = new(StringComparer.Ordinal)
    {
        ["max_tokens"] = "maxTokens",
        ["max_completion_tokens"] = "maxTokens",
        ["temperature"] = "temperature",
        ["top_p"] = "topP",
        ["stop"] = "stopSequences",
    };

    private static readonly HashSet<string> NativeOptions = new(StringComparer.Ordinal)
    {
        "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths",
        "requestMetadata", "performanceConfig",
    };

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.AwsBedrock];

    public bool CanStream(ProviderId provider) => provider == ProviderId.AwsBedrock;

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (createRequest, error) = Prepare(call, "converse");
        if (error is not null)
        {
            return new ProviderResponse { Error = error };
        }

        var result = await http.SendAsync(createRequest!, call.Credential, Name, cancellationToken);
        return result.Error is not null
            ? new ProviderResponse { Error = result.Error, UpstreamStatus = result.Status, Latency = result.Latency }
            : new ProviderResponse
            {
                UpstreamStatus = result.Status,
                Body = result.Body,
                Usage = ReadUsage(result.Body),
                Latency = result.Latency,
            };
    }

    /// <summary><c>POST /model/{modelId}/converse-stream</c>: the same body and signature, answered as AWS's binary event stream.</summary>
    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (createRequest, error) = Prepare(call, "converse-stream");
        return error is not null
            ? new ProviderStreamStart { Error = error }
            : await http.OpenStreamAsync(createRequest!, new BedrockStreamAccumulator(), BedrockStream.WireFormat, call.Credential, Name, cancellationToken);
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => BedrockStream.Replay(response);

    /// <summary>The Converse body, built once, and a fresh SigV4-signed request for each attempt (the signature dates it).</summary>
    private (Func<HttpRequestMessage>? CreateRequest, GatewayError? Error) Prepare(ProviderCall call, string operation)
    {
        var (keys, region, credentialError) = Open(call.Credential);
        if (credentialError is not null)
        {
            return (null, credentialError);
        }

        var (body, error) = BedrockTranslation.ToConverseRequest(call.Messages);
        if (error is not null)
        {
            return (null, error);
        }

        var optionsError = ApplyOptions(call.Options, body!);
        if (optionsError is not null)
        {
            return (null, optionsError);
        }

        var payload = Encoding.UTF8.GetBytes(body!.ToJsonString());
        var url = new Uri(endpoints.BedrockRuntime(region!), $"model/{Uri.EscapeDataString(call.Model.Trim())}/{operation}");
        return (() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(payload) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            SigV4Signer.Sign(request, payload, keys!, region!, SigningService, time.GetUtcNow());
            return request;
        }, null);
    }

    /// <summary>
    /// <c>GET https://bedrock.{region}.amazonaws.com/foundation-models</c> (control plane, free). It needs
    /// <c>bedrock:ListFoundationModels</c>; keys allowed only to invoke get AccessDenied, which AWS returns only after the
    /// signature checked out — so that answer still proves the keys and is reported as a pass with a note.
    /// </summary>
    public async Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var (keys, region, credentialError) = Open(credential);
        if (credentialError is not null)
        {
            return new CredentialTestResult(false, 0, null, credentialError.Message);
        }

        var url = new Uri(endpoints.BedrockControl(region!), "foundation-models");
        var result = await http.TestAsync(() =>
        {
            var request = ProviderHttp.Get(url);
            SigV4Signer.Sign(request, [], keys!, region!, SigningService, time.GetUtcNow());
            return request;
        }, credential, Name, cancellationToken);

        if (!result.Ok && result.ProviderStatus == 403 && result.Message.Contains("is not authorized to perform", StringComparison.Ordinal))
        {
            return result with
            {
                Ok = true,
                Message = "AWS accepted the keys' signature; they may not list foundation models (bedrock:ListFoundationModels), "
                    + "which chat does not need — chat needs bedrock:InvokeModel on the models you call.",
            };
        }

        return result;
    }

    /// <summary>
    /// A Converse answer (<c>output.message.content[]</c> of text and toolUse blocks, <c>stopReason</c>, <c>usage</c>)
    /// as an OpenAI chat.completion.
    /// </summary>
    public JsonObject ToChatCompletion(JsonNode response, string model)
    {
        var text = new System.Text.StringBuilder();
        var calls = new JsonArray();
        var content = ChatRequestParser.Field(ChatRequestParser.Field(response["output"], "message"), "content") as JsonArray;
        foreach (var block in content?.OfType<JsonObject>() ?? [])
        {
            if (ChatRequestParser.AsString(block["text"]) is { } blockText)
            {
                text.Append(blockText);
            }
            else if (block["toolUse"] is JsonObject toolUse)
            {
                calls.Add(ChatCompletionShapes.ToolCall(ChatRequestParser.AsString(toolUse["toolUseId"]), ChatRequestParser.AsString(toolUse["name"]),
                    (toolUse["input"] ?? new JsonObject()).ToJsonString()));
            }
        }

        var finish = BedrockChatCompletions.FinishReason(ChatRequestParser.AsString(response["stopReason"]));
        var choice = ChatCompletionShapes.Choice(0, text.Length == 0 && calls.Count > 0 ? null : text.ToString(), calls, finish);
        return ChatCompletionShapes.Completion(null, model, [choice], ReadUsage(response));
    }

    public IChatCompletionChunkTranslator? CreateChunkTranslator(string model, bool includeUsage) =>
        new BedrockChatCompletions.ChunkTranslator(model, includeUsage);

    /// <summary>
    /// Converse usage: <c>inputTokens</c> excludes cache reads and writes; ours counts every prompt token.
    /// <c>inputTokens</c> and <c>outputTokens</c> are required, the cache counts may be absent. Read strictly (<see cref="UsageReader"/>).
    /// </summary>
    internal static TokenUsage ReadUsage(JsonNode? body)
    {
        if (body?["usage"] is not JsonObject usage)
        {
            return TokenUsage.None;
        }

        var reader = new UsageReader(usage);
        var read = reader.Optional("cacheReadInputTokens");
        var written = reader.Optional("cacheWriteInputTokens");
        return reader.Result(new TokenUsage
        {
            InputTokens = reader.Required("inputTokens") + read + written,
            OutputTokens = reader.Required("outputTokens"),
            CachedInputTokens = read,
            CacheWriteTokens = written,
        });
    }

    /// <summary>
    /// OpenAI-style names → <c>inferenceConfig</c> (over a native one), OpenAI <c>tools</c>/<c>tool_choice</c> →
    /// <c>toolConfig</c>; Converse's own fields pass unchanged.
    /// </summary>
    internal static GatewayError? ApplyOptions(JsonObject? options, JsonObject body)
    {
        if (options is null || options.Count == 0)
        {
            return null;
        }

        foreach (var (name, _) in options)
        {
            if (!InferenceConfigNames.ContainsKey(name) && !NativeOptions.Contains(name) && name is not ("tools" or "tool_choice"))
            {
                var allowed = InferenceConfigNames.Keys.Concat(NativeOptions).Append("tools").Append("tool_choice").Order(StringComparer.Ordinal);
                return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions,
                    $"providerOptions.{name} is not an option {Name} takes here. Allowed: {string.Join(", ", allowed)}.");
            }
        }

        foreach (var name in NativeOptions)
        {
            if (options[name] is { } value)
            {
                body[name] = value.DeepClone();
            }
        }

        var inference = body["inferenceConfig"] as JsonObject ?? new JsonObject();
        foreach (var (name, target) in InferenceConfigNames)
        {
            if (options[name] is { } value)
            {
                inference[target] = name == "stop" && value is JsonValue single ? new JsonArray(single.DeepClone()) : value.DeepClone();
            }
        }

        if (inference.Count > 0)
        {
            body["inferenceConfig"] = inference;
        }

        if (options["tools"] is { } tools)
        {
            if (tools is not JsonArray list)
            {
                return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions, "providerOptions.tools must be an array.");
            }

            var toolConfig = body["toolConfig"] as JsonObject ?? new JsonObject();
            toolConfig["tools"] = BedrockTranslation.Tools(list);
            body["toolConfig"] = toolConfig;
        }

        if (options["tool_choice"] is { } choice)
        {
            var (toolChoice, error) = BedrockTranslation.ToolChoice(choice);
            if (error is not null)
            {
                return error;
            }

            if (toolChoice is not null)
            {
                var toolConfig = body["toolConfig"] as JsonObject ?? new JsonObject();
                toolConfig["toolChoice"] = toolChoice;
                body["toolConfig"] = toolConfig;
            }
        }

        return null;
    }

    private static (AwsKeys? Keys, string? Region, GatewayError? Error) Open(ResolvedCredential credential)
    {
        var region = credential.GetConfig("region")?.Trim();
        if (region is null || !RegionPattern().IsMatch(region))
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, "aws_bedrock needs config.region, an AWS region such as us-east-1."));
        }

        var accessKeyId = credential.Secrets.GetValueOrDefault("accessKeyId");
        var secret = credential.Secrets.GetValueOrDefault("secretAccessKey");
        if (string.IsNullOrWhiteSpace(accessKeyId) || string.IsNullOrWhiteSpace(secret))
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, "aws_bedrock needs secrets.accessKeyId and secrets.secretAccessKey."));
        }

        return (new AwsKeys(accessKeyId.Trim(), secret.Trim(), credential.Secrets.GetValueOrDefault("sessionToken")?.Trim()), region, null);
    }

    /// <summary>The region goes into a host name, so only region-shaped values: <c>us-east-1</c>, <c>us-gov-west-1</c>, …</summary>
    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();
}

/// <summary>OpenAI-style messages → a Converse request (<c>messages</c>, <c>system</c>).</summary>
internal static class BedrockTranslation
{
    /// <summary>
    /// system/developer → <c>system[].text</c>; user → <c>user</c> with text and image (bytes) blocks; assistant →
    /// <c>assistant</c> with text and <c>toolUse</c> blocks; tool → <c>toolResult</c> blocks in a <c>user</c> message.
    /// Consecutive messages of one role are merged, since Converse wants the roles to alternate.
    /// </summary>
    public static (JsonObject? Body, GatewayError? Error) ToConverseRequest(IReadOnlyList<JsonObject> messages)
    {
        var system = new JsonArray();
        var output = new JsonArray();
        foreach (var message in messages)
        {
            var role = ChatRequestParser.AsString(message["role"])!;
            if (role is "system" or "developer")
            {
                var text = AnthropicTranslation.TextOf(message["content"]);
                if (text.Length > 0)
                {
                    system.Add(new JsonObject { ["text"] = text });
                }

                continue;
            }

            var (blocks, error) = role switch
            {
                "tool" => (new JsonArray(ToolResult(message)), (GatewayError?)null),
                "assistant" => AssistantBlocks(message),
                _ => UserBlocks(message["content"]),
            };
            if (error is not null)
            {
                return (null, error);
            }

            if (blocks!.Count == 0)
            {
                continue;
            }

            var converseRole = role == "assistant" ? "assistant" : "user";
            if (output.Count > 0 && output[^1] is JsonObject previous && ChatRequestParser.AsString(previous["role"]) == converseRole
                && previous["content"] is JsonArray previousBlocks)
            {
                foreach (var block in blocks.ToList())
                {
                    blocks.Remove(block);
                    previousBlocks.Add(block);
                }
            }
            else
            {
                output.Add(new JsonObject { ["role"] = converseRole, ["content"] = blocks });
            }
        }

        if (output.Count == 0)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "aws_bedrock needs at least one user or assistant message besides the system prompt."));
        }

        var body = new JsonObject { ["messages"] = output };
        if (system.Count > 0)
        {
            body["system"] = system;
        }

        return (body, null);
    }

    /// <summary>OpenAI function tools → <c>toolSpec</c>s; Converse-native tools (<c>toolSpec</c>, <c>cachePoint</c>) pass unchanged.</summary>
    public static JsonArray Tools(JsonArray tools)
    {
        var result = new JsonArray();
        foreach (var tool in tools)
        {
            if (tool is JsonObject openAi && ChatRequestParser.AsString(openAi["type"]) == "function" && openAi["function"] is JsonObject function)
            {
                var spec = new JsonObject { ["name"] = function["name"]?.DeepClone() };
                if (function["description"] is { } description)
                {
                    spec["description"] = description.DeepClone();
                }

                spec["inputSchema"] = new JsonObject
                {
                    ["json"] = function["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
                };
                result.Add(new JsonObject { ["toolSpec"] = spec });
            }
            else
            {
                result.Add(tool?.DeepClone());
            }
        }

        return result;
    }

    /// <summary><c>auto</c> → <c>{auto:{}}</c>, <c>required</c> → <c>{any:{}}</c>, a named function → <c>{tool:{name}}</c>; <c>none</c> sets nothing (Converse has no "none").</summary>
    public static (JsonObject? Choice, GatewayError? Error) ToolChoice(JsonNode choice)
    {
        switch (choice)
        {
            case JsonValue when ChatRequestParser.AsString(choice) is { } mode && mode is "auto" or "required" or "none":
                return (mode switch
                {
                    "auto" => new JsonObject { ["auto"] = new JsonObject() },
                    "required" => new JsonObject { ["any"] = new JsonObject() },
                    _ => null,
                }, null);
            case JsonObject named when ChatRequestParser.AsString(At(named["function"], "name")) is { } name:
                return (new JsonObject { ["tool"] = new JsonObject { ["name"] = name } }, null);
            case JsonObject native when native.ContainsKey("auto") || native.ContainsKey("any") || native.ContainsKey("tool"):
                return ((JsonObject)native.DeepClone(), null);
            default:
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions,
                    "providerOptions.tool_choice must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}."));
        }
    }

    private static (JsonArray? Blocks, GatewayError? Error) UserBlocks(JsonNode? content)
    {
        if (content is not JsonArray parts)
        {
            var text = ChatRequestParser.AsString(content) ?? string.Empty;
            return (text.Length == 0 ? [] : new JsonArray(new JsonObject { ["text"] = text }), null);
        }

        var blocks = new JsonArray();
        foreach (var part in parts.OfType<JsonObject>())
        {
            switch (ChatRequestParser.AsString(part["type"]))
            {
                case "text":
                    if (ChatRequestParser.AsString(part["text"]) is { Length: > 0 } text)
                    {
                        blocks.Add(new JsonObject { ["text"] = text });
                    }

                    break;
                case "image_url":
                    var url = ChatRequestParser.AsString(At(part["image_url"], "url")) ?? ChatRequestParser.AsString(part["image_url"]) ?? string.Empty;
                    var image = ImageBlock(url);
                    if (image is null)
                    {
                        return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages,
                            "aws_bedrock takes images as bytes: send image_url.url as a data:image/(png|jpeg|gif|webp);base64,… URL."));
                    }

                    blocks.Add(image);
                    break;
                default:
                    return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, $"Content part type '{part["type"]}' cannot be sent to aws_bedrock."));
            }
        }

        return (blocks, null);
    }

    private static (JsonArray? Blocks, GatewayError? Error) AssistantBlocks(JsonObject message)
    {
        var blocks = new JsonArray();
        var text = AnthropicTranslation.TextOf(message["content"]);
        if (text.Length > 0)
        {
            blocks.Add(new JsonObject { ["text"] = text });
        }

        if (message["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                JsonNode? input;
                try
                {
                    var arguments = ChatRequestParser.AsString(At(call["function"], "arguments"));
                    input = string.IsNullOrWhiteSpace(arguments) ? new JsonObject() : JsonNode.Parse(arguments);
                }
                catch (JsonException)
                {
                    return (null, GatewayError.BadRequest(ErrorCodes.InvalidMessages, "tool_calls[].function.arguments must be a JSON object string."));
                }

                blocks.Add(new JsonObject
                {
                    ["toolUse"] = new JsonObject
                    {
                        ["toolUseId"] = call["id"]?.DeepClone(),
                        ["name"] = At(call["function"], "name")?.DeepClone(),
                        ["input"] = input ?? new JsonObject(),
                    },
                });
            }
        }

        return (blocks, null);
    }

    /// <summary>A tool's answer: a JSON object or array as a <c>json</c> block, anything else as <c>text</c>.</summary>
    private static JsonObject ToolResult(JsonObject message)
    {
        var text = AnthropicTranslation.TextOf(message["content"]);
        JsonNode? parsed = null;
        try
        {
            parsed = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (JsonException)
        {
            parsed = null;
        }

        var content = parsed is JsonObject or JsonArray
            ? new JsonObject { ["json"] = parsed }
            : new JsonObject { ["text"] = text };
        return new JsonObject
        {
            ["toolResult"] = new JsonObject { ["toolUseId"] = message["tool_call_id"]?.DeepClone(), ["content"] = new JsonArray(content) },
        };
    }

    private static JsonObject? ImageBlock(string url)
    {
        const string prefix = "data:image/";
        var at = url.IndexOf(";base64,", StringComparison.Ordinal);
        if (!url.StartsWith(prefix, StringComparison.Ordinal) || at < prefix.Length)
        {
            return null;
        }

        var format = url[prefix.Length..at] switch
        {
            "jpg" or "jpeg" => "jpeg",
            "png" => "png",
            "gif" => "gif",
            "webp" => "webp",
            _ => null,
        };
        return format is null
            ? null
            : new JsonObject { ["image"] = new JsonObject { ["format"] = format, ["source"] = new JsonObject { ["bytes"] = url[(at + 8)..] } } };
    }

    /// <summary>A field of an object, or null when the node is absent or not an object (client JSON may be any shape).</summary>
    private static JsonNode? At(JsonNode? node, string name) => (node as JsonObject)?[name];
}
