using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Gemini;

/// <summary>
/// <c>streamGenerateContent?alt=sse</c> (ai.google.dev/api/generate-content#method:-models.streamgeneratecontent): each
/// event's data is a <c>GenerateContentResponse</c> with the next parts; the last carries <c>finishReason</c> and the
/// final <c>usageMetadata</c>. There is no other terminator. Shared by the Gemini API and Vertex AI.
/// </summary>
internal static class GeminiStream
{
    /// <summary>A stored answer as one event, which is how the API streams a short answer.</summary>
    public static IReadOnlyList<ServerSentEvent> Replay(JsonNode response) => [ServerSentEvent.Json(null, response)];

    public static string FinishReason(string? finishReason, bool calledTools) => finishReason switch
    {
        _ when calledTools => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" => "content_filter",
        _ => "stop",
    };

    /// <summary>A Gemini answer as an OpenAI chat.completion: text parts (not thoughts) as content, functionCall parts as tool_calls.</summary>
    public static JsonObject ToChatCompletion(JsonNode response, string model)
    {
        var choices = new JsonArray();
        var position = 0;
        foreach (var candidate in (response["candidates"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var index = candidate["index"] is null ? position : (int)OpenAIChatAdapter.Long(candidate["index"]);
            position++;
            var text = new StringBuilder();
            var calls = new JsonArray();
            foreach (var part in (ChatRequestParser.Field(candidate["content"], "parts") as JsonArray ?? []).OfType<JsonObject>())
            {
                if (part["functionCall"] is JsonObject call)
                {
                    calls.Add(ChatCompletionShapes.ToolCall(ChatRequestParser.AsString(call["id"]) ?? $"call_{index}_{calls.Count}",
                        ChatRequestParser.AsString(call["name"]), (call["args"] ?? new JsonObject()).ToJsonString()));
                }
                else if (ChatRequestParser.AsString(part["text"]) is { } partText && !IsThought(part))
                {
                    text.Append(partText);
                }
            }

            var content = text.Length == 0 && calls.Count > 0 ? null : text.ToString();
            choices.Add(ChatCompletionShapes.Choice(index, content, calls, FinishReason(ChatRequestParser.AsString(candidate["finishReason"]), calls.Count > 0)));
        }

        if (choices.Count == 0)
        {
            // A blocked prompt: no candidates, only promptFeedback.
            choices.Add(ChatCompletionShapes.Choice(0, null, null, "content_filter"));
        }

        return ChatCompletionShapes.Completion(ChatRequestParser.AsString(response["responseId"]),
            ChatRequestParser.AsString(response["modelVersion"]) ?? model, choices, GeminiTranslation.ReadUsage(response));
    }

    internal static bool IsThought(JsonObject part) => part["thought"] is JsonValue thought && thought.GetValueKind() == JsonValueKind.True;

    /// <summary>Each chunk's text parts → content deltas, functionCall parts → tool_calls, finishReason → finish_reason.</summary>
    public sealed class ChunkTranslator(string model, bool includeUsage) : IChatCompletionChunkTranslator
    {
        private readonly long _created = ChatCompletionShapes.Now();
        private readonly HashSet<int> _started = [];
        private readonly Dictionary<int, int> _calls = [];
        private string _id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        private string? _model = model;

        public IReadOnlyList<JsonObject> Translate(ServerSentEvent providerEvent)
        {
            if (providerEvent.DataAsObject() is not { } chunk)
            {
                return [];
            }

            _id = ChatRequestParser.AsString(chunk["responseId"]) ?? _id;
            _model = ChatRequestParser.AsString(chunk["modelVersion"]) ?? _model;
            var output = new List<JsonObject>();
            var position = 0;
            foreach (var candidate in (chunk["candidates"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var index = candidate["index"] is null ? position : (int)OpenAIChatAdapter.Long(candidate["index"]);
                position++;
                if (_started.Add(index))
                {
                    output.Add(Chunk(index, new JsonObject { ["role"] = "assistant", ["content"] = "" }));
                }

                foreach (var part in (ChatRequestParser.Field(candidate["content"], "parts") as JsonArray ?? []).OfType<JsonObject>())
                {
                    if (part["functionCall"] is JsonObject call)
                    {
                        var callIndex = _calls.TryGetValue(index, out var seen) ? seen : 0;
                        _calls[index] = callIndex + 1;
                        output.Add(Chunk(index, new JsonObject
                        {
                            ["tool_calls"] = new JsonArray(new JsonObject
                            {
                                ["index"] = callIndex,
                                ["id"] = ChatRequestParser.AsString(call["id"]) ?? $"call_{index}_{callIndex}",
                                ["type"] = "function",
                                ["function"] = new JsonObject { ["name"] = call["name"]?.DeepClone(), ["arguments"] = (call["args"] ?? new JsonObject()).ToJsonString() },
                            }),
                        }));
                    }
                    else if (ChatRequestParser.AsString(part["text"]) is { Length: > 0 } text && !IsThought(part))
                    {
                        output.Add(Chunk(index, new JsonObject { ["content"] = text }));
                    }
                }

                if (ChatRequestParser.AsString(candidate["finishReason"]) is { } finish)
                {
                    output.Add(Chunk(index, new JsonObject(), FinishReason(finish, _calls.ContainsKey(index))));
                }
            }

            if (ChatRequestParser.AsString(ChatRequestParser.Field(chunk["promptFeedback"], "blockReason")) is not null && position == 0)
            {
                output.Add(Chunk(0, new JsonObject { ["role"] = "assistant", ["content"] = "" }));
                output.Add(Chunk(0, new JsonObject(), "content_filter"));
            }

            return output;
        }

        public IReadOnlyList<JsonObject> Complete(TokenUsage usage) =>
            includeUsage ? [ChatCompletionShapes.UsageChunk(_id, _model, _created, usage)] : [];

        private JsonObject Chunk(int index, JsonObject delta, string? finishReason = null) =>
            ChatCompletionShapes.Chunk(_id, _model, _created, index, delta, finishReason);
    }
}

/// <summary>Reads a Gemini stream: usageMetadata, finishReason, error chunks, and the response it adds up to.</summary>
internal sealed class GeminiStreamAccumulator : IStreamAccumulator
{
    private readonly SortedDictionary<int, CandidateState> _candidates = [];
    private readonly StringBuilder _text = new();
    private JsonObject? _usage;
    private JsonObject? _promptFeedback;
    private string? _modelVersion;
    private string? _responseId;
    private bool _hasOutput;

    public bool Completed { get; private set; }

    public TokenUsage Usage => _usage is null ? TokenUsage.None : GeminiTranslation.ReadUsage(new JsonObject { ["usageMetadata"] = _usage.DeepClone() }, _hasOutput);

    public (int Status, JsonNode? Body)? ProviderError { get; private set; }

    public string OutputText => _text.ToString();

    public string? ReportedModel => _modelVersion;

    public bool Observe(ServerSentEvent sse)
    {
        if (sse.DataAsObject() is not { } chunk)
        {
            return true;
        }

        if (chunk["error"] is JsonObject error)
        {
            var code = OpenAIChatAdapter.Long(error["code"]);
            ProviderError = (code is >= 400 and < 600 ? (int)code : 500, chunk);
            return false;
        }

        _modelVersion = ChatRequestParser.AsString(chunk["modelVersion"]) ?? _modelVersion;
        _responseId = ChatRequestParser.AsString(chunk["responseId"]) ?? _responseId;
        if (chunk["usageMetadata"] is JsonObject usage)
        {
            _usage = usage.DeepClone().AsObject();
        }

        if (chunk["promptFeedback"] is JsonObject feedback)
        {
            _promptFeedback = feedback.DeepClone().AsObject();
            Completed |= feedback["blockReason"] is not null;
        }

        var position = 0;
        foreach (var candidate in (chunk["candidates"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var index = candidate["index"] is null ? position : (int)OpenAIChatAdapter.Long(candidate["index"]);
            position++;
            if (!_candidates.TryGetValue(index, out var state))
            {
                _candidates[index] = state = new CandidateState();
            }

            state.Add(candidate, index == 0 ? _text : null);
            _hasOutput |= (ChatRequestParser.Field(candidate["content"], "parts") as JsonArray ?? []).OfType<JsonObject>().Any(GeminiTranslation.IsOutput);
            Completed |= candidate["finishReason"] is JsonValue;
        }

        return true;
    }

    public JsonNode Assemble()
    {
        var response = new JsonObject
        {
            ["candidates"] = new JsonArray([.. _candidates.Select(c => (JsonNode)c.Value.ToCandidate(c.Key))]),
        };
        if (_promptFeedback is not null)
        {
            response["promptFeedback"] = _promptFeedback.DeepClone();
        }

        response["usageMetadata"] = _usage?.DeepClone();
        response["modelVersion"] = _modelVersion;
        response["responseId"] = _responseId;
        return response;
    }

    private sealed class CandidateState
    {
        private readonly List<(StringBuilder? Text, JsonObject Part)> _parts = [];
        private readonly JsonObject _fields = [];

        public void Add(JsonObject candidate, StringBuilder? text)
        {
            foreach (var (key, value) in candidate)
            {
                if (key is not ("content" or "index"))
                {
                    _fields[key] = value?.DeepClone();
                }
            }

            foreach (var part in (ChatRequestParser.Field(candidate["content"], "parts") as JsonArray ?? []).OfType<JsonObject>())
            {
                if (ChatRequestParser.AsString(part["text"]) is { } partText)
                {
                    text?.Append(partText);
                    var plain = part.All(p => p.Key is "text" or "thought");
                    if (plain && _parts.Count > 0 && _parts[^1].Text is { } last
                        && GeminiStream.IsThought(_parts[^1].Part) == GeminiStream.IsThought(part))
                    {
                        last.Append(partText);
                        continue;
                    }

                    _parts.Add((new StringBuilder(partText), part.DeepClone().AsObject()));
                    continue;
                }

                if (part["functionCall"] is { } call)
                {
                    text?.Append(call.ToJsonString());
                }

                _parts.Add((null, part.DeepClone().AsObject()));
            }
        }

        public JsonObject ToCandidate(int index)
        {
            var parts = new JsonArray();
            foreach (var (text, part) in _parts)
            {
                var copy = part.DeepClone().AsObject();
                if (text is not null)
                {
                    copy["text"] = text.ToString();
                }

                parts.Add(copy);
            }

            var candidate = new JsonObject { ["content"] = new JsonObject { ["parts"] = parts, ["role"] = "model" } };
            foreach (var (key, value) in _fields)
            {
                candidate[key] = value?.DeepClone();
            }

            candidate["index"] = index;
            return candidate;
        }
    }
}
