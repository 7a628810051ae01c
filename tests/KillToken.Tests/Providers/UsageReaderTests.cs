using System.Text.Json.Nodes;
using KillToken.Core.Providers;
using KillToken.Providers.Anthropic;
using KillToken.Providers.Bedrock;
using KillToken.Providers.Gemini;
using KillToken.Providers.OpenAI;

namespace KillToken.Tests.Providers;

/// <summary>
/// Issue 10: a provider's usage figures are untrusted input (an <c>openai_compatible</c> endpoint belongs to the
/// workspace). Every wire format's counts go through one strict reader: required counts missing, null or invalid, and
/// any count present but negative, fractional, not a number or above 100,000,000 make the usage invalid — never a
/// smaller or zero cost. Optional counts may be absent (or null) and then count 0.
/// </summary>
[TestClass]
public sealed class UsageReaderTests
{
    /// <summary>Values no count may have: each replaces one field of an otherwise valid usage object.</summary>
    private static readonly (string Name, JsonNode? Value)[] BadValues =
    [
        ("negative", JsonValue.Create(-5)),
        ("fractional", JsonValue.Create(1.5)),
        ("numeric string", JsonValue.Create("12")),
        ("boolean", JsonValue.Create(true)),
        ("absurdly large (1e12)", JsonNode.Parse("1e12")),
        ("one past the bound", JsonValue.Create(TokenUsage.MaxTokensPerCall + 1)),
        ("larger than a long", JsonNode.Parse("123456789012345678901234567890")),
        ("an object", new JsonObject { ["value"] = 3 }),
        ("an array", new JsonArray(3)),
    ];

    private static JsonObject OpenAIUsage() => new()
    {
        ["prompt_tokens"] = 19,
        ["completion_tokens"] = 10,
        ["total_tokens"] = 29,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = 4 },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 2 },
    };

    private static JsonObject AnthropicUsage() => new()
    {
        ["input_tokens"] = 25,
        ["cache_creation_input_tokens"] = 3,
        ["cache_read_input_tokens"] = 5,
        ["output_tokens"] = 12,
    };

    private static JsonObject GeminiUsage() => new()
    {
        ["promptTokenCount"] = 9,
        ["candidatesTokenCount"] = 12,
        ["cachedContentTokenCount"] = 2,
        ["thoughtsTokenCount"] = 3,
        ["toolUsePromptTokenCount"] = 1,
        ["totalTokenCount"] = 25,
    };

    private static JsonObject BedrockUsage() => new()
    {
        ["inputTokens"] = 30,
        ["outputTokens"] = 7,
        ["cacheReadInputTokens"] = 4,
        ["cacheWriteInputTokens"] = 6,
        ["totalTokens"] = 47,
    };

    private static TokenUsage OpenAI(JsonObject usage) => OpenAIChatAdapter.ReadUsage(new JsonObject { ["usage"] = usage });
    private static TokenUsage Anthropic(JsonObject usage) => AnthropicMessagesAdapter.ReadUsage(new JsonObject { ["usage"] = usage });
    private static TokenUsage Gemini(JsonObject usage) => GeminiTranslation.ReadUsage(new JsonObject { ["usageMetadata"] = usage });
    private static TokenUsage Bedrock(JsonObject usage) => BedrockConverseAdapter.ReadUsage(new JsonObject { ["usage"] = usage });

    /// <summary>Every (provider format, field path) the reader reads, with whether the field is required.</summary>
    private static IEnumerable<(string Format, string[] Path, bool Required, Func<JsonObject> Valid, Func<JsonObject, TokenUsage> Read)> Fields()
    {
        yield return ("openai", ["prompt_tokens"], true, OpenAIUsage, OpenAI);
        yield return ("openai", ["completion_tokens"], true, OpenAIUsage, OpenAI);
        yield return ("openai", ["prompt_tokens_details", "cached_tokens"], false, OpenAIUsage, OpenAI);
        yield return ("openai", ["completion_tokens_details", "reasoning_tokens"], false, OpenAIUsage, OpenAI);
        yield return ("openai", ["prompt_cache_hit_tokens"], false, OpenAIUsage, OpenAI);
        yield return ("anthropic", ["input_tokens"], true, AnthropicUsage, Anthropic);
        yield return ("anthropic", ["output_tokens"], true, AnthropicUsage, Anthropic);
        yield return ("anthropic", ["cache_creation_input_tokens"], false, AnthropicUsage, Anthropic);
        yield return ("anthropic", ["cache_read_input_tokens"], false, AnthropicUsage, Anthropic);
        yield return ("gemini", ["promptTokenCount"], true, GeminiUsage, Gemini);
        yield return ("gemini", ["candidatesTokenCount"], false, GeminiUsage, Gemini);
        yield return ("gemini", ["cachedContentTokenCount"], false, GeminiUsage, Gemini);
        yield return ("gemini", ["thoughtsTokenCount"], false, GeminiUsage, Gemini);
        yield return ("gemini", ["toolUsePromptTokenCount"], false, GeminiUsage, Gemini);
        yield return ("bedrock", ["inputTokens"], true, BedrockUsage, Bedrock);
        yield return ("bedrock", ["outputTokens"], true, BedrockUsage, Bedrock);
        yield return ("bedrock", ["cacheReadInputTokens"], false, BedrockUsage, Bedrock);
        yield return ("bedrock", ["cacheWriteInputTokens"], false, BedrockUsage, Bedrock);
    }

    private static JsonObject With(JsonObject usage, string[] path, JsonNode? value, bool remove = false)
    {
        var parent = usage;
        foreach (var step in path[..^1])
        {
            parent = parent[step] as JsonObject ?? (JsonObject)(parent[step] = new JsonObject());
        }

        if (remove)
        {
            parent.Remove(path[^1]);
        }
        else
        {
            parent[path[^1]] = value;
        }

        return usage;
    }

    private static void AssertInvalid(TokenUsage usage, string because)
    {
        Assert.IsTrue(usage.Reported, $"{because}: usage was present");
        Assert.IsTrue(usage.Invalid, $"{because}: the figures are invalid");
        Assert.IsFalse(usage.Billable, because);
        Assert.AreEqual(0, usage.InputTokens, because);
        Assert.AreEqual(0, usage.OutputTokens, because);
        Assert.AreEqual(0, usage.CachedInputTokens, because);
        Assert.AreEqual(0, usage.CacheWriteTokens, because);
        Assert.AreEqual(0, usage.ReasoningTokens, because);
    }

    [TestMethod]
    public void ValidUsage_OfEveryFormat_IsReadAsBefore()
    {
        var openai = OpenAI(OpenAIUsage());
        Assert.IsTrue(openai.Billable);
        Assert.AreEqual((19L, 10L, 4L, 0L, 2L), (openai.InputTokens, openai.OutputTokens, openai.CachedInputTokens, openai.CacheWriteTokens, openai.ReasoningTokens));

        var anthropic = Anthropic(AnthropicUsage());
        Assert.IsTrue(anthropic.Billable);
        Assert.AreEqual((33L, 12L, 5L, 3L), (anthropic.InputTokens, anthropic.OutputTokens, anthropic.CachedInputTokens, anthropic.CacheWriteTokens), "input counts cache reads and writes too");

        var gemini = Gemini(GeminiUsage());
        Assert.IsTrue(gemini.Billable);
        Assert.AreEqual((10L, 15L, 2L, 3L), (gemini.InputTokens, gemini.OutputTokens, gemini.CachedInputTokens, gemini.ReasoningTokens), "tool-use prompt is input, thoughts are output");

        var bedrock = Bedrock(BedrockUsage());
        Assert.IsTrue(bedrock.Billable);
        Assert.AreEqual((40L, 7L, 4L, 6L), (bedrock.InputTokens, bedrock.OutputTokens, bedrock.CachedInputTokens, bedrock.CacheWriteTokens));
    }

    [TestMethod]
    public void WholeNumbersWrittenAsDecimals_AndTheBoundItself_AreValid()
    {
        var usage = OpenAI(new JsonObject { ["prompt_tokens"] = JsonNode.Parse("12.0"), ["completion_tokens"] = JsonNode.Parse("3e2") });
        Assert.IsTrue(usage.Billable);
        Assert.AreEqual((12L, 300L), (usage.InputTokens, usage.OutputTokens));

        var bound = OpenAI(new JsonObject { ["prompt_tokens"] = TokenUsage.MaxTokensPerCall, ["completion_tokens"] = 0 });
        Assert.IsTrue(bound.Billable);
        Assert.AreEqual(TokenUsage.MaxTokensPerCall, bound.InputTokens);
    }

    [TestMethod]
    public void NoUsageObject_IsNotReported_InEveryFormat()
    {
        Assert.IsFalse(OpenAIChatAdapter.ReadUsage(new JsonObject()).Reported);
        Assert.IsFalse(OpenAIChatAdapter.ReadUsage(new JsonObject { ["usage"] = null }).Reported);
        Assert.IsFalse(AnthropicMessagesAdapter.ReadUsage(new JsonObject()).Reported);
        Assert.IsFalse(GeminiTranslation.ReadUsage(new JsonObject()).Reported);
        Assert.IsFalse(BedrockConverseAdapter.ReadUsage(new JsonObject()).Reported);
        Assert.IsFalse(BedrockConverseAdapter.ReadUsage(null).Reported);
    }

    [TestMethod]
    public void AnyBadValue_InAnyField_MakesTheUsageInvalid()
    {
        foreach (var (format, path, _, valid, read) in Fields())
        {
            foreach (var (name, value) in BadValues)
            {
                AssertInvalid(read(With(valid(), path, value?.DeepClone())), $"{format} {string.Join('.', path)} {name}");
            }
        }
    }

    [TestMethod]
    public void RequiredCounts_MissingOrNull_MakeTheUsageInvalid_OptionalOnesCountZero()
    {
        foreach (var (format, path, required, valid, read) in Fields())
        {
            var missing = read(With(valid(), path, null, remove: true));
            var nulled = read(With(valid(), path, null));
            var field = $"{format} {string.Join('.', path)}";
            if (required)
            {
                AssertInvalid(missing, field + " missing");
                AssertInvalid(nulled, field + " null");
            }
            else
            {
                Assert.IsTrue(missing.Billable, field + " may be absent");
                Assert.IsTrue(nulled.Billable, field + " may be null");
                Assert.AreEqual(missing, nulled, field);
            }
        }
    }

    [TestMethod]
    public void EmptyUsageObject_IsInvalid_InEveryFormat()
    {
        AssertInvalid(OpenAI([]), "openai {}");
        AssertInvalid(Anthropic([]), "anthropic {}");
        AssertInvalid(Gemini([]), "gemini {}");
        AssertInvalid(Bedrock([]), "bedrock {}");
    }

    [TestMethod]
    public void GeminiWithoutOutput_OnlyThePromptCount_IsValid()
    {
        // A blocked prompt: Gemini reports the prompt and the total, no candidates.
        var usage = Gemini(new JsonObject { ["promptTokenCount"] = 8, ["totalTokenCount"] = 8 });
        Assert.IsTrue(usage.Billable);
        Assert.AreEqual((8L, 0L), (usage.InputTokens, usage.OutputTokens));
    }

    [TestMethod]
    public void GeminiWithOutput_NeedsItsCandidatesCount()
    {
        static JsonObject Answer(JsonObject part, JsonObject usage) => new()
        {
            ["candidates"] = new JsonArray(new JsonObject { ["content"] = new JsonObject { ["parts"] = new JsonArray(part), ["role"] = "model" }, ["finishReason"] = "STOP" }),
            ["usageMetadata"] = usage,
        };

        var promptOnly = new JsonObject { ["promptTokenCount"] = 8, ["totalTokenCount"] = 8 };
        AssertInvalid(GeminiTranslation.ReadUsage(Answer(new JsonObject { ["text"] = "Hello" }, promptOnly)), "text without candidatesTokenCount");
        AssertInvalid(GeminiTranslation.ReadUsage(Answer(new JsonObject { ["functionCall"] = new JsonObject { ["name"] = "f" } }, promptOnly.DeepClone().AsObject())), "a call without candidatesTokenCount");
        Assert.IsTrue(GeminiTranslation.ReadUsage(Answer(new JsonObject { ["text"] = "thinking", ["thought"] = true }, promptOnly.DeepClone().AsObject())).Billable, "thoughts alone are not candidates");
        var counted = GeminiTranslation.ReadUsage(Answer(new JsonObject { ["text"] = "Hello" }, new JsonObject { ["promptTokenCount"] = 8, ["candidatesTokenCount"] = 2 }));
        Assert.IsTrue(counted.Billable);
        Assert.AreEqual((8L, 2L), (counted.InputTokens, counted.OutputTokens));

        var stream = new GeminiStreamAccumulator();
        stream.Observe(ServerSentEvent.Create(null, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9}}"));
        AssertInvalid(stream.Usage, "a Gemini stream with output and no candidatesTokenCount");
    }

    [TestMethod]
    public void OptionalDetailObjects_NullMeansAbsent_OtherShapesAreInvalid()
    {
        // vLLM-style servers send the detail objects as null.
        var nulls = OpenAI(new JsonObject { ["prompt_tokens"] = 5, ["completion_tokens"] = 6, ["prompt_tokens_details"] = null, ["completion_tokens_details"] = null });
        Assert.IsTrue(nulls.Billable);
        Assert.AreEqual((5L, 6L, 0L), (nulls.InputTokens, nulls.OutputTokens, nulls.CachedInputTokens));

        AssertInvalid(OpenAI(new JsonObject { ["prompt_tokens"] = 5, ["completion_tokens"] = 6, ["prompt_tokens_details"] = "4" }), "details as a string");
        AssertInvalid(OpenAI(new JsonObject { ["prompt_tokens"] = 5, ["completion_tokens"] = 6, ["prompt_tokens_details"] = new JsonArray() }), "details as an array");
    }

    [TestMethod]
    public void StreamReaders_ReadTheFinalUsageThroughTheSameRules()
    {
        var openai = new OpenAIStreamAccumulator(forwardUsageChunk: false);
        openai.Observe(ServerSentEvent.Create(null, "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":-500,\"completion_tokens\":10}}"));
        openai.Observe(ServerSentEvent.Create(null, "[DONE]"));
        AssertInvalid(openai.Usage, "OpenAI stream with a negative prompt count");

        var anthropic = new AnthropicStreamAccumulator();
        anthropic.Observe(ServerSentEvent.Create("message_start", "{\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":\"25\",\"output_tokens\":1}}}"));
        anthropic.Observe(ServerSentEvent.Create("message_delta", "{\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":15}}"));
        AssertInvalid(anthropic.Usage, "Anthropic stream with a string input count");

        var anthropicNullOutput = new AnthropicStreamAccumulator();
        anthropicNullOutput.Observe(ServerSentEvent.Create("message_start", "{\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}"));
        anthropicNullOutput.Observe(ServerSentEvent.Create("message_delta", "{\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":null}}"));
        AssertInvalid(anthropicNullOutput.Usage, "Anthropic stream whose final output count is null (not the start's placeholder 1)");

        var gemini = new GeminiStreamAccumulator();
        gemini.Observe(ServerSentEvent.Create(null, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1.5,\"candidatesTokenCount\":2}}"));
        AssertInvalid(gemini.Usage, "Gemini stream with a fractional prompt count");

        var bedrock = new BedrockStreamAccumulator();
        bedrock.Observe(ServerSentEvent.Create("messageStop", "{\"stopReason\":\"end_turn\"}"));
        bedrock.Observe(ServerSentEvent.Create("metadata", "{\"usage\":{\"inputTokens\":1e12,\"outputTokens\":3}}"));
        AssertInvalid(bedrock.Usage, "Bedrock stream with an absurd input count");
    }
}
