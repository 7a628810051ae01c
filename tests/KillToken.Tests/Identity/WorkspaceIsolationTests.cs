using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Identity;

/// <summary>
/// Tenants never see each other (§1: the workspace is the tenant): another workspace's traces, credentials and
/// projects answer 404 — not 403, so ids cannot be probed — and workspace lifecycle follows seed 002's rules.
/// </summary>
[TestClass]
public sealed class WorkspaceIsolationTests
{
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

    [TestMethod]
    public async Task KeyOfA_CannotSeeTracesOfB()
    {
        var a = await _host.CreateTenantAsync("openai", "sk-tenant-a-0123456789abcdef");
        var b = await _host.CreateTenantAsync("openai", "sk-tenant-b-0123456789abcdef");
        var chatB = await GatewayHost.ReadJsonAsync(await ChatAsync(b, "b-secret-feature"), 200);
        var idOfB = chatB["metrics"]!["requestId"]!.GetValue<string>();
        await GatewayHost.ReadJsonAsync(await ChatAsync(a, "a-feature"), 200);

        Assert.AreEqual(200, (int)(await b.SendAsync(HttpMethod.Get, "v1/requests/" + idOfB)).StatusCode, "B sees its own trace");
        var single = await a.SendAsync(HttpMethod.Get, "v1/requests/" + idOfB);
        AssertError(await GatewayHost.ReadJsonAsync(single, 404), "not_found");

        var listA = await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "v1/requests?limit=200"), 200);
        Assert.AreEqual(1, listA["data"]!.AsArray().Count, "A's list holds only A's request");
        Assert.IsFalse(listA.ToJsonString().Contains(idOfB, StringComparison.Ordinal));
        var filtered = await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, $"v1/requests?project={b.ProjectId}"), 200);
        Assert.AreEqual(0, filtered["data"]!.AsArray().Count, "filtering on B's project id shows nothing of B");
        var byFeature = await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "v1/requests?feature=b-secret-feature"), 200);
        Assert.AreEqual(0, byFeature["data"]!.AsArray().Count);

        var sessionList = await a.SendAsync(HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/requests", session: true);
        AssertError(await GatewayHost.ReadJsonAsync(sessionList, 404), "not_found");
    }

    [TestMethod]
    public async Task KeyOfA_CannotReadChangeOrDeleteCredentialsOfB()
    {
        var a = await _host.CreateTenantAsync("openai", "sk-tenant-a-0123456789abcdef");
        var b = await _host.CreateTenantAsync("openai", "sk-tenant-b-0123456789abcdef");
        await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Patch, $"api/projects/{a.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true), 200);
        var listB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/provider-credentials", session: true), 200);
        var credentialB = listB["data"]![0]!.AsObject();
        var idOfB = credentialB["id"]!.GetValue<string>();

        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{idOfB}"), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Patch, $"v1/provider-credentials/{idOfB}", new { label = "hijacked", status = "disabled" }), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Post, $"v1/provider-credentials/{idOfB}/test"), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Delete, $"v1/provider-credentials/{idOfB}"), 404), "not_found");

        var listA = await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "v1/provider-credentials"), 200);
        Assert.AreEqual(1, listA["data"]!.AsArray().Count);
        Assert.IsFalse(listA.ToJsonString().Contains(idOfB, StringComparison.Ordinal), "A's list shows none of B's credentials");

        var afterB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{idOfB}"), 200);
        Assert.IsTrue(JsonNode.DeepEquals(credentialB, afterB), "B's credential is untouched");
        var before = _openai.Count;
        await GatewayHost.ReadJsonAsync(await ChatAsync(b), 200);
        Assert.AreEqual("Bearer sk-tenant-b-0123456789abcdef", _openai.Requests[before].Header("authorization"), "B still calls with its own key");
    }

    [TestMethod]
    public async Task UserNotAMember_Gets404_OnAnotherWorkspacesProjectsCredentialsAndProject()
    {
        var a = await _host.CreateTenantAsync("openai", "sk-tenant-a-0123456789abcdef");
        var b = await _host.CreateTenantAsync("openai", "sk-tenant-b-0123456789abcdef");
        var credentialsB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/provider-credentials", session: true), 200);
        var credentialIdOfB = credentialsB["data"]![0]!["id"]!.GetValue<string>();

        var attempts = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/projects", null),
            (HttpMethod.Post, $"api/workspaces/{b.WorkspaceId}/projects", new { name = "intruder" }),
            (HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/provider-credentials", null),
            (HttpMethod.Post, $"api/workspaces/{b.WorkspaceId}/provider-credentials", new { provider = "anthropic", apiKey = "sk-ant-intruder-0123456789" }),
            (HttpMethod.Patch, $"api/workspaces/{b.WorkspaceId}/provider-credentials/{credentialIdOfB}", new { status = "disabled" }),
            (HttpMethod.Post, $"api/workspaces/{b.WorkspaceId}/provider-credentials/{credentialIdOfB}/test", null),
            (HttpMethod.Delete, $"api/workspaces/{b.WorkspaceId}/provider-credentials/{credentialIdOfB}", null),
            (HttpMethod.Get, $"api/projects/{b.ProjectId}", null),
            (HttpMethod.Patch, $"api/projects/{b.ProjectId}", new { name = "renamed by A" }),
            (HttpMethod.Post, $"api/projects/{b.ProjectId}/regenerate-key", null),
            (HttpMethod.Post, $"api/projects/{b.ProjectId}/deactivate", null),
            (HttpMethod.Patch, $"api/workspaces/{b.WorkspaceId}", new { name = "renamed by A" }),
            (HttpMethod.Delete, $"api/workspaces/{b.WorkspaceId}", new { confirmName = "B" }),
        };

        foreach (var (method, path, body) in attempts)
        {
            var response = await a.SendAsync(method, path, body, session: true);
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(404, (int)response.StatusCode, $"{method} {path}: a stranger gets 404, not 403: {text}");
            Assert.AreEqual("not_found", JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
        }

        // B is exactly as it was: same key, same project, same credential, one project.
        var projectB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"api/projects/{b.ProjectId}", session: true), 200);
        Assert.AreEqual("test project", projectB["name"]!.GetValue<string>());
        Assert.IsTrue(projectB["active"]!.GetValue<bool>());
        var projectsB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/projects", session: true), 200);
        Assert.AreEqual(1, projectsB["data"]!.AsArray().Count);
        var credentialsAfter = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, $"api/workspaces/{b.WorkspaceId}/provider-credentials", session: true), 200);
        Assert.IsTrue(JsonNode.DeepEquals(credentialsB, credentialsAfter));
        Assert.AreEqual(200, (int)(await ChatAsync(b)).StatusCode);
        var workspacesB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, "api/workspaces", session: true), 200);
        Assert.AreEqual(b.WorkspaceId, workspacesB["data"]![0]!["id"]!.GetValue<string>());
        Assert.AreNotEqual("renamed by A", workspacesB["data"]![0]!["name"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task UnknownIds_Are404_SameAsStrangersIds()
    {
        var a = await _host.CreateTenantAsync("openai", "sk-tenant-a-0123456789abcdef");

        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "api/projects/prj_doesnotexist0000000", session: true), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "api/workspaces/ws_doesnotexist00000000/projects", session: true), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "v1/requests/req_doesnotexist0000000"), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, "v1/provider-credentials/cred_doesnotexist00000"), 404), "not_found");
    }

    [TestMethod]
    public async Task Workspaces_CreateRenameList_CannotDeleteOnlyOne_DeletedDisappears()
    {
        var (token, firstId) = await _host.SignUpAsync();
        var me = new Tenant(_host, token, firstId, "", "");

        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{firstId}", new { confirmName = "x" }, session: true), 409), "conflict");

        var created = await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Post, "api/workspaces", new { name = "Second" }, session: true), 201);
        var secondId = created["id"]!.GetValue<string>();
        Assert.AreEqual("Second", created["name"]!.GetValue<string>());
        Assert.AreEqual("owner", created["role"]!.GetValue<string>());

        var renamed = await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Patch, $"api/workspaces/{secondId}", new { name = "Second, renamed" }, session: true), 200);
        Assert.AreEqual("Second, renamed", renamed["name"]!.GetValue<string>());

        var list = await ListWorkspaceIdsAsync(me);
        CollectionAssert.AreEquivalent(new[] { firstId, secondId }, list);
        var (projectInSecond, _) = await _host.CreateProjectAsync(token, secondId);

        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{secondId}", new { }, session: true), 400), "validation_failed");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{secondId}",
            new { confirmName = "second, renamed" }, session: true), 400), "validation_failed");
        var deleted = await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{secondId}", new { confirmName = "Second, renamed" }, session: true);
        Assert.AreEqual(204, (int)deleted.StatusCode, await deleted.Content.ReadAsStringAsync());

        CollectionAssert.AreEquivalent(new[] { firstId }, await ListWorkspaceIdsAsync(me));
        var meBody = await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Get, "api/me", session: true), 200);
        Assert.AreEqual(1, meBody["workspaces"]!.AsArray().Count);
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Get, $"api/workspaces/{secondId}/projects", session: true), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Get, $"api/projects/{projectInSecond}", session: true), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{secondId}", new { confirmName = "Second, renamed" }, session: true), 404), "not_found");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Delete, $"api/workspaces/{firstId}", new { confirmName = "x" }, session: true), 409), "conflict");
    }

    [TestMethod]
    public async Task DeletedWorkspace_ItsProjectKeysStopWorking()
    {
        // Contract is silent; seed 002 deletes "the workspace and its associated data" — a key that keeps
        // spending the workspace's provider credential after the owner deleted it is not what a user expects.
        var (token, firstId) = await _host.SignUpAsync();
        var owner = new Tenant(_host, token, firstId, "", "");
        var second = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Post, "api/workspaces", new { name = "Doomed" }, session: true), 201);
        var secondId = second["id"]!.GetValue<string>();
        var (projectId, key) = await _host.CreateProjectAsync(token, secondId);
        var tenant = new Tenant(_host, token, secondId, projectId, key);
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{secondId}/provider-credentials",
            new { provider = "openai", apiKey = "sk-doomed-workspace-0123456789" }, session: true), 201);
        Assert.AreEqual(200, (int)(await ChatAsync(tenant)).StatusCode);

        Assert.AreEqual(204, (int)(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{secondId}", new { confirmName = "Doomed" }, session: true)).StatusCode);
        var before = _openai.Count;
        var chat = await ChatAsync(tenant);

        AssertError(await GatewayHost.ReadJsonAsync(chat, 401), "invalid_api_key");
        Assert.AreEqual(before, _openai.Count, "a deleted workspace's credential is not spent any more");
        Assert.AreEqual(401, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/provider-credentials")).StatusCode);
    }

    [TestMethod]
    [DataRow("{\"name\":\"\"}", DisplayName = "empty name")]
    [DataRow("{}", DisplayName = "no name")]
    [DataRow("{\"name\":42}", DisplayName = "name is a number")]
    public async Task Workspace_CreateOrRenameWithBadName_400(string body)
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var me = new Tenant(_host, token, workspaceId, "", "");
        var longName = new string('w', 101);

        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Post, "api/workspaces", body, session: true), 400), "validation_failed");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}", body, session: true), 400), "validation_failed");
        AssertError(await GatewayHost.ReadJsonAsync(await me.SendAsync(HttpMethod.Post, "api/workspaces", new { name = longName }, session: true), 400), "validation_failed");
        Assert.AreEqual(1, (await ListWorkspaceIdsAsync(me)).Length, "nothing was created");
    }

    private static async Task<string[]> ListWorkspaceIdsAsync(Tenant user)
    {
        var list = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Get, "api/workspaces", session: true), 200);
        return [.. list["data"]!.AsArray().Select(w => w!["id"]!.GetValue<string>())];
    }

    private static Task<HttpResponseMessage> ChatAsync(Tenant tenant, string feature = "isolation") =>
        tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } }, metadata = new { feature } });

    private static void AssertError(JsonObject body, string code)
    {
        var error = body["error"] as JsonObject;
        Assert.IsNotNull(error, body.ToJsonString());
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), body.ToJsonString());
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["requestId"]?.GetValue<string>()));
    }
}
