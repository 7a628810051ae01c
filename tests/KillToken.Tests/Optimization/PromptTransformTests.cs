using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Optimization;

namespace KillToken.Tests.Optimization;

[TestClass]
public sealed class PromptTransformTests
{
    private static JsonObject Msg(string role, string content) => new() { ["role"] = role, ["content"] = content };

    private static string Content(IReadOnlyList<JsonObject> messages, int index = 0) => messages[index]["content"]!.GetValue<string>();

    [TestMethod]
    [DataRow("Hello    world  \n\n\n\nBye", "Hello world\n\nBye")]
    [DataRow("a\t\tb   c", "a b c")]
    [DataRow("trailing   \nnext", "trailing\nnext")]
    public void Whitespace_CollapsesRedundantRuns(string input, string expected) =>
        Assert.AreEqual(expected, Content(new WhitespaceTransform().Apply([Msg("user", input)])));

    [TestMethod]
    [DataRow("```\nx    =    1\n\n\n\ny = 2\n```")]
    [DataRow("run `ls    -la` now")]
    [DataRow("say \"a    b\" please")]
    [DataRow("- item\n    - nested item\n        - deeper")]
    [DataRow("plain text with single spaces.\nSecond line.")]
    public void Whitespace_NeverTouchesCodeQuotesOrIndentation(string input) =>
        Assert.AreEqual(input, Content(new WhitespaceTransform().Apply([Msg("user", input)])));

    [TestMethod]
    public void Whitespace_AppliesToTextPartsOnly()
    {
        var message = new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "text", ["text"] = "look   at   this" },
                new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "https://example.com/a  b.png" } }),
        };

        var result = new WhitespaceTransform().Apply([message])[0];

        Assert.AreEqual("look at this", result["content"]![0]!["text"]!.GetValue<string>());
        Assert.AreEqual("https://example.com/a  b.png", result["content"]![1]!["image_url"]!["url"]!.GetValue<string>());
        Assert.AreEqual("look   at   this", message["content"]![0]!["text"]!.GetValue<string>(), "the input is never modified");
    }

    [TestMethod]
    public void Duplicates_RemovesOnlyAdjacentExactCopies()
    {
        var messages = new[] { Msg("system", "Be brief."), Msg("user", "Hi"), Msg("user", "Hi"), Msg("assistant", "Hello"), Msg("user", "Hi") };

        var result = new DuplicateMessageTransform().Apply(messages);

        CollectionAssert.AreEqual(new[] { "Be brief.", "Hi", "Hello", "Hi" }, result.Select(m => m["content"]!.GetValue<string>()).ToArray());
    }

    [TestMethod]
    public void Duplicates_KeepsSameTextFromAnotherRole()
    {
        var messages = new[] { Msg("user", "ok"), Msg("assistant", "ok") };
        Assert.AreEqual(2, new DuplicateMessageTransform().Apply(messages).Count);
    }

    [TestMethod]
    public void Json_MinifiesAWholeJsonMessage_KeepingStringsByteForByte()
    {
        var pretty = "{\n  \"name\": \"Ada  Lovelace\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ],\n  \"note\": \"line\\n  two\"\n}";

        var result = Content(new JsonMinifyTransform().Apply([Msg("user", pretty)]));

        Assert.AreEqual("{\"name\":\"Ada  Lovelace\",\"tags\":[\"a\",\"b\"],\"note\":\"line\\n  two\"}", result);
        Assert.IsTrue(JsonNode.DeepEquals(JsonNode.Parse(pretty), JsonNode.Parse(result)));
    }

    [TestMethod]
    public void Json_MinifiesFencedJsonBlocks_AndLeavesOtherFences()
    {
        var input = "Data:\n```json\n{\n  \"a\": 1,\n  \"b\": [ 1, 2 ]\n}\n```\nCode:\n```python\nx = {  'a' : 1 }\n```";

        var result = Content(new JsonMinifyTransform().Apply([Msg("user", input)]));

        Assert.AreEqual("Data:\n```json\n{\"a\":1,\"b\":[1,2]}\n```\nCode:\n```python\nx = {  'a' : 1 }\n```", result);
    }

    [TestMethod]
    [DataRow("{ not json at all }")]
    [DataRow("{\"a\":1}")]
    [DataRow("Here is { \"a\" : 1 } inline")]
    public void Json_LeavesInvalidCompactOrUndelimitedJsonAlone(string input) =>
        Assert.AreEqual(input, Content(new JsonMinifyTransform().Apply([Msg("user", input)])));

    [TestMethod]
    public void MeasureOnly_ReportsWasteByCategory_AndSendsTheMessagesUnchanged()
    {
        var system = "You are a support assistant for ACME. Answer in two sentences.";
        var messages = new[]
        {
            Msg("system", system),
            Msg("user", "Order   status   please.\n\n\n\n\nThanks"),
            Msg("user", "Order   status   please.\n\n\n\n\nThanks"),
            Msg("user", "Reminder: " + system),
            Msg("user", "{\n    \"order\": 42,\n    \"items\": [\n        1,\n        2\n    ]\n}"),
        };

        var result = new PromptOptimizer().Optimize(messages, OptimizationMode.MeasureOnly);

        Assert.AreSame(messages, result.Messages);
        Assert.AreEqual(0, result.SavedTokens);
        foreach (var category in new[] { "whitespace", "duplicate_message", "repeated_system_prompt", "json_pretty" })
        {
            Assert.IsTrue(result.WasteByCategory.GetValueOrDefault(category) > 0, $"{category} is measured");
        }

        Assert.AreEqual(result.WasteByCategory.Values.Sum(), result.WasteTokens);
    }

    [TestMethod]
    public void Safe_AppliesOnlyMeaningPreservingTransforms_AndReportsSavedTokens()
    {
        var system = "You are a support assistant for ACME. Answer in two sentences.";
        var messages = new[] { Msg("system", system), Msg("user", "a    b"), Msg("user", "a    b"), Msg("user", "Remember: " + system) };

        var result = new PromptOptimizer().Optimize(messages, OptimizationMode.Safe);

        Assert.AreEqual(3, result.Messages.Count, "the adjacent duplicate is gone");
        Assert.AreEqual("a b", Content(result.Messages, 1));
        Assert.AreEqual("Remember: " + system, Content(result.Messages, 2), "a repeated system prompt is measured, never removed");
        Assert.IsTrue(result.SavedTokens > 0);
        Assert.AreEqual(TokenEstimator.EstimateMessages(messages) - TokenEstimator.EstimateMessages(result.Messages), result.SavedTokens);
        Assert.AreEqual(TokenEstimator.EstimateMessages(result.Messages), result.InputTokens,
            "the budget reserves for what is sent, from the optimizer's estimate");
        Assert.AreEqual(TokenEstimator.EstimateMessages(messages), new PromptOptimizer().Optimize(messages, OptimizationMode.MeasureOnly).InputTokens);
    }

    [TestMethod]
    public void Safe_LeavesCleanPromptsByteForByte()
    {
        var messages = new[] { Msg("system", "Be brief."), Msg("user", "```\nif (x)  {  y();  }\n```\nWhy does this \"  fail \"?") };

        var result = new PromptOptimizer().Optimize(messages, OptimizationMode.Safe);

        Assert.AreEqual(0, result.SavedTokens);
        for (var i = 0; i < messages.Length; i++)
        {
            Assert.IsTrue(JsonNode.DeepEquals(messages[i], result.Messages[i]));
        }
    }

    [TestMethod]
    public void Boilerplate_IsTheSystemPromptOfATemplateTheWorkspaceAlreadySent()
    {
        var optimizer = new PromptOptimizer();
        var first = optimizer.Optimize([Msg("system", "You classify support tickets by urgency."), Msg("user", "Ticket 1: printer on fire")], OptimizationMode.MeasureOnly, "ws_a");
        var second = optimizer.Optimize([Msg("system", "You classify support tickets by urgency."), Msg("user", "Ticket 2: printer on fire")], OptimizationMode.MeasureOnly, "ws_a");
        var otherTenant = optimizer.Optimize([Msg("system", "You classify support tickets by urgency."), Msg("user", "Ticket 3: printer on fire")], OptimizationMode.MeasureOnly, "ws_b");

        Assert.IsFalse(first.WasteByCategory.ContainsKey("template_boilerplate"));
        Assert.AreEqual(TokenEstimator.EstimateText("You classify support tickets by urgency."), second.WasteByCategory["template_boilerplate"]);
        Assert.IsFalse(otherTenant.WasteByCategory.ContainsKey("template_boilerplate"), "templates are remembered per workspace");
    }

    [TestMethod]
    public void Template_SameForVariableParts_DifferentForDifferentPrompts()
    {
        var a = TemplateFingerprint.Of([Msg("system", "Summarise ticket."), Msg("user", "Ticket 4812 from ann@example.com on 2026-11-02: \"printer jam\" order AB12CD34")]);
        var b = TemplateFingerprint.Of([Msg("system", "Summarise ticket."), Msg("user", "Ticket 77 from bob@example.org on 2026-10-30: \"no power\" order ZX98YU76")]);
        var c = TemplateFingerprint.Of([Msg("system", "Translate to French."), Msg("user", "Ticket 77 from bob@example.org on 2026-10-30: \"no power\" order ZX98YU76")]);

        Assert.AreEqual(a, b);
        Assert.AreNotEqual(a, c);
        StringAssert.StartsWith(a, "tpl_");
    }
}
