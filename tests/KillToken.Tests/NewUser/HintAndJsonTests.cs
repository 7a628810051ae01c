using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.NewUser;

/// <summary>What a new user reads: an error's hint that leads somewhere, and JSON that reads as written.</summary>
[TestClass]
public sealed partial class HintAndJsonTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: "It's 1+1 <= 2 & that's \"fine\" — ok")));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    public async Task CredentialRequiredHint_LeadsANewProjectKeyToARouteThatWorks()
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var (projectId, apiKey) = await _host.CreateProjectAsync(token, workspaceId);
        var tenant = new Tenant(_host, token, workspaceId, projectId, apiKey);
        var chat = new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } };

        var refused = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(chat), 400);
        Assert.AreEqual("provider_credential_required", refused["error"]!["code"]!.GetValue<string>());
        var message = refused["error"]!["message"]!.GetValue<string>();

        // The key route the hint used to name alone refuses a new key: it lacks credentials:write.
        var byKey = await tenant.SendAsync(HttpMethod.Post, "v1/provider-credentials", new { provider = "openai", apiKey = "sk-test-0123456789abcdef" });
        var scopeError = await GatewayHost.ReadJsonAsync(byKey, 403);
        StringAssert.Contains(message, "credentials:write");
        StringAssert.Contains(scopeError["error"]!["message"]!.GetValue<string>(), $"PATCH /api/projects/{projectId}",
            "the scope error says how to get the scope");

        // Following the session route the hint names, as written, makes the next call succeed.
        var route = SessionRoute().Match(message);
        Assert.IsTrue(route.Success, message);
        var created = await tenant.SendAsync(HttpMethod.Post, route.Groups["path"].Value.TrimStart('/'), new { provider = "openai", apiKey = "sk-test-0123456789abcdef" }, session: true);
        await GatewayHost.ReadJsonAsync(created, 201);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(chat), 200);
    }

    [TestMethod]
    public async Task Responses_DoNotEscapeApostrophesPlusSignsOrHtmlCharacters()
    {
        var tenant = await _host.CreateTenantAsync();

        var chat = await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });
        var chatText = await chat.Content.ReadAsStringAsync();
        Assert.AreEqual(200, (int)chat.StatusCode, chatText);
        StringAssert.Contains(chatText, "It's 1+1 <= 2 & that's \\\"fine\\\" — ok");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/projects/{tenant.ProjectId}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tenant.Token);
        var projectText = await (await _host.Client.SendAsync(request)).Content.ReadAsStringAsync();
        Assert.IsTrue(TimestampWithOffset().IsMatch(projectText), projectText);

        foreach (var text in new[] { chatText, projectText })
        {
            Assert.IsFalse(text.Contains("\\u0027", StringComparison.Ordinal), text);
            Assert.IsFalse(text.Contains("\\u002B", StringComparison.OrdinalIgnoreCase), text);
            Assert.IsFalse(text.Contains("\\u003C", StringComparison.OrdinalIgnoreCase), text);
            Assert.IsNotNull(JsonNode.Parse(text));
        }
    }

    [TestMethod]
    public async Task ErrorMessages_ReadAsWritten()
    {
        var response = await _host.Client.PostAsJsonAsync("api/auth/login", new { email = "nobody@example.com" });
        var text = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(400, (int)response.StatusCode, text);
        StringAssert.Contains(text, "'email' and 'password' are required.");
    }

    [GeneratedRegex(@"POST (?<path>/api/workspaces/ws_[a-z0-9]+/provider-credentials)")]
    private static partial Regex SessionRoute();

    [GeneratedRegex(@"""\d{4}-\d{2}-\d{2}T[0-9:.]+\+00:00""")]
    private static partial Regex TimestampWithOffset();
}
