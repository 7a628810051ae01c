using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Tests.Fuzz;

/// <summary>The fuzzer's own parts, so a green fuzz run means the gateway is right and not that the fuzzer looked away.</summary>
[TestClass]
public sealed class FuzzCheckerTests
{
    private static readonly JsonObject Template = new()
    {
        ["email"] = "a@example.com",
        ["count"] = 3,
        ["nested"] = new JsonObject { ["role"] = "user", ["flag"] = true },
        ["list"] = new JsonArray("x", 1),
    };

    [TestMethod]
    [DataRow(nameof(ErrorShape.Contract), "{\"error\":{\"code\":\"invalid_json\",\"message\":\"m\",\"requestId\":\"req_1\"}}", true)]
    [DataRow(nameof(ErrorShape.Contract), "{\"error\":{\"code\":\"\",\"message\":\"m\",\"requestId\":\"req_1\"}}", false)]
    [DataRow(nameof(ErrorShape.Contract), "{\"error\":{\"code\":\"x\",\"message\":\"m\"}}", false)]
    [DataRow(nameof(ErrorShape.Contract), "{\"error\":\"x\"}", false)]
    [DataRow(nameof(ErrorShape.Contract), "", false)]
    [DataRow(nameof(ErrorShape.Contract), "not json", false)]
    [DataRow(nameof(ErrorShape.OpenAI), "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_json\"}}", true)]
    [DataRow(nameof(ErrorShape.OpenAI), "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\"}}", false)]
    [DataRow(nameof(ErrorShape.OpenAI), "{\"error\":{\"code\":\"x\",\"message\":\"m\",\"requestId\":\"r\"}}", false)]
    [DataRow(nameof(ErrorShape.Anthropic), "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"m\"}}", true)]
    [DataRow(nameof(ErrorShape.Anthropic), "{\"error\":{\"code\":\"x\",\"message\":\"m\",\"requestId\":\"r\"}}", false)]
    [DataRow(nameof(ErrorShape.Gemini), "{\"error\":{\"code\":400,\"message\":\"m\",\"status\":\"INVALID_ARGUMENT\"}}", true)]
    [DataRow(nameof(ErrorShape.Gemini), "{\"error\":{\"code\":401,\"message\":\"m\",\"status\":\"UNAUTHENTICATED\"}}", false)]
    [DataRow(nameof(ErrorShape.Gemini), "{\"error\":{\"code\":\"invalid_json\",\"message\":\"m\",\"requestId\":\"r\"}}", false)]
    public void ShapeCheck_AcceptsOnlyTheRouteErrorShape(string shape, string body, bool accepted) =>
        Assert.AreEqual(accepted, FuzzRunner.ShapeProblem(Enum.Parse<ErrorShape>(shape), 400, body) is null, body);

    [TestMethod]
    public void EveryBodyCorruption_BuildsItsBytes_AndTheUnparseableOnesAreNotJson()
    {
        foreach (var input in FuzzInputs.Bodies)
        {
            for (var i = 0; i < 20; i++)
            {
                var payload = input.Make(Template, new Random(i));
                Assert.IsNotNull(payload.Bytes, input.Name);
                if (input.Expect == Expect.InvalidJson && !input.Name.Contains("surrogate", StringComparison.Ordinal) && !input.Name.Contains("duplicate", StringComparison.Ordinal))
                {
                    Assert.IsFalse(IsStrictJson(payload.Bytes), $"{input.Name} ({payload.Description}) must not be valid JSON text");
                }
            }
        }
    }

    [TestMethod]
    public void TheSweepsCorruptionLists_NameRealCorruptions()
    {
        var names = FuzzInputs.Bodies.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
        Assert.HasCount(FuzzInputs.Bodies.Count, names, "corruption names are unique");
        foreach (var name in FuzzPlans.CoreBodyNames.Concat(FuzzPlans.IgnoredBodyNames))
        {
            Assert.Contains(name, names);
        }
    }

    [TestMethod]
    public void DuplicateKeyCorruption_SendsTheKeyTwice()
    {
        var input = FuzzInputs.Bodies.Single(b => b.Name == "duplicate top-level key, another value");
        for (var i = 0; i < 20; i++)
        {
            var text = Encoding.UTF8.GetString(input.Make(Template, new Random(i)).Bytes!);
            var keys = Template.Select(p => p.Key).Where(k => text.Split($"\"{k}\":").Length - 1 == 2).ToList();
            Assert.HasCount(1, keys, text);
        }
    }

    [TestMethod]
    public void LoneSurrogateCorruption_SendsTheEscapeAsIs()
    {
        var input = FuzzInputs.Bodies.Single(b => b.Name.EndsWith("a value ending in a lone high surrogate \\ud800", StringComparison.Ordinal));
        var text = Encoding.UTF8.GetString(input.Make(Template, new Random(1)).Bytes!);
        StringAssert.Contains(text, "hi\\ud800\"");
    }

    [TestMethod]
    public void FieldMutations_CoverEveryOtherTypeOfEveryField()
    {
        foreach (var path in JsonSurgery.Paths(Template))
        {
            var kinds = FieldMutation.For(Template, path).Select(m => m.Kind).ToList();
            Assert.HasCount(FieldMutation.Kinds.Length - 1, kinds, path.ToString());
            foreach (var mutation in FieldMutation.For(Template, path))
            {
                var body = JsonNode.Parse(mutation.Apply(Template, new Random(3)).Bytes)!.AsObject();
                var value = JsonSurgery.Get(body, path);
                if (mutation.Kind == "missing")
                {
                    var parent = JsonSurgery.Get(body, path.Parent);
                    var removed = parent is JsonArray array
                        ? array.Count == ((JsonArray)JsonSurgery.Get(Template, path.Parent)!).Count - 1
                        : !((JsonObject)parent!).ContainsKey((string)path.Segments[^1]);
                    Assert.IsTrue(removed, $"{path} removed");
                }
                else
                {
                    Assert.AreEqual(mutation.Kind, FieldMutation.KindOf(value), path.ToString());
                }
            }
        }
    }

    [TestMethod]
    public void CaseRandom_IsTheSameForTheSameSeedFamilyAndIndex_AndDiffersOtherwise()
    {
        int[] Draw(string family, int index)
        {
            var rng = FuzzSettings.CaseRandom(family, index);
            return [.. Enumerable.Range(0, 8).Select(_ => rng.Next())];
        }

        CollectionAssert.AreEqual(Draw("bodies", 7), Draw("bodies", 7));
        CollectionAssert.AreNotEqual(Draw("bodies", 7), Draw("bodies", 8));
        CollectionAssert.AreNotEqual(Draw("bodies", 7), Draw("fields", 7));
    }

    /// <summary>Valid JSON text per RFC 8259 as far as System.Text.Json's strict reader checks it (UTF-8 included).</summary>
    private static bool IsStrictJson(byte[] bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 100_000 });
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
                {
                    _ = reader.GetString();
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }
}
