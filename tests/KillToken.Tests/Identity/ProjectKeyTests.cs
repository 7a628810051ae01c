using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Identity;

/// <summary>Project API keys (§1, §2, §8): shown once, revocable at once, accepted from every SDK header, scoped.</summary>
[TestClass]
public sealed partial class ProjectKeyTests
{
    private const string ProviderSecret = "sk-project-key-tests-upstream-0123456789";
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
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

    [GeneratedRegex("^kt_live_[0-9A-Za-z]{32,}$")]
    private static partial Regex KeyShape();

    [TestMethod]
    public async Task CreateProject_ShowsKeyOnce_LaterReadsOnlyShowPreview()
    {
        var (token, workspaceId) = await _host.SignUpAsync();

        var created = await GatewayHost.ReadJsonAsync(await Session(token, HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", new { name = "billing bot" }), 201);

        var key = created["apiKey"]!.GetValue<string>();
        StringAssert.Matches(key, KeyShape());
        var projectId = created["project"]!["id"]!.GetValue<string>();
        var preview = created["project"]!["keyPreview"]!.GetValue<string>();
        Assert.IsTrue(preview.StartsWith("kt_live_", StringComparison.Ordinal), preview);
        Assert.IsTrue(preview.Length < key.Length - 20, "the preview shows too little of the key to use it");
        Assert.IsTrue(key.StartsWith(preview.TrimEnd('…'), StringComparison.Ordinal), "the preview is the key's start");
        Assert.IsFalse(created["project"]!.ToJsonString().Contains(key, StringComparison.Ordinal));

        var get = await GatewayHost.ReadJsonAsync(await Session(token, HttpMethod.Get, $"api/projects/{projectId}"), 200);
        var list = await GatewayHost.ReadJsonAsync(await Session(token, HttpMethod.Get, $"api/workspaces/{workspaceId}/projects"), 200);
        var patched = await GatewayHost.ReadJsonAsync(await Session(token, HttpMethod.Patch, $"api/projects/{projectId}", new { name = "billing bot 2" }), 200);
        var deactivated = await GatewayHost.ReadJsonAsync(await Session(token, HttpMethod.Post, $"api/projects/{projectId}/deactivate"), 200);
        foreach (var read in new[] { get, list, patched, deactivated })
        {
            var text = read.ToJsonString();
            Assert.IsFalse(text.Contains(key, StringComparison.Ordinal), "the key is never shown again: " + text);
            Assert.IsFalse(text.Contains(key[8..], StringComparison.Ordinal), "not even its random part");
            Assert.IsNull(read["apiKey"]);
        }

        Assert.AreEqual(preview, get["keyPreview"]!.GetValue<string>());
        Assert.AreEqual(preview, list["data"]![0]!["keyPreview"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task ActivatingAnActiveProject_ChangesNothing_NotEvenUpdatedAt()
    {
        var tenant = await _host.CreateTenantAsync();
        var before = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);

        var again = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/activate", session: true), 200);

        Assert.IsTrue(again["active"]!.GetValue<bool>());
        Assert.AreEqual(before["updatedAt"]!.GetValue<string>(), again["updatedAt"]!.GetValue<string>(), "a repeated activate is not a change");
    }

    [TestMethod]
    public async Task TwoProjects_GetDifferentKeys()
    {
        var (token, workspaceId) = await _host.SignUpAsync();

        var (_, first) = await _host.CreateProjectAsync(token, workspaceId);
        var (_, second) = await _host.CreateProjectAsync(token, workspaceId);

        Assert.AreNotEqual(first, second);
    }

    [TestMethod]
    public async Task Deactivate_NextChatIs401_Activate_WorksAgain()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        Assert.AreEqual(200, (int)(await ChatAsync(tenant)).StatusCode);

        var deactivated = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/deactivate", session: true), 200);
        Assert.IsFalse(deactivated["active"]!.GetValue<bool>());
        var before = _openai.Count;
        var refused = await ChatAsync(tenant);
        AssertError(await GatewayHost.ReadJsonAsync(refused, 401), "invalid_api_key");
        Assert.AreEqual(before, _openai.Count, "a deactivated project's request never reaches the provider");
        Assert.AreEqual(401, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/requests")).StatusCode, "every key route refuses it");

        var activated = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/activate", session: true), 200);
        Assert.IsTrue(activated["active"]!.GetValue<bool>());
        Assert.AreEqual(200, (int)(await ChatAsync(tenant)).StatusCode);
    }

    [TestMethod]
    public async Task RegenerateKey_OldKeyDiesAtOnce_NewKeyWorks()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        Assert.AreEqual(200, (int)(await ChatAsync(tenant)).StatusCode);

        var regenerated = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/regenerate-key", session: true), 200);

        var newKey = regenerated["apiKey"]!.GetValue<string>();
        StringAssert.Matches(newKey, KeyShape());
        Assert.AreNotEqual(tenant.ApiKey, newKey);
        Assert.IsTrue(newKey.StartsWith(regenerated["project"]!["keyPreview"]!.GetValue<string>().TrimEnd('…'), StringComparison.Ordinal));
        AssertError(await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 401), "invalid_api_key");
        Assert.AreEqual(200, (int)(await ChatAsync(tenant with { ApiKey = newKey })).StatusCode);
        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        Assert.IsTrue(project["active"]!.GetValue<bool>(), "regenerating does not deactivate");
    }

    [TestMethod]
    [DataRow("Authorization", "Bearer {0}")]
    [DataRow("x-killtoken-key", "{0}")]
    [DataRow("x-api-key", "{0}")]
    [DataRow("api-key", "{0}")]
    [DataRow("x-goog-api-key", "{0}")]
    public async Task KeyInEachSdkHeader_IsAccepted_AndNeverForwardedUpstream(string header, string format)
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        var before = _openai.Count;
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat")
        {
            Content = JsonContent.Create(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }),
        };
        request.Headers.TryAddWithoutValidation(header, string.Format(System.Globalization.CultureInfo.InvariantCulture, format, tenant.ApiKey));

        var response = await _host.Client.SendAsync(request);

        await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual(before + 1, _openai.Count);
        var upstream = _openai.Requests[before];
        Assert.AreEqual("Bearer " + ProviderSecret, upstream.Header("authorization"), "the provider gets the workspace's own key");
        foreach (var (name, value) in upstream.Headers)
        {
            Assert.IsFalse(value.Contains(tenant.ApiKey, StringComparison.Ordinal), $"the KillToken key leaked upstream in '{name}'");
        }
    }

    [TestMethod]
    public async Task KeyWithoutAnalyticsScope_RequestsList403_ChatStillWorks()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        Assert.AreEqual(200, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/requests")).StatusCode, "a new key has analytics:read");
        var chat = await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 200);
        var traceId = chat["metrics"]!["requestId"]!.GetValue<string>();

        var patched = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { scopes = new[] { "chat" } }, session: true), 200);
        CollectionAssert.AreEquivalent(new[] { "chat" }, patched["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).ToArray());

        AssertError(await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests"), 403), "insufficient_scope");
        AssertError(await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + traceId), 403), "insufficient_scope");
        Assert.AreEqual(200, (int)(await ChatAsync(tenant)).StatusCode);
    }

    [TestMethod]
    public async Task CredentialWrites_NeedCredentialsWriteScope()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        var credential = new { provider = "anthropic", apiKey = "sk-ant-scope-test-0123456789abcdef" };

        var refused = await tenant.SendAsync(HttpMethod.Post, "v1/provider-credentials", credential);
        AssertError(await GatewayHost.ReadJsonAsync(refused, 403), "insufficient_scope");
        var list = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/provider-credentials"), 200);
        Assert.AreEqual(1, list["data"]!.AsArray().Count, "the refused write created nothing; reads need no write scope");

        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true), 200);

        var created = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "v1/provider-credentials", credential), 201);
        Assert.AreEqual("anthropic", created["provider"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task UnknownScope_400()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);

        var response = await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { scopes = new[] { "chat", "admin:everything" } }, session: true);

        AssertError(await GatewayHost.ReadJsonAsync(response, 400), "validation_failed");
    }

    [TestMethod]
    public async Task BudgetFields_PatchRoundTrip()
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        var path = $"api/projects/{tenant.ProjectId}";

        var patched = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, path,
            new { dailyBudgetUsd = 12.5m, monthlyBudgetUsd = (decimal?)null, fallbackModel = "gpt-4o-mini", alertEmail = "ops@example.com" }, session: true), 200);
        var read = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200);

        foreach (var project in new[] { patched, read })
        {
            Assert.AreEqual(12.5m, project["dailyBudgetUsd"]!.GetValue<decimal>());
            Assert.IsTrue(project.ContainsKey("monthlyBudgetUsd"), "monthlyBudgetUsd is always present");
            Assert.IsNull(project["monthlyBudgetUsd"], "null = no limit");
            Assert.AreEqual("gpt-4o-mini", project["fallbackModel"]!.GetValue<string>());
            Assert.AreEqual("ops@example.com", project["alertEmail"]!.GetValue<string>());
        }

        var monthly = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, path, new { monthlyBudgetUsd = 300 }, session: true), 200);
        Assert.AreEqual(300m, monthly["monthlyBudgetUsd"]!.GetValue<decimal>());
        Assert.AreEqual(12.5m, monthly["dailyBudgetUsd"]!.GetValue<decimal>(), "fields not sent stay as they were");

        var cleared = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, path,
            new { dailyBudgetUsd = (decimal?)null, fallbackModel = (string?)null, alertEmail = (string?)null }, session: true), 200);
        Assert.IsNull(cleared["dailyBudgetUsd"]);
        Assert.IsNull(cleared["fallbackModel"]);
        Assert.IsNull(cleared["alertEmail"]);
        Assert.AreEqual(300m, cleared["monthlyBudgetUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    [DataRow("{\"dailyBudgetUsd\":-1}", DisplayName = "negative daily budget")]
    [DataRow("{\"monthlyBudgetUsd\":-0.01}", DisplayName = "negative monthly budget")]
    [DataRow("{\"dailyBudgetUsd\":\"10\"}", DisplayName = "budget as a string")]
    [DataRow("{\"alertEmail\":\"not-an-email\"}", DisplayName = "alert email without @")]
    public async Task InvalidBudgetFields_400_ProjectUnchanged(string body)
    {
        var tenant = await _host.CreateTenantAsync("openai", ProviderSecret);
        var path = $"api/projects/{tenant.ProjectId}";
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, path, new { dailyBudgetUsd = 5, monthlyBudgetUsd = 50, alertEmail = "a@example.com" }, session: true), 200);

        var response = await tenant.SendAsync(HttpMethod.Patch, path, body, session: true);

        AssertError(await GatewayHost.ReadJsonAsync(response, 400), "validation_failed");
        var read = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200);
        Assert.AreEqual(5m, read["dailyBudgetUsd"]!.GetValue<decimal>());
        Assert.AreEqual(50m, read["monthlyBudgetUsd"]!.GetValue<decimal>());
        Assert.AreEqual("a@example.com", read["alertEmail"]!.GetValue<string>());
    }

    private static Task<HttpResponseMessage> ChatAsync(Tenant tenant) =>
        tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });

    private static async Task<HttpResponseMessage> Session(string token, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _host.Client.SendAsync(request);
    }

    private static void AssertError(JsonObject body, string code)
    {
        var error = body["error"] as JsonObject;
        Assert.IsNotNull(error, body.ToJsonString());
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), body.ToJsonString());
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["requestId"]?.GetValue<string>()));
    }
}
