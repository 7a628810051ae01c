using System.Text.Json.Nodes;
using KillToken.Core.Optimization;

namespace KillToken.Tests.Optimization;

/// <summary>
/// The estimator against prompt-token counts providers reported for published examples. The README states the error
/// these tests measure; they fail if it grows past the bound.
/// </summary>
[TestClass]
public sealed class TokenEstimatorTests
{
    public TestContext TestContext { get; set; } = null!;

    private static JsonObject Msg(string role, string content, string? name = null)
    {
        var message = new JsonObject { ["role"] = role, ["content"] = content };
        if (name is not null)
        {
            message["name"] = name;
        }

        return message;
    }

    public static IEnumerable<object[]> Fixtures()
    {
        // OpenAI API reference, "Create chat completion" example: usage.prompt_tokens = 19.
        yield return ["openai-reference-hello", new[] { Msg("system", "You are a helpful assistant."), Msg("user", "Hello!") }, 19L];

        // OpenAI cookbook "How to count tokens with tiktoken": 129 prompt tokens reported by the API for gpt-3.5-turbo / gpt-4.
        yield return ["openai-cookbook-jargon", new[]
        {
            Msg("system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
            Msg("system", "New synergies will help drive top-line growth.", "example_user"),
            Msg("system", "Things working well together will increase revenue.", "example_assistant"),
            Msg("system", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.", "example_user"),
            Msg("system", "Let's talk later when we're less busy about how to do better.", "example_assistant"),
            Msg("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
        }, 129L];
    }

    [TestMethod]
    [DynamicData(nameof(Fixtures))]
    public void Estimate_IsWithinTwentyPercentOfReportedPromptTokens(string name, JsonObject[] messages, long reported)
    {
        var estimate = TokenEstimator.EstimateMessages(messages);
        var error = Math.Abs(estimate - reported) / (double)reported;
        TestContext.WriteLine($"{name}: estimate {estimate}, reported {reported}, error {error:P1}");
        Assert.IsTrue(error <= 0.20, $"{name}: estimate {estimate} vs reported {reported} ({error:P1})");
    }
}
