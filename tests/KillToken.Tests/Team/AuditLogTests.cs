using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Budgets;
using KillToken.Core.Ports;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Team;

/// <summary>
/// The audit log as an owner reads it through <c>GET /api/workspaces/{ws}/audit</c>: every action of the team spec's list
/// leaves exactly one event with the right event name, actor type, actor id, target, details and before/after changes,
/// from 127.0.0.1; newest first, filters by event and actor, cursor paging that visits every event once, 400 for a bad
/// cursor or limit, 403 for a member, 405 for any attempt to edit it. The deleted workspace's event is read from the
/// store (<see cref="IAuditLog"/>), since the API no longer shows the workspace.
/// </summary>
[TestClass]
public sealed class AuditLogTests
{
    private static FakeUpstream _openai = null!;
    private static SmtpTestServer _smtp = null!;
    private static GatewayHost _host = null!;
    private static TeamGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(OpenAI);
        _smtp = await SmtpTestServer.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = _smtp.Port.ToString(CultureInfo.InvariantCulture),
            ["SMTP_FROM"] = "audit@killtoken.test",
            ["SMTP_SECURE"] = "none",
        });
        _gateway = new TeamGateway(_host);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        _smtp.Dispose();
    }

    /// <summary>The models list for a credential test, a chat completion for everything else.</summary>
    internal static Task OpenAI(HttpContext context, UpstreamRequest request) => request.Path.EndsWith("/models", StringComparison.Ordinal)
        ? FakeUpstream.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray(new JsonObject { ["id"] = "gpt-4o-mini", ["object"] = "model" }) })(context, request)
        : FakeUpstream.Json(Fixtures.OpenAIChatCompletion())(context, request);

    private static string Id(JsonObject e) => e["id"]!.GetValue<string>();

    private static string? Detail(JsonObject e, string name) => TeamKit.Str(e["details"]?[name]);

    private static (string? Before, string? After) Change(JsonObject e, string field)
    {
        var change = e["changes"]?[field];
        Assert.IsNotNull(change, $"changes.{field} expected in {e.ToJsonString()}");
        return (TeamKit.Str(change["before"]), TeamKit.Str(change["after"]));
    }

    private static decimal? Money(string? text) => text is null ? null : decimal.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs <paramref name="action"/> and asserts the workspace's log gained exactly one event, with
    /// <paramref name="eventName"/>, the actor and the target; returns it for the details and changes.
    /// </summary>
    private static Task<JsonObject> ExpectOneAsync(Person reader, string workspaceId, Func<Task> action,
        string eventName, string actorType, string actorId, string? target) =>
        ExpectOneAsync(reader, workspaceId, action, eventName, actorType, actorId, () => target);

    /// <param name="target">Read after the action (an id the action creates).</param>
    private static async Task<JsonObject> ExpectOneAsync(Person reader, string workspaceId, Func<Task> action,
        string eventName, string actorType, string actorId, Func<string?> target)
    {
        var before = (await TeamKit.AuditAsync(reader, workspaceId)).Select(Id).ToHashSet();
        await action();
        var fresh = await NewEventsAsync(reader, workspaceId, before, expectAtLeast: 1);

        Assert.AreEqual(1, fresh.Count, $"{eventName}: exactly one new event, got {string.Join("\n", fresh.Select(e => e.ToJsonString()))}");
        var e = fresh[0];
        Assert.AreEqual(eventName, e["event"]?.GetValue<string>(), e.ToJsonString());
        Assert.AreEqual(actorType, e["actorType"]?.GetValue<string>(), $"{eventName}: {e.ToJsonString()}");
        Assert.AreEqual(actorId, e["actorId"]?.GetValue<string>(), $"{eventName}: {e.ToJsonString()}");
        Assert.AreEqual(target(), TeamKit.Str(e["target"]), $"{eventName}: {e.ToJsonString()}");
        Assert.AreEqual(workspaceId, e["workspaceId"]?.GetValue<string>(), $"{eventName}: {e.ToJsonString()}");
        Assert.IsFalse(string.IsNullOrEmpty(e["id"]?.GetValue<string>()));
        var at = DateTimeOffset.Parse(e["at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.IsTrue(Math.Abs((DateTimeOffset.UtcNow - at).TotalMinutes) < 10, $"{eventName}: at is now: {at:O}");
        if (actorType != "system")
        {
            Assert.AreEqual("127.0.0.1", e["clientAddress"]?.GetValue<string>(), $"{eventName}: the caller's address: {e.ToJsonString()}");
        }

        return e;
    }

    /// <summary>Runs <paramref name="action"/> and asserts the log gained nothing (an action that changed nothing).</summary>
    private static async Task ExpectNoneAsync(Person reader, string workspaceId, Func<Task> action, string because)
    {
        var before = (await TeamKit.AuditAsync(reader, workspaceId)).Select(Id).ToHashSet();
        await action();
        await Task.Delay(200);
        var fresh = await NewEventsAsync(reader, workspaceId, before, expectAtLeast: 0);
        Assert.AreEqual(0, fresh.Count, $"{because}: no event expected, got {string.Join("\n", fresh.Select(e => e.ToJsonString()))}");
    }

    /// <summary>The events not in <paramref name="before"/>; waits a little for events written after the response (exports).</summary>
    private static async Task<List<JsonObject>> NewEventsAsync(Person reader, string workspaceId, HashSet<string> before, int expectAtLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var fresh = (await TeamKit.AuditAsync(reader, workspaceId)).Where(e => !before.Contains(Id(e))).ToList();
            if (fresh.Count >= expectAtLeast || DateTime.UtcNow > deadline)
            {
                return fresh;
            }

            await Task.Delay(50);
        }
    }

    private static async Task Ok(Task<HttpResponseMessage> call, int status = 200) => await TeamKit.AssertStatusAsync(await call, status);

    [TestMethod]
    public async Task WorkspaceEvents_SignUpCreateRename_Budget()
    {
        var owner = await _gateway.SignUpAsync();
        var home = await TeamKit.AuditAsync(owner, owner.HomeWorkspaceId);
        Assert.AreEqual(1, home.Count, "sign-up leaves one event: " + string.Join("\n", home.Select(e => e.ToJsonString())));
        Assert.AreEqual("workspace_created", home[0]["event"]!.GetValue<string>());
        Assert.AreEqual("user", home[0]["actorType"]!.GetValue<string>());
        Assert.AreEqual(owner.UserId, home[0]["actorId"]!.GetValue<string>());
        Assert.AreEqual(owner.HomeWorkspaceId, home[0]["target"]!.GetValue<string>());

        var workspaceId = await owner.CreateWorkspaceAsync("Audit original");
        var created = await TeamKit.AuditAsync(owner, workspaceId);
        Assert.AreEqual(1, created.Count, "POST /api/workspaces leaves one event: " + string.Join("\n", created.Select(e => e.ToJsonString())));
        Assert.AreEqual("workspace_created", created[0]["event"]!.GetValue<string>());
        Assert.AreEqual(owner.UserId, created[0]["actorId"]!.GetValue<string>());
        Assert.AreEqual(workspaceId, created[0]["target"]!.GetValue<string>());
        Assert.AreEqual("127.0.0.1", created[0]["clientAddress"]?.GetValue<string>());

        var renamed = await ExpectOneAsync(owner, workspaceId, () => Ok(owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}", new { name = "Audit renamed" })),
            "workspace_updated", "user", owner.UserId, workspaceId);
        Assert.AreEqual(("Audit original", "Audit renamed"), Change(renamed, "name"));

        var budget = await ExpectOneAsync(owner, workspaceId, () => Ok(owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}", new { monthlyBudgetUsd = 100m })),
            "workspace_updated", "user", owner.UserId, workspaceId);
        var (before, after) = Change(budget, "monthlyBudgetUsd");
        Assert.IsNull(before);
        Assert.AreEqual(100m, Money(after));
        Assert.IsNull(budget["changes"]?["name"], "only the changed field");
    }


    [TestMethod]
    public async Task InviteAndMemberEvents()
    {
        var owner = await _gateway.SignUpAsync();
        var workspaceId = await owner.CreateWorkspaceAsync("Audit members");
        var admin = await _gateway.SignUpAsync();
        var member = await _gateway.SignUpAsync();

        JsonObject adminInvite = null!;
        var invited = await ExpectOneAsync(owner, workspaceId, async () => adminInvite = await owner.InviteAsync(workspaceId, admin.Email, "admin"),
            "member_invited", "user", owner.UserId, () => adminInvite["invite"]!["id"]!.GetValue<string>());
        Assert.AreEqual(admin.Email, Detail(invited, "email"), invited.ToJsonString());
        Assert.AreEqual("admin", Detail(invited, "role"), invited.ToJsonString());

        var accepted = await ExpectOneAsync(owner, workspaceId, () => Ok(admin.AcceptAsync(TeamKit.TokenOf(adminInvite))),
            "invite_accepted", "user", admin.UserId, adminInvite["invite"]!["id"]!.GetValue<string>());
        Assert.AreEqual("admin", Detail(accepted, "role"), accepted.ToJsonString());

        // The admin invites, resends and cancels: it is the actor.
        JsonObject memberInvite = null!;
        await ExpectOneAsync(owner, workspaceId, async () => memberInvite = await admin.InviteAsync(workspaceId, member.Email, "member"),
            "member_invited", "user", admin.UserId, () => memberInvite["invite"]!["id"]!.GetValue<string>());
        var memberInviteId = memberInvite["invite"]!["id"]!.GetValue<string>();
        JsonObject resent = null!;
        await ExpectOneAsync(owner, workspaceId, async () => resent = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{memberInviteId}/resend", null, 200),
            "invite_resent", "user", admin.UserId, memberInviteId);
        var memberAccepted = await ExpectOneAsync(owner, workspaceId, () => Ok(member.AcceptAsync(TeamKit.TokenOf(resent))),
            "invite_accepted", "user", member.UserId, memberInviteId);
        Assert.AreEqual("member", Detail(memberAccepted, "role"), memberAccepted.ToJsonString());

        var doomed = await owner.InviteAsync(workspaceId, $"doomed-{Guid.NewGuid():N}@example.com", "member");
        var doomedId = doomed["invite"]!["id"]!.GetValue<string>();
        await ExpectOneAsync(owner, workspaceId, () => Ok(admin.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{doomedId}"), 204),
            "invite_cancelled", "user", admin.UserId, doomedId);

        // Refused actions leave nothing.
        await ExpectNoneAsync(owner, workspaceId, async () =>
        {
            Assert.AreEqual(409, (int)(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email = member.Email, role = "member" })).StatusCode);
            Assert.AreEqual(403, (int)(await member.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/members/{admin.UserId}", new { role = "member" })).StatusCode);
            Assert.AreEqual(409, (int)(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/members/{owner.UserId}")).StatusCode);
            Assert.AreEqual(200, (int)(await owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/members/{member.UserId}", new { role = "member" })).StatusCode);
        }, "refused actions and a same-role no-op");

        var promoted = await ExpectOneAsync(owner, workspaceId, () => Ok(owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/members/{member.UserId}", new { role = "admin" })),
            "member_role_changed", "user", owner.UserId, member.UserId);
        Assert.AreEqual(("member", "admin"), Change(promoted, "role"));
        var demoted = await ExpectOneAsync(owner, workspaceId, () => Ok(admin.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/members/{member.UserId}", new { role = "member" })),
            "member_role_changed", "user", admin.UserId, member.UserId);
        Assert.AreEqual(("admin", "member"), Change(demoted, "role"));

        var left = await ExpectOneAsync(owner, workspaceId, () => Ok(member.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/members/{member.UserId}"), 204),
            "member_removed", "user", member.UserId, member.UserId);
        Assert.AreEqual("member", Detail(left, "role"), left.ToJsonString());
        Assert.AreEqual("true", Detail(left, "left"), left.ToJsonString());

        var removed = await ExpectOneAsync(owner, workspaceId, () => Ok(owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/members/{admin.UserId}"), 204),
            "member_removed", "user", owner.UserId, admin.UserId);
        Assert.AreEqual("admin", Detail(removed, "role"), removed.ToJsonString());
        Assert.AreNotEqual("true", Detail(removed, "left"), "removed, not left");
    }

    [TestMethod]
    public async Task ProjectEvents_CreateUpdateBudgetKeyActivation_AndNoEventWhenTheStateDidNotChange()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (owner, admin) = (team.Owner, team.Admin);

        JsonObject project = null!;
        var created = await ExpectOneAsync(owner, team.Id, async () => project = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "checkout" }, 201),
            "project_created", "user", admin.UserId, () => project["project"]!["id"]!.GetValue<string>());
        var projectId = project["project"]!["id"]!.GetValue<string>();
        Assert.AreEqual("checkout", Detail(created, "name"), created.ToJsonString());

        var renamed = await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { name = "checkout-v2" })),
            "project_updated", "user", admin.UserId, projectId);
        Assert.AreEqual(("checkout", "checkout-v2"), Change(renamed, "name"));

        var daily = await ExpectOneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { dailyBudgetUsd = 5m })),
            "budget_changed", "user", owner.UserId, projectId);
        var (dailyBefore, dailyAfter) = Change(daily, "dailyBudgetUsd");
        Assert.IsNull(dailyBefore);
        Assert.AreEqual(5m, Money(dailyAfter));

        var both = await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { monthlyBudgetUsd = 50m, name = "checkout-v3" })),
            "budget_changed", "user", admin.UserId, projectId);
        Assert.AreEqual(50m, Money(Change(both, "monthlyBudgetUsd").After));
        Assert.AreEqual(("checkout-v2", "checkout-v3"), Change(both, "name"), "changes of every changed field");

        var lowered = await ExpectOneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { dailyBudgetUsd = 2.5m })),
            "budget_changed", "user", owner.UserId, projectId);
        var (loweredBefore, loweredAfter) = Change(lowered, "dailyBudgetUsd");
        Assert.AreEqual(5m, Money(loweredBefore));
        Assert.AreEqual(2.5m, Money(loweredAfter));

        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/regenerate-key")),
            "key_regenerated", "user", admin.UserId, projectId);
        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/deactivate")),
            "project_deactivated", "user", admin.UserId, projectId);
        await ExpectNoneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/deactivate")), "deactivating an inactive project");
        await ExpectOneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/activate")),
            "project_activated", "user", owner.UserId, projectId);
        await ExpectNoneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Post, $"api/projects/{projectId}/activate")), "activating an active project");
        await ExpectNoneAsync(owner, team.Id, () => Ok(team.Member.SendAsync(HttpMethod.Get, $"api/projects/{projectId}")), "reading");

        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Put, $"api/workspaces/{team.Id}/pricing",
            new { models = new[] { new { provider = "openai", model = "gpt-4o-mini", input = 0.10m, output = 0.40m } } })),
            "pricing_changed", "user", admin.UserId, team.Id);
    }

    [TestMethod]
    public async Task CredentialEvents_BySessionAndByProjectKey()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var (owner, admin) = (team.Owner, team.Admin);

        JsonObject credential = null!;
        await ExpectOneAsync(owner, team.Id, async () => credential = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/provider-credentials",
                new { provider = "openai", label = "prod", apiKey = "sk-audit-0123456789abcdef" }, 201),
            "credential_created", "user", admin.UserId, () => credential["id"]!.GetValue<string>());
        var id = credential["id"]!.GetValue<string>();
        var path = $"api/workspaces/{team.Id}/provider-credentials/{id}";

        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Patch, path, new { apiKey = "sk-audit-rotated-0123456789abcdef" })),
            "credential_rotated", "user", admin.UserId, id);
        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Patch, path, new { status = "disabled" })),
            "credential_disabled", "user", admin.UserId, id);
        await ExpectOneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Patch, path, new { status = "active" })),
            "credential_enabled", "user", owner.UserId, id);
        var relabelled = await ExpectOneAsync(owner, team.Id, () => Ok(owner.SendAsync(HttpMethod.Patch, path, new { label = "primary" })),
            "credential_updated", "user", owner.UserId, id);
        Assert.AreEqual(("prod", "primary"), Change(relabelled, "label"));
        var tested = await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Post, path + "/test")),
            "credential_tested", "user", admin.UserId, id);
        await ExpectOneAsync(owner, team.Id, () => Ok(admin.SendAsync(HttpMethod.Delete, path), 204),
            "credential_deleted", "user", admin.UserId, id);

        // A project key with credentials:write acts as api_key, the project being the actor.
        var project = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "automation" }, 201);
        var projectId = project["project"]!["id"]!.GetValue<string>();
        var key = project["apiKey"]!.GetValue<string>();
        await owner.JsonAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, 200);

        JsonObject byKey = null!;
        await ExpectOneAsync(owner, team.Id, async () => byKey = await TeamKit.JsonAsync(await _gateway.SendAsync(key, HttpMethod.Post, "v1/provider-credentials",
                new { provider = "openai", apiKey = "sk-audit-bykey-0123456789abcdef" }), 201),
            "credential_created", "api_key", projectId, () => byKey["id"]!.GetValue<string>());
        var keyCredential = byKey["id"]!.GetValue<string>();
        await ExpectOneAsync(owner, team.Id, () => Ok(_gateway.SendAsync(key, HttpMethod.Patch, $"v1/provider-credentials/{keyCredential}", new { apiKey = "sk-audit-bykey-rotated-0123456789" })),
            "credential_rotated", "api_key", projectId, keyCredential);
        await ExpectOneAsync(owner, team.Id, () => Ok(_gateway.SendAsync(key, HttpMethod.Post, $"v1/provider-credentials/{keyCredential}/test")),
            "credential_tested", "api_key", projectId, keyCredential);
        await ExpectOneAsync(owner, team.Id, () => Ok(_gateway.SendAsync(key, HttpMethod.Delete, $"v1/provider-credentials/{keyCredential}"), 204),
            "credential_deleted", "api_key", projectId, keyCredential);

        var byActor = await TeamKit.AuditAsync(owner, team.Id, "&actor=" + projectId);
        Assert.AreEqual(4, byActor.Count, "the actor filter takes a project id");
        Assert.IsTrue(byActor.All(e => e["actorType"]!.GetValue<string>() == "api_key"));

        // Checked last, so a wrong detail does not hide the events above.
        Assert.AreEqual("true", Detail(tested, "ok")?.ToLowerInvariant(), tested.ToJsonString());
        Assert.AreEqual("openai", Detail(tested, "provider"), tested.ToJsonString());
    }

    [TestMethod]
    public async Task ExportAndDigestEvents_ByUserAndBySystem()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var owner = team.Owner;
        var project = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = "exports" }, 201);
        var projectId = project["project"]!["id"]!.GetValue<string>();
        var key = project["apiKey"]!.GetValue<string>();
        await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/provider-credentials", new { provider = "openai", apiKey = "sk-audit-export-0123456789abcdef" }, 201);
        await TeamKit.JsonAsync(await _gateway.SendAsync(key, HttpMethod.Post, "v1/chat",
            new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }), 200);

        await ExpectOneAsync(owner, team.Id, () => Ok(team.Member.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={team.Id}")),
            "export_downloaded", "user", team.Member.UserId, "api/analytics/export.csv");
        await ExpectOneAsync(owner, team.Id, () => Ok(_gateway.SendAsync(key, HttpMethod.Get, "v1/exports/requests.csv")),
            "export_downloaded", "api_key", projectId, "v1/exports/requests.csv");

        JsonObject digest = null!;
        var sent = await ExpectOneAsync(owner, team.Id, async () => digest = await team.Admin.JsonAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={team.Id}", null, 200),
            "digest_sent", "user", team.Admin.UserId, team.Id);
        Assert.AreEqual(DateTimeOffset.UtcNow.ToString("yyyy-MM", CultureInfo.InvariantCulture), Detail(sent, "month"), sent.ToJsonString());
        Assert.AreEqual(digest["emailDelivery"]!.GetValue<string>(), Detail(sent, "emailDelivery"), sent.ToJsonString());

        // The monthly job on the 1st: actor system.
        var now = DateTimeOffset.UtcNow;
        var firstOfNextMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 5, TimeSpan.Zero).AddMonths(1);
        var job = _host.Services.GetRequiredService<IPeriodCloseJob>();
        var before = (await TeamKit.AuditAsync(owner, team.Id)).Select(Id).ToHashSet();
        await job.RunAsync(firstOfNextMonth);
        var fresh = await NewEventsAsync(owner, team.Id, before, expectAtLeast: 1);
        var system = fresh.Where(e => e["event"]!.GetValue<string>() == "digest_sent").ToList();
        Assert.AreEqual(1, system.Count, "the job's digest: " + string.Join("\n", fresh.Select(e => e.ToJsonString())));
        Assert.AreEqual("system", system[0]["actorType"]!.GetValue<string>());
        Assert.AreEqual(team.Id, TeamKit.Str(system[0]["target"]));
        Assert.AreEqual(now.ToString("yyyy-MM", CultureInfo.InvariantCulture), Detail(system[0], "month"), "the ended month");
    }

    [TestMethod]
    public async Task WorkspaceDeleted_IsOneEventInTheStore()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}", new { confirmName = team.Name }), 204);

        var store = _host.Services.GetRequiredService<IAuditLog>();
        var page = await store.ListAsync(team.Id, new AuditQuery { Event = "workspace_deleted", Limit = 50 });
        Assert.AreEqual(1, page.Items.Count, "one workspace_deleted event");
        var e = page.Items[0];
        Assert.AreEqual("user", e.ActorType);
        Assert.AreEqual(team.Owner.UserId, e.ActorId);
        Assert.AreEqual(team.Id, e.Target);
        Assert.AreEqual(team.Id, e.WorkspaceId);
        Assert.AreEqual("127.0.0.1", e.ClientAddress);
        var all = await store.ListAsync(team.Id, new AuditQuery { Limit = 200 });
        Assert.AreEqual("workspace_deleted", all.Items[0].Event, "the newest event");
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit"), 404, "not_found", "the API no longer shows it");
    }

    [TestMethod]
    public async Task Filters_Paging_NewestFirst_AndEveryEventOnce()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        for (var i = 0; i < 7; i++)
        {
            var person = i % 2 == 0 ? team.Owner : team.Admin;
            await person.JsonAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/projects", new { name = $"p{i}" }, 201);
        }

        var all = await TeamKit.AuditAsync(team.Owner, team.Id);
        // workspace_created, 2 × (member_invited + invite_accepted), 7 × project_created.
        Assert.AreEqual(12, all.Count, string.Join("\n", all.Select(e => e.ToJsonString())));
        var times = all.Select(e => DateTimeOffset.Parse(e["at"]!.GetValue<string>(), CultureInfo.InvariantCulture)).ToList();
        CollectionAssert.AreEqual(times.OrderByDescending(t => t).ToList(), times, "newest first");
        Assert.AreEqual("workspace_created", all[^1]["event"]!.GetValue<string>(), "the oldest last");
        Assert.AreEqual(all.Count, all.Select(Id).Distinct().Count());

        var page = await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit");
        Assert.AreEqual(12, page["data"]!.AsArray().Count, "default limit 50 holds them all");
        Assert.IsNull(page["nextCursor"]?.GetValue<string>());

        // Paging with limit 3 visits every event once, in the same order.
        var visited = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var next = await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit?limit=3" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            var data = next["data"]!.AsArray();
            Assert.IsTrue(data.Count is > 0 and <= 3, $"page {pages}: {data.Count}");
            visited.AddRange(data.Select(e => e!["id"]!.GetValue<string>()));
            cursor = next["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 20);
        CollectionAssert.AreEqual(all.Select(Id).ToList(), visited, "every event once, newest first");
        Assert.AreEqual(4, pages);

        // Filters, alone and with paging.
        var projects = await TeamKit.AuditAsync(team.Owner, team.Id, "&event=project_created");
        Assert.AreEqual(7, projects.Count);
        Assert.IsTrue(projects.All(e => e["event"]!.GetValue<string>() == "project_created"));
        var byAdmin = await TeamKit.AuditAsync(team.Owner, team.Id, "&actor=" + team.Admin.UserId);
        Assert.AreEqual(all.Count(e => e["actorId"]!.GetValue<string>() == team.Admin.UserId), byAdmin.Count);
        Assert.AreEqual(4, byAdmin.Count, "3 projects and its own invite_accepted");
        var both = await TeamKit.AuditAsync(team.Owner, team.Id, $"&event=project_created&actor={team.Admin.UserId}");
        Assert.AreEqual(3, both.Count);

        var filteredVisited = new List<string>();
        cursor = null;
        pages = 0;
        do
        {
            var next = await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit?event=project_created&limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            filteredVisited.AddRange(next["data"]!.AsArray().Select(e => e!["id"]!.GetValue<string>()));
            cursor = next["nextCursor"]?.GetValue<string>();
            pages++;
        }
        while (cursor is not null && pages < 20);
        CollectionAssert.AreEqual(projects.Select(Id).ToList(), filteredVisited);

        // An event name the log never writes is a mistake worth saying, not an empty page.
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit?event=no_such_event"), 400, "validation_failed");
        Assert.AreEqual(0, (await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit?event=digest_sent"))["data"]!.AsArray().Count);
        Assert.AreEqual(1, (await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit?limit=1"))["data"]!.AsArray().Count);
        Assert.AreEqual(12, (await team.Owner.GetAsync($"api/workspaces/{team.Id}/audit?limit=200"))["data"]!.AsArray().Count);
    }

    [TestMethod]
    [DataRow("limit=0")]
    [DataRow("limit=201")]
    [DataRow("limit=-1")]
    [DataRow("limit=abc")]
    [DataRow("cursor=not-a-cursor")]
    [DataRow("cursor=eyJ0IjoiMjAyNi0wMS0wMSJ9")]
    public async Task BadLimitOrCursor_Is400(string query)
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit?{query}"), 400, "validation_failed", query);
    }

    [TestMethod]
    public async Task ACursorOfAnotherWorkspace_IsNotAWayIn()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var other = await TeamKit.CreateTeamAsync(_gateway);
        var otherPage = await other.Owner.GetAsync($"api/workspaces/{other.Id}/audit?limit=1");
        var cursor = otherPage["nextCursor"]!.GetValue<string>();

        var response = await team.Owner.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit?limit=1&cursor={Uri.EscapeDataString(cursor)}");

        if (response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync();
            foreach (var e in (await other.Owner.GetAsync($"api/workspaces/{other.Id}/audit")).AsObject()["data"]!.AsArray())
            {
                Assert.IsFalse(text.Contains(e!["id"]!.GetValue<string>(), StringComparison.Ordinal), "another workspace's events");
            }
        }
        else
        {
            await TeamKit.AssertErrorAsync(response, 400, "validation_failed");
        }
    }

    [TestMethod]
    public async Task ClientAddress_IsWhatTheServerSaw_NotAClaimedForwardedFor()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var before = (await TeamKit.AuditAsync(team.Owner, team.Id)).Select(Id).ToHashSet();

        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/workspaces/{team.Id}/projects") { Content = System.Net.Http.Json.JsonContent.Create(new { name = "spoofed" }) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", team.Admin.Token);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.7");
        request.Headers.TryAddWithoutValidation("X-Real-IP", "203.0.113.8");
        request.Headers.TryAddWithoutValidation("Forwarded", "for=203.0.113.9");
        await TeamKit.AssertStatusAsync(await _host.Client.SendAsync(request), 201);

        var fresh = await NewEventsAsync(team.Owner, team.Id, before, expectAtLeast: 1);
        Assert.AreEqual(1, fresh.Count);
        Assert.AreEqual("127.0.0.1", fresh[0]["clientAddress"]?.GetValue<string>(), fresh[0].ToJsonString());
    }

    [TestMethod]
    public async Task Audit_MemberIs403_OutsiderIs404_AndNoRouteEditsIt()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var before = (await TeamKit.AuditAsync(team.Owner, team.Id)).Select(Id).ToList();
        var anId = before[0];

        await TeamKit.AssertErrorAsync(await team.Member.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit"), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await team.Outsider.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit"), 404, "not_found");
        await TeamKit.AssertErrorAsync(await _gateway.SendAsync(null, HttpMethod.Get, $"api/workspaces/{team.Id}/audit"), 401, "unauthenticated");
        Assert.AreEqual(200, (int)(await team.Admin.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}/audit")).StatusCode);
        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Patch, HttpMethod.Delete })
        {
            var response = await team.Owner.SendAsync(method, $"api/workspaces/{team.Id}/audit", new { data = Array.Empty<object>() });
            Assert.AreEqual(405, (int)response.StatusCode, $"{method} …/audit: {await response.Content.ReadAsStringAsync()}");
        }

        CollectionAssert.AreEqual(before, (await TeamKit.AuditAsync(team.Owner, team.Id)).Select(Id).ToList(), "the log is unchanged");
        Assert.IsFalse(string.IsNullOrEmpty(anId));
    }
}
