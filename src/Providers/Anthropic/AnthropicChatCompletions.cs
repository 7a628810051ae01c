using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Anthropic;

/// <summary>Anthropic messages (and their stream) as OpenAI chat completions, for the OpenAI-compatible routes.</summary>
internal static class AnthropicChatCompletions
{
    public static string FinishReason(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };

    public static JsonObject ToChatCompletion(JsonNode response, string model)
    {
        var text = new List<string>();
        var calls = new JsonArray();
        foreach (var block in (response["content"] as JsonArray ?? []).OfType<JsonObject>())
        {
            switch (ChatRequestParser.AsString(block["type"]))
            {
                case "text":
                    text.Add(ChatRequestParser.AsString(block["text"]) ?? string.Empty);
                    break;
                case "tool_use":
                    calls.Add(ChatCompletionShapes.ToolCall(ChatRequestParser.AsString(block["id"]), ChatRequestParser.AsString(block["name"]),
                        (block["input"] ?? new JsonObject()).ToJsonString()));
                    break;
            }
        }

        var content = text.Count == 0 && calls.Count > 0 ? null : string.Concat(text);
        var choice = ChatCompletionShapes.Choice(0, content, calls, FinishReason(ChatRequestParser.AsString(response["stop_reason"])));
        return ChatCompletionShapes.Completion(ChatRequestParser.AsString(response["id"]), ChatRequestParser.AsString(response["model"]) ?? model,
            [choice], AnthropicMessagesAdapter.ReadUsage(response));
    }

    /// <summary>message_start → role chunk, text deltas → content, tool_use blocks → tool_calls deltas, message_delta → finish_reason.</summary>
    public sealed class ChunkTranslator(string model, bool includeUsage) : IChatCompletionChunkTranslator
    {
        private readonly Dictionary<int, int> _toolIndexes = [];
        private readonly long _created = ChatCompletionShapes.Now();
        private string _id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        private string? _model = model;

        public IReadOnlyList<JsonObject> Translate(ServerSentEvent providerEvent)
        {
            if (providerEvent.DataAsObject() is not { } data)
            {
                return [];
            }

            var index = (int)OpenAIChatAdapter.Long(data["index"]);
            switch (providerEvent.Name ?? ChatRequestParser.AsString(data["type"]))
            {
                case "message_start":
                    _id = ChatRequestParser.AsString(ChatRequestParser.Field(data["message"], "id")) ?? _id;
                    _model = ChatRequestParser.AsString(ChatRequestParser.Field(data["message"], "model")) ?? _model;
                    return [Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" })];
                case "content_block_start" when data["content_block"] is JsonObject block:
                    var type = ChatRequestParser.AsString(block["type"]);
                    if (type == "tool_use")
                    {
                        var toolIndex = _toolIndexes[index] = _toolIndexes.Count;
                        return [Chunk(new JsonObject
                        {
                            ["tool_calls"] = new JsonArray(new JsonObject
                            {
                                ["index"] = toolIndex,
                                ["id"] = block["id"]?.DeepClone(),
                                ["type"] = "function",
                                ["function"] = new JsonObject { ["name"] = block["name"]?.DeepClone(), ["arguments"] = "" },
                            }),
                        })];
                    }

                    return type == "text" && ChatRequestParser.AsString(block["text"]) is { Length: > 0 } opening
                        ? [Chunk(new JsonObject { ["content"] = opening })]
                        : [];
                case "content_block_delta" when data["delta"] is JsonObject delta:
                    switch (ChatRequestParser.AsString(delta["type"]))
                    {
                        case "text_delta":
                            return [Chunk(new JsonObject { ["content"] = delta["text"]?.DeepClone() })];
                        case "input_json_delta" when _toolIndexes.TryGetValue(index, out var call):
                            return [Chunk(new JsonObject
                            {
                                ["tool_calls"] = new JsonArray(new JsonObject
                                {
                                    ["index"] = call,
                                    ["function"] = new JsonObject { ["arguments"] = delta["partial_json"]?.DeepClone() },
                                }),
                            })];
                        default:
                            return [];
                    }

                case "message_delta":
                    var stop = ChatRequestParser.AsString(ChatRequestParser.Field(data["delta"], "stop_reason"));
                    return stop is null ? [] : [Chunk(new JsonObject(), FinishReason(stop))];
                default:
                    return [];
            }
        }

        public IReadOnlyList<JsonObject> Complete(TokenUsage usage) =>
            includeUsage ? [ChatCompletionShapes.UsageChunk(_id, _model, _created, usage)] : [];

        private JsonObject Chunk(JsonObject delta, string? finishReason = null) =>
            ChatCompletionShapes.Chunk(_id, _model, _created, 0, delta, finishReason);
    }
}
