using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Team;

/// <summary>
/// Losing access takes effect on the very next request, with the same session token (not at token expiry): a removed
/// or departed member, and every member of a soft-deleted workspace, get 404 on it and no longer see it listed; the
/// deleted workspace's project keys answer 401 on the next call. Plus the delete's own rules (exact name, owner only,
/// never the only workspace).
/// </summary>
[TestClass]
public sealed class AccessCutTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static TeamGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        });
        _gateway = new TeamGateway(_host);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    private static object Chat => new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } };

    private static async Task<(string ProjectId, string ApiKey)> ProjectWithCredentialAsync(TeamWorkspace team)
    {
        var project = await team.Owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "cut" }, 201);
        await team.Owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/provider-credentials", new { provider = "openai", apiKey = "sk-access-cut-0123456789abcdef" }, 201);
        return (project["project"]!["id"]!.GetValue<string>(), project["apiKey"]!.GetValue<string>());
    }

    private static Task<HttpResponseMessage> ChatWithKeyAsync(string apiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat") { Content = System.Net.Http.Json.JsonContent.Create(Chat) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        return _host.Client.SendAsync(request);
    }

    /// <summary>Every workspace route the person could use a moment ago: each now answers 404 not_found.</summary>
    private static async Task AssertLockedOutAsync(Person person, string workspaceId, string projectId, string because)
    {
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}"), 404, "not_found", because);
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/projects"), 404, "not_found", because);
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/projects/{projectId}"), 404, "not_found", because);
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/members"), 404, "not_found", because);
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/provider-credentials"), 404, "not_found", because);
        await TeamKit.AssertErrorAsync(await person.SendAsync(HttpMethod.Get, $"api/analytics/overview?workspaceId={workspaceId}"), 404, "not_found", because);
        Assert.IsFalse((await person.WorkspacesAsync()).ContainsKey(workspaceId), $"{because}: gone from GET /api/workspaces");
        CollectionAssert.DoesNotContain(await person.MeWorkspaceIdsAsync(), workspaceId, $"{because}: gone from GET /api/me");
    }

    [TestMethod]
    public async Task RemovedMember_NextRequestWithTheSameToken_Is404_AndTheWorkspaceLeavesItsListing()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (projectId, _) = await ProjectWithCredentialAsync(team);
        // The member uses the workspace right before (a cached membership must not outlive the removal).
        Assert.AreEqual(200, (int)(await team.Member.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/projects")).StatusCode);
        Assert.AreEqual(200, (int)(await team.Member.SendAsync(HttpMethod.Get, $"api/projects/{projectId}")).StatusCode);

        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{team.Member.UserId}"), 204);

        await AssertLockedOutAsync(team.Member, team.Id, projectId, "removed member");
        CollectionAssert.Contains((await team.Member.WorkspacesAsync()).Keys, team.Member.HomeWorkspaceId, "the session itself still works for its own workspace");
        Assert.IsFalse((await TeamKit.MembersAsync(team.Owner, team.Id)).ContainsKey(team.Member.UserId), "gone from the member list");
    }

    [TestMethod]
    public async Task RemovedMember_InvitedAgain_RejoinsWithTheNewRole_OnTheSameToken()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{team.Member.UserId}"), 204);
        await TeamKit.AssertErrorAsync(await team.Member.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}"), 404, "not_found");

        await TeamKit.JoinAsync(team.Admin, team.Id, team.Member, "admin");

        Assert.AreEqual("admin", (await team.Member.WorkspacesAsync())[team.Id]);
        Assert.AreEqual(200, (int)(await team.Member.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit")).StatusCode, "the new role applies on the next request");
    }

    [TestMethod]
    public async Task RemovedAdmin_CannotManageOnTheNextRequest()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (projectId, _) = await ProjectWithCredentialAsync(team);
        await team.Admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "by admin" }, 201);

        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{team.Admin.UserId}"), 204);

        await TeamKit.AssertErrorAsync(await team.Admin.SendAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "after removal" }), 404, "not_found");
        await TeamKit.AssertErrorAsync(await team.Admin.SendAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/invites",
            new { email = $"late-{Guid.NewGuid():N}@example.com", role = "member" }), 404, "not_found");
        await TeamKit.AssertErrorAsync(await team.Admin.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/regenerate-key"), 404, "not_found");
        await AssertLockedOutAsync(team.Admin, team.Id, projectId, "removed admin");
    }

    [TestMethod]
    public async Task MemberWhoLeft_NextRequestIs404()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (projectId, _) = await ProjectWithCredentialAsync(team);

        await TeamKit.AssertStatusAsync(await team.Member.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{team.Member.UserId}"), 204);

        await AssertLockedOutAsync(team.Member, team.Id, projectId, "member who left");
    }

    [TestMethod]
    public async Task DeletedWorkspace_EveryMembersNextRequestIs404_ListingsDropIt_AndItsKeyIs401()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (projectId, apiKey) = await ProjectWithCredentialAsync(team);
        var pending = await team.Owner.InviteAsync(team.Id, $"pending-{Guid.NewGuid():N}@example.com", "member");
        await TeamKit.AssertStatusAsync(await ChatWithKeyAsync(apiKey), 200);
        foreach (var person in new[] { team.Owner, team.Admin, team.Member })
        {
            Assert.AreEqual(200, (int)(await person.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}")).StatusCode);
        }

        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 204);

        foreach (var (person, role) in new[] { (team.Owner, "owner"), (team.Admin, "admin"), (team.Member, "member") })
        {
            await AssertLockedOutAsync(person, team.Id, projectId, $"{role} of a deleted workspace");
        }

        var before = _openai.Count;
        await TeamKit.AssertErrorAsync(await ChatWithKeyAsync(apiKey), 401, "invalid_api_key", "the deleted workspace's project key");
        Assert.AreEqual(before, _openai.Count, "the deleted workspace's credential is not spent");
        await TeamKit.AssertErrorAsync(await _gateway.SendAsync(null, HttpMethod.Get, $"api/invites/{TeamKit.TokenOf(pending)}"), 404, "not_found", "an invite into a deleted workspace");
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 404, "not_found", "deleted twice");
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}", new { name = "revived" }), 404, "not_found");
    }

    [TestMethod]
    public async Task InviteIntoADeletedWorkspace_CannotBeAccepted()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var invitee = await _gateway.SignUpAsync();
        var invite = await team.Owner.InviteAsync(team.Id, invitee.Email, "admin");
        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 204);

        var accept = await invitee.AcceptAsync(TeamKit.TokenOf(invite));

        Assert.IsFalse(accept.IsSuccessStatusCode, await accept.Content.ReadAsStringAsync());
        Assert.IsFalse((await invitee.WorkspacesAsync()).ContainsKey(team.Id));
    }

    [TestMethod]
    [DataRow(null, DisplayName = "no confirmName")]
    [DataRow("", DisplayName = "empty confirmName")]
    [DataRow("UPPER", DisplayName = "the name in another case")]
    [DataRow("TRAILING", DisplayName = "the name with a trailing space")]
    [DataRow("other", DisplayName = "another name")]
    public async Task Delete_WithoutTheExactName_Is400_AndNothingIsDeleted(string? variant)
    {
        var team = await TeamKit.CreateTeamAsync(_gateway, "Acme Prod " + Guid.NewGuid().ToString("N")[..6]);
        object? body = variant switch
        {
            null => new { },
            "UPPER" => new { confirmName = team.Name.ToUpperInvariant() },
            "TRAILING" => new { confirmName = team.Name + " " },
            "other" => new { confirmName = "Acme Staging" },
            _ => new { confirmName = variant },
        };

        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", body), 400, "validation_failed");

        Assert.AreEqual("owner", (await team.Owner.WorkspacesAsync())[team.Id], "still there");
        Assert.AreEqual(200, (int)(await team.Member.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}")).StatusCode);
    }

    [TestMethod]
    public async Task Delete_AfterARename_NeedsTheCurrentName()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        await team.Owner.JsonAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}", new { name = team.Name + " renamed" }, 200);

        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 400, "validation_failed");
        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name + " renamed" }), 204);
    }

    [TestMethod]
    public async Task Delete_ByAdminOrMember_Is403_EvenWithTheRightName()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await team.Admin.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await team.Member.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await team.Outsider.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 404, "not_found");
        Assert.AreEqual("owner", (await team.Owner.WorkspacesAsync())[team.Id]);
    }

    [TestMethod]
    public async Task Delete_TheCallersOnlyWorkspace_Is409()
    {
        var alone = await _gateway.SignUpAsync();
        var name = (await alone.GetAsync($"api/workspaces/{alone.HomeWorkspaceId}"))["name"]!.GetValue<string>();

        await TeamKit.AssertErrorAsync(await alone.SendAsync(HttpMethod.Delete, $"api/workspaces/{alone.HomeWorkspaceId}", new { confirmName = name }), 409, "conflict");

        CollectionAssert.Contains((await alone.WorkspacesAsync()).Keys, alone.HomeWorkspaceId);
    }
}
