using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Anthropic;

/// <summary>
/// Messages streaming (docs.anthropic.com/en/docs/build-with-claude/streaming): <c>message_start</c> (input usage),
/// <c>content_block_start/delta/stop</c>, <c>message_delta</c> (stop reason, output usage), <c>message_stop</c>;
/// <c>ping</c> keep-alives and <c>error</c> events in between.
/// </summary>
internal static class AnthropicStream
{
    /// <summary>The HTTP status Anthropic uses for each error type (docs.anthropic.com/en/api/errors).</summary>
    public static int StatusOf(string? errorType) => errorType switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };

    /// <summary>A stored message as the events Anthropic would have streamed for it.</summary>
    public static IReadOnlyList<ServerSentEvent> Replay(JsonNode response)
    {
        var message = response as JsonObject ?? new JsonObject();
        var events = new List<ServerSentEvent>();
        void Add(string type, JsonObject data)
        {
            var body = new JsonObject { ["type"] = type };
            foreach (var (key, value) in data)
            {
                body[key] = value?.DeepClone();
            }

            events.Add(ServerSentEvent.Json(type, body));
        }

        var start = message.DeepClone().AsObject();
        start["content"] = new JsonArray();
        start["stop_reason"] = null;
        start["stop_sequence"] = null;
        var usage = message["usage"] as JsonObject ?? new JsonObject();
        var startUsage = usage.DeepClone().AsObject();
        startUsage["output_tokens"] = Math.Min(1, OpenAIChatAdapter.Long(usage["output_tokens"]));
        start["usage"] = startUsage;
        Add("message_start", new JsonObject { ["message"] = start });

        var index = 0;
        foreach (var block in (message["content"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var type = ChatRequestParser.AsString(block["type"]);
            var (opening, delta) = type switch
            {
                "text" => (new JsonObject { ["type"] = "text", ["text"] = "" },
                    new JsonObject { ["type"] = "text_delta", ["text"] = block["text"]?.DeepClone() }),
                "tool_use" => (new JsonObject { ["type"] = "tool_use", ["id"] = block["id"]?.DeepClone(), ["name"] = block["name"]?.DeepClone(), ["input"] = new JsonObject() },
                    new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = (block["input"] ?? new JsonObject()).ToJsonString() }),
                "thinking" => (new JsonObject { ["type"] = "thinking", ["thinking"] = "" },
                    new JsonObject { ["type"] = "thinking_delta", ["thinking"] = block["thinking"]?.DeepClone() }),
                _ => (block.DeepClone().AsObject(), null),
            };
            Add("content_block_start", new JsonObject { ["index"] = index, ["content_block"] = opening });
            if (delta is not null)
            {
                Add("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = delta });
            }

            if (type == "thinking" && block["signature"] is { } signature)
            {
                Add("content_block_delta", new JsonObject { ["index"] = index, ["delta"] = new JsonObject { ["type"] = "signature_delta", ["signature"] = signature.DeepClone() } });
            }

            Add("content_block_stop", new JsonObject { ["index"] = index });
            index++;
        }

        Add("message_delta", new JsonObject
        {
            ["delta"] = new JsonObject { ["stop_reason"] = message["stop_reason"]?.DeepClone(), ["stop_sequence"] = message["stop_sequence"]?.DeepClone() },
            ["usage"] = new JsonObject { ["output_tokens"] = usage["output_tokens"]?.DeepClone() ?? 0 },
        });
        Add("message_stop", new JsonObject());
        return events;
    }
}

/// <summary>Reads a Messages stream: usage, message_stop, error events, and the message it adds up to.</summary>
internal sealed class AnthropicStreamAccumulator : IStreamAccumulator
{
    private readonly SortedDictionary<int, JsonObject> _blocks = [];
    private readonly Dictionary<int, StringBuilder> _partialJson = [];
    private readonly Dictionary<(int Index, string Field), StringBuilder> _blockText = [];
    private readonly StringBuilder _text = new();
    private readonly JsonObject _usage = [];
    private JsonObject? _message;

    public bool Completed { get; private set; }

    public TokenUsage Usage => _usage.Count == 0 ? TokenUsage.None : AnthropicMessagesAdapter.ReadUsage(new JsonObject { ["usage"] = _usage.DeepClone() });

    public (int Status, JsonNode? Body)? ProviderError { get; private set; }

    public string OutputText => _text.ToString();

    public string? ReportedModel => ChatRequestParser.AsString(_message?["model"]);

    public bool Observe(ServerSentEvent sse)
    {
        if (sse.DataAsObject() is not { } data)
        {
            return true;
        }

        var index = (int)OpenAIChatAdapter.Long(data["index"]);
        switch (sse.Name ?? ChatRequestParser.AsString(data["type"]))
        {
            case "message_start":
                _message = (data["message"] as JsonObject)?.DeepClone().AsObject() ?? new JsonObject();
                MergeUsage(_message["usage"]);
                break;
            case "content_block_start":
                _blocks[index] = (data["content_block"] as JsonObject)?.DeepClone().AsObject() ?? new JsonObject();
                break;
            case "content_block_delta":
                ApplyDelta(index, data["delta"] as JsonObject);
                break;
            case "content_block_stop":
                if (_partialJson.Remove(index, out var json) && _blocks.TryGetValue(index, out var toolBlock))
                {
                    try
                    {
                        toolBlock["input"] = json.Length == 0 ? new JsonObject() : JsonNode.Parse(json.ToString());
                    }
                    catch (JsonException)
                    {
                        toolBlock["input"] = json.ToString();
                    }
                }

                break;
            case "message_delta":
                if (_message is not null && data["delta"] is JsonObject delta)
                {
                    foreach (var (key, value) in delta)
                    {
                        _message[key] = value?.DeepClone();
                    }
                }

                MergeUsage(data["usage"]);
                break;
            case "message_stop":
                Completed = true;
                break;
            case "error":
                ProviderError = (AnthropicStream.StatusOf(ChatRequestParser.AsString(ChatRequestParser.Field(data["error"], "type"))), data);
                return false;
        }

        return true;
    }

    public JsonNode Assemble()
    {
        var message = _message?.DeepClone().AsObject() ?? new JsonObject { ["type"] = "message", ["role"] = "assistant" };
        var content = new JsonArray();
        foreach (var (index, block) in _blocks)
        {
            var copy = block.DeepClone().AsObject();
            foreach (var field in new[] { "text", "thinking" })
            {
                if (_blockText.TryGetValue((index, field), out var text))
                {
                    copy[field] = (ChatRequestParser.AsString(copy[field]) ?? string.Empty) + text;
                }
            }

            content.Add(copy);
        }

        message["content"] = content;
        message["usage"] = _usage.DeepClone();
        return message;
    }

    private void ApplyDelta(int index, JsonObject? delta)
    {
        if (delta is null || !_blocks.TryGetValue(index, out var block))
        {
            return;
        }

        switch (ChatRequestParser.AsString(delta["type"]))
        {
            case "text_delta":
                Append(index, "text", ChatRequestParser.AsString(delta["text"]));
                break;
            case "thinking_delta":
                Append(index, "thinking", ChatRequestParser.AsString(delta["thinking"]));
                break;
            case "signature_delta":
                block["signature"] = delta["signature"]?.DeepClone();
                break;
            case "input_json_delta":
                var partial = ChatRequestParser.AsString(delta["partial_json"]) ?? string.Empty;
                (_partialJson.TryGetValue(index, out var json) ? json : _partialJson[index] = new StringBuilder()).Append(partial);
                _text.Append(partial);
                break;
            case "citations_delta":
                if (delta["citation"] is { } citation)
                {
                    (block["citations"] as JsonArray ?? (JsonArray)(block["citations"] = new JsonArray())).Add(citation.DeepClone());
                }

                break;
        }
    }

    private void Append(int index, string field, string? text)
    {
        if (text is null)
        {
            return;
        }

        (_blockText.TryGetValue((index, field), out var builder) ? builder : _blockText[(index, field)] = new StringBuilder()).Append(text);
        _text.Append(text);
    }

    /// <summary>
    /// message_start carries the input side; message_delta the cumulative output (and, lately, the input again, null
    /// where unchanged). A null <c>output_tokens</c> is kept: it is the final count, and null is not one (it must not
    /// leave message_start's placeholder standing as the output).
    /// </summary>
    private void MergeUsage(JsonNode? usage)
    {
        if (usage is not JsonObject fields)
        {
            return;
        }

        foreach (var (key, value) in fields)
        {
            if (value is not null && value.GetValueKind() != JsonValueKind.Null)
            {
                _usage[key] = value.DeepClone();
            }
            else if (key == "output_tokens")
            {
                _usage[key] = null;
            }
        }
    }
}
