using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.NewUser;

/// <summary>
/// Answers no handler wrote — an unknown route, a wrong method — carry an error body a client can act on: the
/// contract's shape on KillToken's routes, the native SDK's shape on the wrapper routes (their SDKs parse only that).
/// </summary>
[TestClass]
public sealed class ErrorBodyTests
{
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _host = await GatewayHost.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _host.DisposeAsync();

    [TestMethod]
    [DataRow("GET", "v1/no-such-route", 404, "not_found")]
    [DataRow("POST", "api/nothing/here", 404, "not_found")]
    [DataRow("GET", "no-such-page", 404, "not_found")]
    [DataRow("GET", "v1/chat", 405, "method_not_allowed")]
    [DataRow("DELETE", "api/auth/signup", 405, "method_not_allowed")]
    [DataRow("PUT", "api/projects/prj_x", 405, "method_not_allowed")]
    [DataRow("OPTIONS", "health", 405, "method_not_allowed")]
    public async Task UnknownRouteOrWrongMethod_AnswersTheContractErrorBody(string method, string path, int status, string code)
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var body = await GatewayHost.ReadJsonAsync(response, status);

        Assert.AreEqual(code, body["error"]!["code"]!.GetValue<string>());
        Assert.IsFalse(string.IsNullOrWhiteSpace(body["error"]!["message"]!.GetValue<string>()));
        Assert.AreEqual(response.Headers.GetValues("x-request-id").Single(), body["error"]!["requestId"]!.GetValue<string>());
        StringAssert.StartsWith(response.Content.Headers.ContentType!.MediaType, "application/json");
    }

    [TestMethod]
    public async Task WrongMethod_SaysWhichMethodsTheRouteTakes()
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/chat"));
        var body = await GatewayHost.ReadJsonAsync(response, 405);

        CollectionAssert.Contains(response.Content.Headers.Allow.ToList(), "POST");
        StringAssert.Contains(body["error"]!["message"]!.GetValue<string>(), "POST");
    }

    [TestMethod]
    [DataRow("GET", "v1/openai/chat/completions", 405)]
    [DataRow("POST", "v1/openai/embeddings", 404)]
    [DataRow("POST", "proxy/openai/v1/completions", 404)]
    public async Task OpenAIWrapper_AnswersOpenAIsErrorShape(string method, string path, int status)
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var error = (await GatewayHost.ReadJsonAsync(response, status))["error"]!.AsObject();

        Assert.AreEqual("invalid_request_error", error["type"]!.GetValue<string>());
        Assert.IsTrue(error.ContainsKey("param"), error.ToJsonString());
        Assert.AreEqual(status == 404 ? "not_found" : "method_not_allowed", error["code"]!.GetValue<string>());
    }

    [TestMethod]
    [DataRow("GET", "v1/anthropic/v1/messages", 405)]
    [DataRow("POST", "v1/anthropic/v1/complete", 404)]
    public async Task AnthropicWrapper_AnswersAnthropicsErrorShape(string method, string path, int status)
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var body = await GatewayHost.ReadJsonAsync(response, status);

        Assert.AreEqual("error", body["type"]!.GetValue<string>());
        Assert.AreEqual(status == 404 ? "not_found_error" : "invalid_request_error", body["error"]!["type"]!.GetValue<string>());
        Assert.IsFalse(string.IsNullOrEmpty(body["request_id"]?.GetValue<string>()));
    }

    [TestMethod]
    [DataRow("GET", "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent", 405, "INVALID_ARGUMENT")]
    [DataRow("POST", "v1/gemini/v1beta/models/gemini-2.0-flash:countTokens", 404, "NOT_FOUND")]
    public async Task GeminiWrapper_AnswersGooglesErrorShape(string method, string path, int status, string googleStatus)
    {
        using var response = await _host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var error = (await GatewayHost.ReadJsonAsync(response, status))["error"]!.AsObject();

        Assert.AreEqual(status, error["code"]!.GetValue<int>());
        Assert.AreEqual(googleStatus, error["status"]!.GetValue<string>());
        Assert.IsInstanceOfType<JsonArray>(error["details"]);
    }

    [TestMethod]
    public async Task AKnownRoute_StillAnswersItsOwnError_NotTheFallback()
    {
        using var response = await _host.Client.PostAsync("v1/chat", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        var body = await GatewayHost.ReadJsonAsync(response, 401);

        Assert.AreEqual("invalid_api_key", body["error"]!["code"]!.GetValue<string>());
    }
}
