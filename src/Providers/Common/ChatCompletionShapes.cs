using System.Text.Json.Nodes;
using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// OpenAI chat-completions shapes (platform.openai.com/docs/api-reference/chat/object and chat-streaming) that other wire
/// formats are translated into for the OpenAI-compatible routes.
/// </summary>
internal static class ChatCompletionShapes
{
    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static JsonObject Completion(string? id, string? model, JsonArray choices, TokenUsage usage) => new()
    {
        ["id"] = id ?? "chatcmpl-" + Guid.NewGuid().ToString("N"),
        ["object"] = "chat.completion",
        ["created"] = Now(),
        ["model"] = model,
        ["choices"] = choices,
        ["usage"] = Usage(usage),
    };

    public static JsonObject Choice(int index, string? content, JsonArray? toolCalls, string finishReason)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = content, ["refusal"] = null };
        if (toolCalls is { Count: > 0 })
        {
            message["tool_calls"] = toolCalls;
        }

        return new JsonObject { ["index"] = index, ["message"] = message, ["logprobs"] = null, ["finish_reason"] = finishReason };
    }

    public static JsonObject ToolCall(string? id, string? name, string arguments) => new()
    {
        ["id"] = id,
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
    };

    public static JsonObject Usage(TokenUsage usage) => new()
    {
        ["prompt_tokens"] = usage.InputTokens,
        ["completion_tokens"] = usage.OutputTokens,
        ["total_tokens"] = usage.TotalTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.CachedInputTokens },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = usage.ReasoningTokens },
    };

    public static JsonObject Chunk(string id, string? model, long created, int index, JsonObject delta, string? finishReason = null) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject { ["index"] = index, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finishReason }),
    };

    public static JsonObject UsageChunk(string id, string? model, long created, TokenUsage usage) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = model,
        ["choices"] = new JsonArray(),
        ["usage"] = Usage(usage),
    };
}
