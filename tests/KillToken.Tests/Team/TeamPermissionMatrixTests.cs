using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Team;

/// <summary>
/// The team spec's permission matrix through the real gateway: every management route × owner / admin / member /
/// outsider → the expected status (403 <c>forbidden</c> for a member without the role, 404 <c>not_found</c> for someone
/// who is not a member, so ids cannot be probed). One workspace for the class; a route that destroys or changes its
/// target gets a fresh target per case (a fresh credential, member, invite, or a whole fresh team for the workspace
/// delete), and a refused destructive call is checked to have changed nothing.
/// </summary>
[TestClass]
public sealed class TeamPermissionMatrixTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static TeamGateway _gateway = null!;
    private static TeamWorkspace _team = null!;
    private static string _projectId = null!;
    private static string _credentialId = null!;

    /// <summary>A request to make, and (for destructive routes) a check of its effect: allowed → done, refused → nothing changed.</summary>
    private sealed record Call(HttpMethod Method, string Path, object? Body = null, Func<bool, Task>? Check = null);

    /// <summary>A route of the matrix: the status an owner, an admin and a member get (an outsider always gets 404).</summary>
    private sealed record MatrixRoute(string Name, int Owner, int Admin, int Member, Func<TeamWorkspace, Task<Call>> Prepare, bool FreshTeam = false)
    {
        public int Expected(string role) => role switch
        {
            "owner" => Owner,
            "admin" => Admin,
            "member" => Member,
            _ => 404,
        };
    }

    private static string Ws => _team.Id;

    private static readonly MatrixRoute[] MatrixRoutes =
    [
        new("GET /api/workspaces/{ws}", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}"))),
        new("PATCH /api/workspaces/{ws}", 200, 403, 403, t => Task.FromResult(new Call(HttpMethod.Patch, $"api/workspaces/{t.Id}", new { name = t.Name }))),
        new("DELETE /api/workspaces/{ws}", 204, 403, 403, t => Task.FromResult(new Call(HttpMethod.Delete, $"api/workspaces/{t.Id}", new { confirmName = t.Name },
            async allowed => Assert.AreEqual(!allowed, (await t.Owner.WorkspacesAsync()).ContainsKey(t.Id),
                allowed ? "the deleted workspace is still listed" : "a refused delete removed the workspace"))), FreshTeam: true),

        new("GET /api/workspaces/{ws}/projects", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/projects"))),
        new("GET /api/projects/{id}", 200, 200, 200, _ => Task.FromResult(new Call(HttpMethod.Get, $"api/projects/{_projectId}"))),
        new("POST /api/workspaces/{ws}/projects", 201, 201, 403, t => Task.FromResult(new Call(HttpMethod.Post, $"api/workspaces/{t.Id}/projects", new { name = "matrix project" }))),
        new("PATCH /api/projects/{id}", 200, 200, 403, _ => Task.FromResult(new Call(HttpMethod.Patch, $"api/projects/{_projectId}", new { name = "matrix renamed" }))),
        new("POST /api/projects/{id}/regenerate-key", 200, 200, 403, _ => Task.FromResult(new Call(HttpMethod.Post, $"api/projects/{_projectId}/regenerate-key"))),
        new("POST /api/projects/{id}/deactivate", 200, 200, 403, _ => Task.FromResult(new Call(HttpMethod.Post, $"api/projects/{_projectId}/deactivate"))),
        new("POST /api/projects/{id}/activate", 200, 200, 403, _ => Task.FromResult(new Call(HttpMethod.Post, $"api/projects/{_projectId}/activate"))),

        new("GET …/provider-credentials", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/provider-credentials"))),
        new("POST …/provider-credentials", 201, 201, 403, t => Task.FromResult(new Call(HttpMethod.Post, $"api/workspaces/{t.Id}/provider-credentials",
            new { provider = "anthropic", apiKey = "sk-ant-matrix-0123456789abcdef" }))),
        new("PATCH …/provider-credentials/{id}", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Patch, $"api/workspaces/{t.Id}/provider-credentials/{_credentialId}",
            new { label = "matrix label" }))),
        new("DELETE …/provider-credentials/{id}", 204, 204, 403, async t =>
        {
            var id = await NewCredentialAsync(t);
            return new Call(HttpMethod.Delete, $"api/workspaces/{t.Id}/provider-credentials/{id}", null, async allowed =>
            {
                var listed = (await t.Owner.GetAsync($"api/workspaces/{t.Id}/provider-credentials"))["data"]!.AsArray().Any(c => c!["id"]!.GetValue<string>() == id);
                Assert.AreEqual(!allowed, listed, allowed ? "deleted credential still listed" : "a refused delete removed the credential");
            });
        }),
        new("POST …/provider-credentials/{id}/test", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Post, $"api/workspaces/{t.Id}/provider-credentials/{_credentialId}/test"))),

        new("GET /api/workspaces/{ws}/pricing", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/pricing"))),
        new("PUT /api/workspaces/{ws}/pricing", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Put, $"api/workspaces/{t.Id}/pricing",
            new { models = new[] { new { provider = "openai", model = "gpt-4o-mini", input = 0.10m, output = 0.40m } } }))),
        new("GET /api/workspaces/{ws}/requests", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/requests"))),

        new("GET /api/analytics/overview", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/overview?workspaceId={t.Id}"))),
        new("GET /api/analytics/trends", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/trends?workspaceId={t.Id}"))),
        new("GET /api/analytics/providers", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/providers?workspaceId={t.Id}"))),
        new("GET /api/analytics/models", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/models?workspaceId={t.Id}"))),
        new("GET /api/analytics/projects", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/projects?workspaceId={t.Id}"))),
        new("GET /api/analytics/features", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/features?workspaceId={t.Id}"))),
        new("GET /api/analytics/export.csv", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={t.Id}"))),
        new("POST /api/analytics/monthly-digest/test", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={t.Id}"))),

        new("GET …/members", 200, 200, 200, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/members"))),
        new("PATCH …/members/{other member}", 200, 200, 403, async t =>
        {
            var target = await TeamKit.NewMemberAsync(t, "member");
            return new Call(HttpMethod.Patch, $"api/workspaces/{t.Id}/members/{target.UserId}", new { role = "admin" }, async allowed =>
                Assert.AreEqual(allowed ? "admin" : "member", (await TeamKit.MembersAsync(t.Owner, t.Id))[target.UserId]));
        }),
        new("DELETE …/members/{other member}", 204, 204, 403, async t =>
        {
            var target = await TeamKit.NewMemberAsync(t, "member");
            return new Call(HttpMethod.Delete, $"api/workspaces/{t.Id}/members/{target.UserId}", null, async allowed =>
                Assert.AreEqual(!allowed, (await TeamKit.MembersAsync(t.Owner, t.Id)).ContainsKey(target.UserId)));
        }),
        new("GET …/invites", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/invites"))),
        new("POST …/invites", 201, 201, 403, t => Task.FromResult(new Call(HttpMethod.Post, $"api/workspaces/{t.Id}/invites",
            new { email = $"matrix-{Guid.NewGuid():N}@example.com", role = "member" }))),
        new("POST …/invites/{id}/resend", 200, 200, 403, async t =>
            new Call(HttpMethod.Post, $"api/workspaces/{t.Id}/invites/{await NewInviteAsync(t)}/resend")),
        new("DELETE …/invites/{id}", 204, 204, 403, async t =>
        {
            var id = await NewInviteAsync(t);
            return new Call(HttpMethod.Delete, $"api/workspaces/{t.Id}/invites/{id}", null, async allowed =>
            {
                var listed = (await t.Owner.GetAsync($"api/workspaces/{t.Id}/invites"))["data"]!.AsArray().Any(i => i!["id"]!.GetValue<string>() == id);
                Assert.AreEqual(!allowed, listed, allowed ? "cancelled invite still listed" : "a refused cancel removed the invite");
            });
        }),
        new("GET …/audit", 200, 200, 403, t => Task.FromResult(new Call(HttpMethod.Get, $"api/workspaces/{t.Id}/audit"))),
    ];

    private static readonly string[] Roles = ["owner", "admin", "member", "outsider"];

    public static IEnumerable<object[]> Cases => MatrixRoutes.SelectMany(r => Roles.Select(role => new object[] { r.Name, role }));

    public static string CaseName(System.Reflection.MethodInfo _, object[] row) => $"{row[0]} as {row[1]}";

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(OpenAI);
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        });
        _gateway = new TeamGateway(_host);
        _team = await TeamKit.CreateTeamAsync(_gateway);
        var project = await _team.Owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{Ws}/projects", new { name = "shared" }, 201);
        _projectId = project["project"]!["id"]!.GetValue<string>();
        _credentialId = await NewCredentialAsync(_team);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    /// <summary>The models list for the credential test, a chat completion for everything else.</summary>
    private static Task OpenAI(HttpContext context, UpstreamRequest request) => request.Path.EndsWith("/models", StringComparison.Ordinal)
        ? FakeUpstream.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray(new JsonObject { ["id"] = "gpt-4o-mini", ["object"] = "model" }) })(context, request)
        : FakeUpstream.Json(Fixtures.OpenAIChatCompletion())(context, request);

    private static async Task<string> NewCredentialAsync(TeamWorkspace team)
    {
        var created = await team.Owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/provider-credentials",
            new { provider = "openai", apiKey = "sk-matrix-0123456789abcdef" }, 201);
        return created["id"]!.GetValue<string>();
    }

    private static async Task<string> NewInviteAsync(TeamWorkspace team)
    {
        var invite = await team.Owner.InviteAsync(team.Id, $"pending-{Guid.NewGuid():N}@example.com", "member");
        return invite["invite"]!["id"]!.GetValue<string>();
    }

    [TestMethod]
    [DynamicData(nameof(Cases), DynamicDataDisplayName = nameof(CaseName))]
    public async Task Route_AsRole_GetsTheMatrixStatus(string route, string role)
    {
        var matrixRoute = MatrixRoutes.Single(r => r.Name == route);
        var team = matrixRoute.FreshTeam ? await TeamKit.CreateTeamAsync(_gateway) : _team;
        var call = await matrixRoute.Prepare(team);
        var expected = matrixRoute.Expected(role);

        var response = await team.As(role).SendAsync(call.Method, call.Path, call.Body);

        switch (expected)
        {
            case 403:
                await TeamKit.AssertErrorAsync(response, 403, "forbidden", $"{route} as {role}");
                break;
            case 404:
                await TeamKit.AssertErrorAsync(response, 404, "not_found", $"{route} as {role}");
                break;
            default:
                await TeamKit.AssertStatusAsync(response, expected, $"{route} as {role}");
                break;
        }

        if (call.Check is not null)
        {
            await call.Check(expected is >= 200 and < 300);
        }
    }

    /// <summary>No session at all → 401 <c>unauthenticated</c> on every route of the matrix (and on accept).</summary>
    [TestMethod]
    public async Task EveryRoute_WithoutSession_Is401()
    {
        foreach (var matrixRoute in MatrixRoutes.Where(r => !r.FreshTeam))
        {
            var call = await matrixRoute.Prepare(_team);
            var response = await _gateway.SendAsync(null, call.Method, call.Path, call.Body);
            await TeamKit.AssertErrorAsync(response, 401, "unauthenticated", matrixRoute.Name + " without a session");
        }

        await TeamKit.AssertErrorAsync(await _gateway.SendAsync(null, HttpMethod.Delete, $"api/workspaces/{Ws}", new { confirmName = _team.Name }), 401, "unauthenticated");
        await TeamKit.AssertErrorAsync(await _gateway.SendAsync(null, HttpMethod.Post, "api/invites/abcdefghijklmnopqrstuvwxyz0123456789/accept"), 401, "unauthenticated");
    }

    /// <summary>A member uses the workspace's projects: reads them, and the project key works for it as for anyone.</summary>
    [TestMethod]
    public async Task Member_SeesTheWorkspace_WithItsRole_InItsListing()
    {
        Assert.AreEqual("owner", (await _team.Owner.WorkspacesAsync())[Ws]);
        Assert.AreEqual("admin", (await _team.Admin.WorkspacesAsync())[Ws]);
        Assert.AreEqual("member", (await _team.Member.WorkspacesAsync())[Ws]);
        Assert.IsFalse((await _team.Outsider.WorkspacesAsync()).ContainsKey(Ws));
        var workspace = await _team.Member.GetAsync($"api/workspaces/{Ws}");
        Assert.AreEqual("member", workspace["role"]!.GetValue<string>());
        Assert.AreEqual(_team.Name, workspace["name"]!.GetValue<string>());
    }
}
