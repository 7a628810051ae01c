using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Anthropic;

/// <summary>Anthropic Messages: <c>x-api-key</c>, <c>anthropic-version</c>, top-level <c>system</c>, content blocks.</summary>
internal sealed class AnthropicMessagesAdapter(ProviderHttp http, ProviderEndpoints endpoints) : IProviderAdapter
{
    public const string ApiVersion = "2023-06-01";
    public const int DefaultMaxTokens = 4096;

    private static readonly HashSet<string> Options = new(StringComparer.Ordinal)
    {
        "max_tokens", "temperature", "top_p", "top_k", "stop", "stop_sequences", "tools", "tool_choice", "metadata",
        "thinking", "service_tier",
    };

    private static readonly Dictionary<string, string> Renames = new(StringComparer.Ordinal) { ["stop"] = "stop_sequences" };

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.Anthropic];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = AnthropicTranslation.ToMessagesRequest(call.Model, call.Messages);
        if (error is not null)
        {
            return new ProviderResponse { Error = error };
        }

        var optionsError = ProviderOptionsFilter.Apply(call.Options, body!, Options, "anthropic", Renames);
        if (optionsError is not null)
        {
            return new ProviderResponse { Error = optionsError };
        }

        if (body!["stop_sequences"] is JsonValue single)
        {
            body["stop_sequences"] = new JsonArray(single.DeepClone());
        }

        body["max_tokens"] ??= DefaultMaxTokens;
        return await SendRawAsync(body, call.Credential, cancellationToken);
    }

    /// <summary>Sends a body already in Anthropic's format (the native wrapper route).</summary>
    public async Task<ProviderResponse> SendRawAsync(JsonObject body, ResolvedCredential credential, CancellationToken cancellationToken)
    {
        var url = endpoints.Resolve(ProviderId.Anthropic, "v1/messages");
        var result = await http.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body) };
            Authorize(request, credential);
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

    /// <summary>Anthropic's input_tokens excludes cache reads and writes; ours counts every prompt token.</summary>
    internal static TokenUsage ReadUsage(JsonNode? body)
    {
        if (body?["usage"] is not JsonObject usage)
        {
            return TokenUsage.None;
        }

        var read = OpenAIChatAdapter.Long(usage["cache_read_input_tokens"]);
        var written = OpenAIChatAdapter.Long(usage["cache_creation_input_tokens"]);
        return new TokenUsage
        {
            InputTokens = OpenAIChatAdapter.Long(usage["input_tokens"]) + read + written,
            OutputTokens = OpenAIChatAdapter.Long(usage["output_tokens"]),
            CachedInputTokens = read,
            CacheWriteTokens = written,
            Reported = true,
        };
    }

    private static void Authorize(HttpRequestMessage request, ResolvedCredential credential)
    {
        request.Headers.TryAddWithoutValidation("x-api-key", credential.ApiKey);
        request.Headers.TryAddWithoutValidation("anthropic-version", ApiVersion);
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
