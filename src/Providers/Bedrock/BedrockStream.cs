using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.Bedrock;

/// <summary>
/// ConverseStream (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html) as KillToken relays it:
/// each event-stream message becomes a server-sent event named by its type — <c>messageStart</c>, <c>contentBlockStart</c>,
/// <c>contentBlockDelta</c>, <c>contentBlockStop</c>, <c>messageStop</c> (the terminator), <c>metadata</c> (usage, last) —
/// with the message's JSON payload as data. Exceptions (<c>throttlingException</c>, …) end the stream as failures.
/// </summary>
internal static class BedrockStream
{
    public const string MediaType = "application/vnd.amazon.eventstream";

    /// <summary>The name given to an event-stream <c>error</c> message (or an exception without a type).</summary>
    public const string ErrorEvent = "error";

    /// <summary>The body is AWS's binary event stream; usage comes after <c>messageStop</c>, so only a clean end completes it.</summary>
    public static StreamWireFormat WireFormat { get; } = new(MediaType, body => new AwsEventStreamReader(body), CompleteOnlyAtCleanEnd: true);

    public static bool IsException(string? eventName) =>
        eventName == ErrorEvent || (eventName?.EndsWith("Exception", StringComparison.Ordinal) ?? false);

    /// <summary>The HTTP status AWS gives each stream exception, so failures map as the non-streaming call's do.</summary>
    public static int StatusOf(string? exceptionType) => exceptionType switch
    {
        "throttlingException" => 429,
        "validationException" => 400,
        "accessDeniedException" => 403,
        "resourceNotFoundException" => 404,
        "serviceUnavailableException" => 503,
        _ => 500, // internalServerException, modelStreamErrorException (424 at AWS, but a model failure, not the request's fault)
    };

    /// <summary>A stored Converse answer as the events ConverseStream would have sent for it.</summary>
    public static IReadOnlyList<ServerSentEvent> Replay(JsonNode response)
    {
        var message = At(At(response, "output"), "message");
        var events = new List<ServerSentEvent>
        {
            ServerSentEvent.Json("messageStart", new JsonObject { ["role"] = At(message, "role")?.DeepClone() ?? "assistant" }),
        };
        var index = 0;
        foreach (var block in (At(message, "content") as JsonArray ?? []).OfType<JsonObject>())
        {
            JsonObject? delta = null;
            if (ChatRequestParser.AsString(block["text"]) is { } text)
            {
                delta = new JsonObject { ["text"] = text };
            }
            else if (block["toolUse"] is JsonObject toolUse)
            {
                events.Add(ServerSentEvent.Json("contentBlockStart", new JsonObject
                {
                    ["contentBlockIndex"] = index,
                    ["start"] = new JsonObject { ["toolUse"] = new JsonObject { ["toolUseId"] = toolUse["toolUseId"]?.DeepClone(), ["name"] = toolUse["name"]?.DeepClone() } },
                }));
                delta = new JsonObject { ["toolUse"] = new JsonObject { ["input"] = (toolUse["input"] ?? new JsonObject()).ToJsonString() } };
            }
            else if (At(block["reasoningContent"], "reasoningText") is JsonObject reasoning)
            {
                delta = new JsonObject { ["reasoningContent"] = new JsonObject { ["text"] = reasoning["text"]?.DeepClone() } };
                if (reasoning["signature"] is { } signature)
                {
                    events.Add(Delta(index, delta));
                    delta = new JsonObject { ["reasoningContent"] = new JsonObject { ["signature"] = signature.DeepClone() } };
                }
            }

            if (delta is not null)
            {
                events.Add(Delta(index, delta));
            }

            events.Add(ServerSentEvent.Json("contentBlockStop", new JsonObject { ["contentBlockIndex"] = index }));
            index++;
        }

        var stop = new JsonObject { ["stopReason"] = response["stopReason"]?.DeepClone() ?? "end_turn" };
        if (response["additionalModelResponseFields"] is { } additional)
        {
            stop["additionalModelResponseFields"] = additional.DeepClone();
        }

        events.Add(ServerSentEvent.Json("messageStop", stop));
        events.Add(ServerSentEvent.Json("metadata", new JsonObject
        {
            ["usage"] = response["usage"]?.DeepClone() ?? new JsonObject(),
            ["metrics"] = response["metrics"]?.DeepClone() ?? new JsonObject { ["latencyMs"] = 0 },
        }));
        return events;
    }

    public static JsonNode? At(JsonNode? node, string name) => (node as JsonObject)?[name];

    private static ServerSentEvent Delta(int index, JsonObject delta) =>
        ServerSentEvent.Json("contentBlockDelta", new JsonObject { ["contentBlockIndex"] = index, ["delta"] = delta });
}

/// <summary>Reads a ConverseStream: usage from <c>metadata</c>, <c>messageStop</c>, exceptions, and the Converse answer it adds up to.</summary>
internal sealed class BedrockStreamAccumulator : IStreamAccumulator
{
    private readonly SortedDictionary<int, BlockState> _blocks = [];
    private readonly StringBuilder _text = new();
    private string _role = "assistant";
    private JsonObject? _stop;
    private JsonObject? _metadata;

    public bool Completed { get; private set; }

    public TokenUsage Usage => BedrockConverseAdapter.ReadUsage(_metadata);

    public (int Status, JsonNode? Body)? ProviderError { get; private set; }

    public string OutputText => _text.ToString();

    public string? ReportedModel => null;

    public bool Observe(ServerSentEvent sse)
    {
        if (BedrockStream.IsException(sse.Name))
        {
            // Keep AWS's message (ProviderHttp reads "message") and say which exception it was.
            var body = sse.DataAsObject() ?? new JsonObject { ["message"] = sse.Data };
            body["exceptionType"] ??= sse.Name;
            ProviderError = (BedrockStream.StatusOf(sse.Name), body);
            return false;
        }

        var data = sse.DataAsObject();
        if (data is null)
        {
            return true;
        }

        var index = (int)OpenAI.OpenAIChatAdapter.Long(data["contentBlockIndex"]);
        switch (sse.Name)
        {
            case "messageStart":
                _role = ChatRequestParser.AsString(data["role"]) ?? _role;
                break;
            case "contentBlockStart":
                Block(index).Start(BedrockStream.At(data["start"], "toolUse") as JsonObject);
                break;
            case "contentBlockDelta" when data["delta"] is JsonObject delta:
                Block(index).Add(delta, _text);
                break;
            case "messageStop":
                _stop = data;
                Completed = true;
                break;
            case "metadata":
                _metadata = data;
                break;
        }

        return true;
    }

    public JsonNode Assemble()
    {
        var response = new JsonObject
        {
            ["output"] = new JsonObject
            {
                ["message"] = new JsonObject
                {
                    ["role"] = _role,
                    ["content"] = new JsonArray([.. _blocks.Values.Select(b => (JsonNode)b.ToBlock())]),
                },
            },
            ["stopReason"] = _stop?["stopReason"]?.DeepClone(),
        };
        if (_stop?["additionalModelResponseFields"] is { } additional)
        {
            response["additionalModelResponseFields"] = additional.DeepClone();
        }

        foreach (var field in new[] { "usage", "metrics", "trace", "performanceConfig" })
        {
            if (_metadata?[field] is { } value)
            {
                response[field] = value.DeepClone();
            }
        }

        return response;
    }

    private BlockState Block(int index) => _blocks.TryGetValue(index, out var block) ? block : _blocks[index] = new BlockState();

    /// <summary>One content block: text, a tool call (its input arrives as partial JSON) or reasoning.</summary>
    private sealed class BlockState
    {
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _toolInput = new();
        private readonly StringBuilder _reasoning = new();
        private JsonObject? _toolUse;
        private string? _signature;
        private bool _isReasoning;

        public void Start(JsonObject? toolUse) => _toolUse = toolUse?.DeepClone().AsObject();

        public void Add(JsonObject delta, StringBuilder output)
        {
            if (ChatRequestParser.AsString(delta["text"]) is { } text)
            {
                _text.Append(text);
                output.Append(text);
            }
            else if (ChatRequestParser.AsString(BedrockStream.At(delta["toolUse"], "input")) is { } input)
            {
                _toolUse ??= new JsonObject();
                _toolInput.Append(input);
                output.Append(input);
            }
            else if (delta["reasoningContent"] is JsonObject reasoning)
            {
                _isReasoning = true;
                _reasoning.Append(ChatRequestParser.AsString(reasoning["text"]));
                _signature = ChatRequestParser.AsString(reasoning["signature"]) ?? _signature;
            }
        }

        public JsonObject ToBlock()
        {
            if (_toolUse is not null)
            {
                var toolUse = _toolUse.DeepClone().AsObject();
                toolUse["input"] = ParseInput(_toolInput.ToString());
                return new JsonObject { ["toolUse"] = toolUse };
            }

            if (_isReasoning)
            {
                var reasoningText = new JsonObject { ["text"] = _reasoning.ToString() };
                if (_signature is not null)
                {
                    reasoningText["signature"] = _signature;
                }

                return new JsonObject { ["reasoningContent"] = new JsonObject { ["reasoningText"] = reasoningText } };
            }

            return new JsonObject { ["text"] = _text.ToString() };
        }

        private static JsonNode ParseInput(string json)
        {
            try
            {
                return json.Length == 0 ? new JsonObject() : JsonNode.Parse(json) ?? new JsonObject();
            }
            catch (JsonException)
            {
                return json; // kept as received: the stream's partial JSON did not add up to a document
            }
        }
    }
}
