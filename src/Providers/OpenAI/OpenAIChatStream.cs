using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.OpenAI;

/// <summary>
/// Chat-completions streaming (platform.openai.com/docs/api-reference/chat-streaming): <c>data: {chunk}</c> events,
/// usage in a last chunk with empty <c>choices</c> when <c>stream_options.include_usage</c> is set, then <c>data: [DONE]</c>.
/// Shared by the OpenAI family and Azure OpenAI.
/// </summary>
internal static class OpenAIChatStream
{
    public const string Done = "[DONE]";

    /// <summary>Providers of the family that reject <c>stream_options</c> and report usage in their last chunk anyway.</summary>
    private static readonly HashSet<ProviderId> NoStreamOptions = [ProviderId.Mistral, ProviderId.Perplexity];

    /// <summary>True when the client's own options ask for the usage chunk.</summary>
    public static bool ClientWantsUsage(JsonObject? options) =>
        (options?["stream_options"] as JsonObject)?["include_usage"] is JsonValue value
        && value.GetValueKind() == JsonValueKind.True;

    /// <summary>The request body with <c>stream: true</c> and usage asked for (the client's other stream options kept).</summary>
    public static JsonObject ToStreamBody(JsonObject body, ProviderId provider)
    {
        body["stream"] = true;
        if (NoStreamOptions.Contains(provider))
        {
            body.Remove("stream_options");
            return body;
        }

        var streamOptions = body["stream_options"] as JsonObject ?? new JsonObject();
        streamOptions["include_usage"] = true;
        body["stream_options"] = streamOptions;
        return body;
    }

    public static IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options)
    {
        var events = new List<ServerSentEvent>();
        var completion = response as JsonObject ?? new JsonObject();
        JsonObject Chunk(JsonArray choices)
        {
            var chunk = new JsonObject
            {
                ["id"] = completion["id"]?.DeepClone(),
                ["object"] = "chat.completion.chunk",
                ["created"] = completion["created"]?.DeepClone(),
                ["model"] = completion["model"]?.DeepClone(),
            };
            if (completion["system_fingerprint"] is { } fingerprint)
            {
                chunk["system_fingerprint"] = fingerprint.DeepClone();
            }

            chunk["choices"] = choices;
            return chunk;
        }

        void Add(JsonObject chunk) => events.Add(ServerSentEvent.Json(null, chunk));
        static JsonObject Choice(JsonNode? index, JsonObject delta, JsonNode? finish) =>
            new() { ["index"] = index?.DeepClone() ?? 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish?.DeepClone() };

        foreach (var choice in (completion["choices"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var message = choice["message"] as JsonObject ?? new JsonObject();
            Add(Chunk([Choice(choice["index"], new JsonObject { ["role"] = message["role"]?.DeepClone() ?? "assistant", ["content"] = "" }, null)]));
            if (ChatRequestParser.AsString(message["content"]) is { Length: > 0 } content)
            {
                Add(Chunk([Choice(choice["index"], new JsonObject { ["content"] = content }, null)]));
            }

            if (ChatRequestParser.AsString(message["refusal"]) is { Length: > 0 } refusal)
            {
                Add(Chunk([Choice(choice["index"], new JsonObject { ["refusal"] = refusal }, null)]));
            }

            if (message["tool_calls"] is JsonArray { Count: > 0 } calls)
            {
                var deltas = new JsonArray();
                var i = 0;
                foreach (var call in calls.OfType<JsonObject>())
                {
                    var delta = call.DeepClone().AsObject();
                    delta["index"] = i++;
                    deltas.Add(delta);
                }

                Add(Chunk([Choice(choice["index"], new JsonObject { ["tool_calls"] = deltas }, null)]));
            }

            Add(Chunk([Choice(choice["index"], new JsonObject(), choice["finish_reason"] ?? "stop")]));
        }

        if (ClientWantsUsage(options) && completion["usage"] is JsonObject usage)
        {
            var last = Chunk([]);
            last["usage"] = usage.DeepClone();
            Add(last);
        }

        events.Add(ServerSentEvent.Create(null, Done));
        return events;
    }
}

/// <summary>Reads a chat-completions stream: usage, [DONE], in-stream errors, and the <c>chat.completion</c> it adds up to.</summary>
internal sealed class OpenAIStreamAccumulator(bool forwardUsageChunk) : IStreamAccumulator
{
    private readonly SortedDictionary<int, ChoiceState> _choices = [];
    private readonly StringBuilder _text = new();
    private JsonObject? _head;
    private JsonObject? _usage;

    public bool Completed { get; private set; }

    public TokenUsage Usage => _usage is null ? TokenUsage.None : OpenAIChatAdapter.ReadUsage(new JsonObject { ["usage"] = _usage.DeepClone() });

    public (int Status, JsonNode? Body)? ProviderError { get; private set; }

    public string OutputText => _text.ToString();

    public string? ReportedModel => ChatRequestParser.AsString(_head?["model"]);

    public bool Observe(ServerSentEvent sse)
    {
        var data = sse.Data;
        if (data.Length == 0)
        {
            return true; // comments and keep-alives pass
        }

        if (data == OpenAIChatStream.Done)
        {
            Completed = true;
            return true;
        }

        if (sse.DataAsObject() is not { } chunk)
        {
            return true;
        }

        if (chunk["error"] is { } error)
        {
            ProviderError = (OpenAIChatAdapter.Long(ChatRequestParser.Field(error, "status")) is var status and >= 400 and < 600 ? (int)status : 500, chunk);
            return false;
        }

        _head ??= new JsonObject
        {
            ["id"] = chunk["id"]?.DeepClone(),
            ["created"] = chunk["created"]?.DeepClone(),
            ["model"] = chunk["model"]?.DeepClone(),
            ["system_fingerprint"] = chunk["system_fingerprint"]?.DeepClone(),
            ["service_tier"] = chunk["service_tier"]?.DeepClone(),
        };

        if (chunk["usage"] is JsonObject usage)
        {
            _usage = usage.DeepClone().AsObject();
        }

        var choices = chunk["choices"] as JsonArray;
        foreach (var choice in choices?.OfType<JsonObject>() ?? [])
        {
            var index = (int)OpenAIChatAdapter.Long(choice["index"]);
            if (!_choices.TryGetValue(index, out var state))
            {
                _choices[index] = state = new ChoiceState();
            }

            state.Add(choice, index == 0 ? _text : null);
        }

        // The usage-only chunk KillToken asked for is hidden unless the client asked for it too.
        return forwardUsageChunk || choices is { Count: > 0 } || chunk["usage"] is not JsonObject;
    }

    public JsonNode Assemble()
    {
        var completion = new JsonObject
        {
            ["id"] = _head?["id"]?.DeepClone(),
            ["object"] = "chat.completion",
            ["created"] = _head?["created"]?.DeepClone(),
            ["model"] = _head?["model"]?.DeepClone(),
            ["choices"] = new JsonArray([.. _choices.Select(c => (JsonNode)c.Value.ToChoice(c.Key))]),
            ["usage"] = _usage?.DeepClone(),
        };
        foreach (var name in new[] { "system_fingerprint", "service_tier" })
        {
            if (_head?[name] is { } value)
            {
                completion[name] = value.DeepClone();
            }
        }

        return completion;
    }

    private sealed class ChoiceState
    {
        private readonly SortedDictionary<int, (string? Id, string? Type, StringBuilder Name, StringBuilder Arguments)> _calls = [];
        private string? _role;
        private StringBuilder? _content;
        private StringBuilder? _refusal;
        private JsonNode? _finish;

        public void Add(JsonObject choice, StringBuilder? text)
        {
            if (choice["finish_reason"] is { } finish && finish.GetValueKind() != JsonValueKind.Null)
            {
                _finish = finish.DeepClone();
            }

            if (choice["delta"] is not JsonObject delta)
            {
                return;
            }

            _role ??= ChatRequestParser.AsString(delta["role"]);
            if (ChatRequestParser.AsString(delta["content"]) is { } content)
            {
                (_content ??= new StringBuilder()).Append(content);
                text?.Append(content);
            }

            if (ChatRequestParser.AsString(delta["refusal"]) is { } refusal)
            {
                (_refusal ??= new StringBuilder()).Append(refusal);
                text?.Append(refusal);
            }

            foreach (var call in (delta["tool_calls"] as JsonArray)?.OfType<JsonObject>() ?? [])
            {
                var index = (int)OpenAIChatAdapter.Long(call["index"]);
                if (!_calls.TryGetValue(index, out var state))
                {
                    state = (null, null, new StringBuilder(), new StringBuilder());
                }

                state.Id ??= ChatRequestParser.AsString(call["id"]);
                state.Type ??= ChatRequestParser.AsString(call["type"]);
                state.Name.Append(ChatRequestParser.AsString(ChatRequestParser.Field(call["function"], "name")));
                var arguments = ChatRequestParser.AsString(ChatRequestParser.Field(call["function"], "arguments"));
                state.Arguments.Append(arguments);
                text?.Append(arguments);
                _calls[index] = state;
            }
        }

        public JsonObject ToChoice(int index)
        {
            var message = new JsonObject
            {
                ["role"] = _role ?? "assistant",
                ["content"] = _content?.ToString(),
                ["refusal"] = _refusal?.ToString(),
            };
            if (_calls.Count > 0)
            {
                message["tool_calls"] = new JsonArray([.. _calls.Values.Select(c => (JsonNode)new JsonObject
                {
                    ["id"] = c.Id,
                    ["type"] = c.Type ?? "function",
                    ["function"] = new JsonObject { ["name"] = c.Name.ToString(), ["arguments"] = c.Arguments.ToString() },
                })]);
            }

            return new JsonObject { ["index"] = index, ["message"] = message, ["logprobs"] = null, ["finish_reason"] = _finish?.DeepClone() };
        }
    }
}
