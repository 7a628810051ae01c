using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Wrappers;

/// <summary><c>/v1/gemini</c> (§2): the Gemini body to <c>generateContent</c> as written; answers unchanged; Google's error shape.</summary>
[TestClass]
public sealed class GeminiWrapperTests
{
    private static readonly JsonObject Answer = JsonNode.Parse("""
        {"candidates":[{"content":{"parts":[{"text":"Hello! How can I help?"}],"role":"model"},"finishReason":"STOP","avgLogprobs":-0.02}],
         "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":7,"totalTokenCount":15,
                          "promptTokensDetails":[{"modality":"TEXT","tokenCount":8}]},
         "modelVersion":"gemini-2.0-flash","responseId":"mAitaLmkHPPlz7IPvtfUqQ4"}
        """)!.AsObject();

    private static FakeUpstream _gemini = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _gemini = await FakeUpstream.StartAsync(FakeUpstream.Json(Answer));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_GEMINI_BASE_URL"] = _gemini.BaseAddress.ToString() });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _gemini.DisposeAsync();
    }

    [TestMethod]
    [DataRow("v1/gemini/v1beta/models/gemini-2.0-flash:generateContent")]
    [DataRow("proxy/gemini/v1beta/models/gemini-2.0-flash:generateContent")]
    [DataRow("proxy/gemini/v1beta/models/gemini-2.0-flash/generateContent")]
    public async Task NativeBody_GoesThroughUnchanged_AnswerUnchanged_MetricsInHeader(string path)
    {
        var tenant = await _host.CreateTenantAsync("gemini", "gemini-native-secret-key-0004");
        _gemini.Handler = FakeUpstream.Json(Answer);
        var before = _gemini.Count;
        var body = JsonNode.Parse("""
            {
              "systemInstruction": {"parts": [{"text": "Answer in one sentence."}]},
              "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
              "generationConfig": {"temperature": 0.3, "maxOutputTokens": 100, "thinkingConfig": {"thinkingBudget": 0}},
              "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
            }
            """)!.AsObject();

        var response = await WrapperTestKit.PostAsync(_host, path, body, new() { ["x-goog-api-key"] = tenant.ApiKey, ["x-killtoken-feature"] = "greeter" });

        Assert.IsTrue(JsonNode.DeepEquals(Answer, await GatewayHost.ReadJsonAsync(response, 200)));
        var upstream = _gemini.Requests[before];
        Assert.AreEqual("/v1beta/models/gemini-2.0-flash:generateContent", upstream.Path);
        Assert.AreEqual("gemini-native-secret-key-0004", upstream.Header("x-goog-api-key"));
        Assert.IsTrue(JsonNode.DeepEquals(body, upstream.Json), upstream.Body);
        var metrics = WrapperTestKit.MetricsHeader(response);
        Assert.AreEqual(15, metrics["totalTokens"]!.GetValue<long>());
        Assert.AreEqual("greeter", metrics["feature"]!.GetValue<string>());
        Assert.AreEqual("gemini-2.0-flash", metrics["model"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Errors_AreInGooglesShape()
    {
        var tenant = await _host.CreateTenantAsync("gemini");
        var openaiOnly = await _host.CreateTenantAsync("openai");
        const string path = "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent";
        const string hello = """{"contents":[{"parts":[{"text":"hi"}]}]}""";

        var unauthorized = await WrapperTestKit.PostAsync(_host, path, hello, new() { ["x-goog-api-key"] = "kt_live_" + new string('q', 40) });
        var e401 = (await GatewayHost.ReadJsonAsync(unauthorized, 401))["error"]!;
        Assert.AreEqual(401, e401["code"]!.GetValue<int>());
        Assert.AreEqual("UNAUTHENTICATED", e401["status"]!.GetValue<string>());

        var noContents = await WrapperTestKit.PostAsync(_host, path, """{"contents":[]}""", new() { ["x-goog-api-key"] = tenant.ApiKey });
        var e400 = (await GatewayHost.ReadJsonAsync(noContents, 400))["error"]!;
        Assert.AreEqual("INVALID_ARGUMENT", e400["status"]!.GetValue<string>());
        Assert.AreEqual("invalid_messages", e400["details"]![0]!["reason"]!.GetValue<string>());

        var noCredential = await WrapperTestKit.PostAsync(_host, path, hello, new() { ["x-goog-api-key"] = openaiOnly.ApiKey });
        var precondition = (await GatewayHost.ReadJsonAsync(noCredential, 400))["error"]!;
        Assert.AreEqual("FAILED_PRECONDITION", precondition["status"]!.GetValue<string>());
        Assert.AreEqual("provider_credential_required", precondition["details"]![0]!["reason"]!.GetValue<string>());
    }
}
