using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.Bedrock;

/// <summary>Converse answers (and their stream) in OpenAI's chat-completions terms, for the OpenAI-compatible routes.</summary>
internal static class BedrockChatCompletions
{
    public static string FinishReason(string? stopReason) => stopReason switch
    {
        "tool_use" => "tool_calls",
        "max_tokens" or "model_context_window_exceeded" => "length",
        "guardrail_intervened" or "content_filtered" => "content_filter",
        _ => "stop",
    };

    /// <summary>messageStart → role chunk, text deltas → content, toolUse blocks → tool_calls deltas, messageStop → finish_reason.</summary>
    public sealed class ChunkTranslator(string model, bool includeUsage) : IChatCompletionChunkTranslator
    {
        private readonly Dictionary<int, int> _toolIndexes = [];
        private readonly long _created = ChatCompletionShapes.Now();
        private readonly string _id = "chatcmpl-" + Guid.NewGuid().ToString("N");

        public IReadOnlyList<JsonObject> Translate(ServerSentEvent providerEvent)
        {
            if (providerEvent.DataAsObject() is not { } data)
            {
                return [];
            }

            var index = (int)OpenAI.OpenAIChatAdapter.Long(data["contentBlockIndex"]);
            switch (providerEvent.Name)
            {
                case "messageStart":
                    return [Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" })];
                case "contentBlockStart" when BedrockStream.At(data["start"], "toolUse") is JsonObject toolUse:
                    var toolIndex = _toolIndexes[index] = _toolIndexes.Count;
                    return [Chunk(new JsonObject
                    {
                        ["tool_calls"] = new JsonArray(new JsonObject
                        {
                            ["index"] = toolIndex,
                            ["id"] = toolUse["toolUseId"]?.DeepClone(),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = toolUse["name"]?.DeepClone(), ["arguments"] = "" },
                        }),
                    })];
                case "contentBlockDelta" when data["delta"] is JsonObject delta:
                    if (ChatRequestParser.AsString(delta["text"]) is { } text)
                    {
                        return [Chunk(new JsonObject { ["content"] = text })];
                    }

                    if (ChatRequestParser.AsString(BedrockStream.At(delta["toolUse"], "input")) is { } input && _toolIndexes.TryGetValue(index, out var call))
                    {
                        return [Chunk(new JsonObject
                        {
                            ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = call, ["function"] = new JsonObject { ["arguments"] = input } }),
                        })];
                    }

                    return [];
                case "messageStop":
                    return [Chunk(new JsonObject(), FinishReason(ChatRequestParser.AsString(data["stopReason"])))];
                default:
                    return [];
            }
        }

        public IReadOnlyList<JsonObject> Complete(TokenUsage usage) =>
            includeUsage ? [ChatCompletionShapes.UsageChunk(_id, model, _created, usage)] : [];

        private JsonObject Chunk(JsonObject delta, string? finishReason = null) =>
            ChatCompletionShapes.Chunk(_id, model, _created, 0, delta, finishReason);
    }
}
