using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KillToken.Tests.Team;

/// <summary>
/// Invites as people meet them, through the real gateway and a real SMTP server: the mail carries the link
/// <c>{FRONTEND_URL}/invites/{token}</c>, the link shows workspace and inviter without signing in, the invitee signs up
/// with that email and accepts, and sees the workspace with the invited role. Without SMTP the inviter gets the link.
/// Expiry after 7 days (the server's TimeProvider), resend (new token, old link dead), cancel, reuse, wrong account,
/// the 409s for an existing member or a second pending invite, and the token: ≥ 128 bits and never listed or audited.
/// </summary>
[TestClass]
public sealed partial class InviteJourneyTests
{
    private const string Frontend = "https://app.example.com/console";

    private static SmtpTestServer _smtp = null!;
    private static GatewayHost _host = null!;
    private static TeamGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _smtp = await SmtpTestServer.StartAsync();
        _host = await GatewayHost.StartAsync(SmtpSettings());
        _gateway = new TeamGateway(_host);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        _smtp.Dispose();
    }

    private static Dictionary<string, string?> SmtpSettings() => new()
    {
        ["SMTP_HOST"] = "127.0.0.1",
        ["SMTP_PORT"] = _smtp.Port.ToString(CultureInfo.InvariantCulture),
        ["SMTP_FROM"] = "invites@killtoken.test",
        ["SMTP_SECURE"] = "none", // the plain emulator offers no STARTTLS
        ["FRONTEND_URL"] = Frontend,
    };

    [GeneratedRegex("^[A-Za-z0-9_-]{22,}$")]
    private static partial Regex Base64UrlToken();

    private static string NewEmail(string prefix = "invitee") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    private static async Task<(Person Owner, string WorkspaceId, string Name)> OwnerWithWorkspaceAsync(TeamGateway gateway)
    {
        var owner = await gateway.SignUpAsync(name: "Iris Inviter");
        var name = "Journey " + Guid.NewGuid().ToString("N")[..8];
        return (owner, await owner.CreateWorkspaceAsync(name), name);
    }

    private static async Task<ReceivedMail> MailToAsync(string email)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!_smtp.Messages.Any(m => m.To.Any(t => string.Equals(t, email, StringComparison.OrdinalIgnoreCase))) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        return _smtp.Messages.Single(m => m.To.Any(t => string.Equals(t, email, StringComparison.OrdinalIgnoreCase)));
    }

    private static DateTimeOffset Time(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static void AssertClose(DateTimeOffset expected, DateTimeOffset actual, string because) =>
        Assert.IsTrue(Math.Abs((expected - actual).TotalSeconds) < 1, $"{because}: expected {expected:O}, got {actual:O}");

    private static Task<HttpResponseMessage> PreviewAsync(TeamGateway gateway, string token) => gateway.SendAsync(null, HttpMethod.Get, $"api/invites/{token}");

    private static async Task<List<JsonObject>> PendingListAsync(Person caller, string workspaceId) =>
        [.. (await caller.GetAsync($"api/workspaces/{workspaceId}/invites"))["data"]!.AsArray().Select(i => i!.AsObject())];

    [TestMethod]
    public async Task Journey_InviteMailLinkPreviewSignUpAccept_InviteeSeesTheWorkspaceWithTheRole()
    {
        var (owner, workspaceId, name) = await OwnerWithWorkspaceAsync(_gateway);
        var typed = $"New.Person-{Guid.NewGuid():N}@Example.COM";
        var email = typed.ToLowerInvariant();

        var created = await owner.InviteAsync(workspaceId, typed, "admin");

        var invite = created["invite"]!.AsObject();
        var token = TeamKit.TokenOf(created);
        Assert.AreEqual(email, invite["email"]!.GetValue<string>(), "stored lower-case");
        Assert.AreEqual("admin", invite["role"]!.GetValue<string>());
        Assert.AreEqual("pending", invite["status"]!.GetValue<string>());
        Assert.IsFalse(string.IsNullOrEmpty(invite["id"]?.GetValue<string>()));
        var createdAt = Time(invite["createdAt"]);
        Assert.IsTrue(Math.Abs((DateTimeOffset.UtcNow - createdAt).TotalMinutes) < 5, "createdAt is now");
        Assert.AreEqual(TimeSpan.FromDays(7).TotalMinutes, (Time(invite["expiresAt"]) - createdAt).TotalMinutes, 1, "expires 7 days after creation");
        Assert.AreEqual(owner.UserId, invite["invitedBy"]!["userId"]!.GetValue<string>());
        Assert.AreEqual(owner.Email, invite["invitedBy"]!["email"]!.GetValue<string>());
        Assert.AreEqual(owner.Name, invite["invitedBy"]!["name"]!.GetValue<string>());
        Assert.AreEqual("queued", created["emailDelivery"]!.GetValue<string>(), "SMTP is configured");
        Assert.AreEqual($"{Frontend}/invites/{token}", created["inviteUrl"]!.GetValue<string>());
        Assert.IsTrue(Base64UrlToken().IsMatch(token), $"a base64url token of ≥ 128 bits: {token}");

        // The mail arrives with the link.
        var mail = await MailToAsync(email);
        StringAssert.Contains(mail.Subject, name, "the subject names the workspace");
        StringAssert.Contains(mail.Text, $"{Frontend}/invites/{token}", "the mail carries the link");
        Assert.AreEqual("invites@killtoken.test", mail.From);

        // The link shows workspace and inviter without signing in.
        var preview = await TeamKit.JsonAsync(await PreviewAsync(_gateway, token), 200);
        Assert.AreEqual(invite["id"]!.GetValue<string>(), preview["invite"]!["id"]!.GetValue<string>());
        Assert.AreEqual(email, preview["invite"]!["email"]!.GetValue<string>());
        Assert.AreEqual("admin", preview["invite"]!["role"]!.GetValue<string>());
        Assert.AreEqual("pending", preview["invite"]!["status"]!.GetValue<string>());
        Assert.AreEqual(Time(invite["expiresAt"]), Time(preview["invite"]!["expiresAt"]));
        Assert.AreEqual(owner.Name, preview["invite"]!["invitedBy"]!["name"]!.GetValue<string>());
        Assert.AreEqual(owner.Email, preview["invite"]!["invitedBy"]!["email"]!.GetValue<string>());
        Assert.AreEqual(workspaceId, preview["workspace"]!["id"]!.GetValue<string>());
        Assert.AreEqual(name, preview["workspace"]!["name"]!.GetValue<string>());

        // The invitee signs up with that email and accepts.
        var invitee = await _gateway.SignUpAsync(typed, "Nina Newcomer");
        Assert.IsFalse((await invitee.WorkspacesAsync()).ContainsKey(workspaceId), "not a member before accepting");
        var accepted = await TeamKit.JsonAsync(await invitee.AcceptAsync(token), 200);
        Assert.AreEqual(workspaceId, accepted["workspace"]!["id"]!.GetValue<string>());
        Assert.AreEqual(name, accepted["workspace"]!["name"]!.GetValue<string>());
        Assert.AreEqual("admin", accepted["workspace"]!["role"]!.GetValue<string>());

        Assert.AreEqual("admin", (await invitee.WorkspacesAsync())[workspaceId], "GET /api/workspaces lists it with the invited role");
        Assert.AreEqual("admin", (await TeamKit.MembersAsync(owner, workspaceId))[invitee.UserId]);
        Assert.IsFalse((await PendingListAsync(owner, workspaceId)).Any(i => i["id"]!.GetValue<string>() == invite["id"]!.GetValue<string>()), "no longer pending");
        var after = await TeamKit.JsonAsync(await PreviewAsync(_gateway, token), 200);
        Assert.AreEqual("accepted", after["invite"]!["status"]!.GetValue<string>());
        Assert.AreEqual(200, (int)(await invitee.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/audit")).StatusCode, "the admin role works at once");
    }

    [TestMethod]
    public async Task WithoutSmtp_EmailDeliveryIsSkipped_TheLinkIsOnTheGatewaysOrigin_AndWorks()
    {
        await using var host = await GatewayHost.StartAsync();
        var gateway = new TeamGateway(host);
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(gateway);
        var email = NewEmail();

        var created = await owner.InviteAsync(workspaceId, email, "member");

        var token = TeamKit.TokenOf(created);
        Assert.AreEqual("skipped", created["emailDelivery"]!.GetValue<string>());
        Assert.AreEqual(new Uri(host.BaseAddress, "invites/" + token).ToString(), created["inviteUrl"]!.GetValue<string>(),
            "{scheme}://{host}/invites/{token} of the gateway itself");
        Assert.AreEqual(200, (int)(await PreviewAsync(gateway, token)).StatusCode);
        var invitee = await gateway.SignUpAsync(email);
        await TeamKit.JsonAsync(await invitee.AcceptAsync(token), 200);
        Assert.AreEqual("member", (await invitee.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task SmtpUnreachable_TheInviteIsStillCreated_OffTheRequestPath_AndTheLinkWorks()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var settings = SmtpSettings();
        settings["SMTP_PORT"] = closedPort.ToString(CultureInfo.InvariantCulture);
        await using var host = await GatewayHost.StartAsync(settings);
        var gateway = new TeamGateway(host);
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(gateway);
        var email = NewEmail("unreachable");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var created = await owner.InviteAsync(workspaceId, email, "member");
        started.Stop();

        Assert.AreEqual("queued", created["emailDelivery"]!.GetValue<string>());
        Assert.IsTrue(started.Elapsed < TimeSpan.FromSeconds(5), $"the mail is sent off the request path: {started.Elapsed}");
        var invitee = await gateway.SignUpAsync(email);
        await TeamKit.JsonAsync(await invitee.AcceptAsync(TeamKit.TokenOf(created)), 200);
        Assert.AreEqual("member", (await invitee.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task WithoutSmtp_TheInviteLinkOpensThePage()
    {
        await using var host = await GatewayHost.StartAsync();
        var gateway = new TeamGateway(host);
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(gateway);
        var created = await owner.InviteAsync(workspaceId, NewEmail(), "member");

        using var page = await host.Client.GetAsync(new Uri(created["inviteUrl"]!.GetValue<string>()));

        Assert.AreEqual(200, (int)page.StatusCode, "the invite page /invites/{token} is served by the same app");
        StringAssert.StartsWith(page.Content.Headers.ContentType?.MediaType ?? "", "text/html");
    }

    [TestMethod]
    public async Task Expiry_AfterSevenDays_Accept409InviteExpired_ResendWorks_OldLink404()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GatewayHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var gateway = new TeamGateway(host);
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(gateway);
        var (early, late) = (NewEmail("early"), NewEmail("late"));
        var earlyInvite = await owner.InviteAsync(workspaceId, early, "member");
        var lateInvite = await owner.InviteAsync(workspaceId, late, "admin");
        var lateId = lateInvite["invite"]!["id"]!.GetValue<string>();
        var oldToken = TeamKit.TokenOf(lateInvite);
        AssertClose(clock.GetUtcNow().AddDays(7), Time(lateInvite["invite"]!["expiresAt"]), "now + 7 days on the server's clock");

        // A minute before the end it still works.
        clock.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        var earlyPerson = await gateway.SignUpAsync(early);
        await TeamKit.JsonAsync(await earlyPerson.AcceptAsync(TeamKit.TokenOf(earlyInvite)), 200);

        // A minute after it, it does not.
        clock.Advance(TimeSpan.FromMinutes(2));
        var latePerson = await gateway.SignUpAsync(late);
        await TeamKit.AssertErrorAsync(await latePerson.AcceptAsync(oldToken), 409, "invite_expired");
        Assert.IsFalse((await latePerson.WorkspacesAsync()).ContainsKey(workspaceId));
        var preview = await TeamKit.JsonAsync(await PreviewAsync(gateway, oldToken), 200);
        Assert.AreEqual("expired", preview["invite"]!["status"]!.GetValue<string>());

        owner = await owner.LoginAsync(); // the 12-hour session ended days ago
        var listed = (await PendingListAsync(owner, workspaceId)).Single(i => i["id"]!.GetValue<string>() == lateId);
        Assert.AreEqual("expired", listed["status"]!.GetValue<string>(), "the list shows expired invites");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email = late, role = "admin" }),
            409, "conflict", "an expired invite is still the one to resend");

        var resent = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{lateId}/resend", null, 200);
        var newToken = TeamKit.TokenOf(resent);
        Assert.AreNotEqual(oldToken, newToken, "a new token");
        Assert.AreEqual(lateId, resent["invite"]!["id"]!.GetValue<string>(), "the same invite");
        Assert.AreEqual("pending", resent["invite"]!["status"]!.GetValue<string>());
        AssertClose(clock.GetUtcNow().AddDays(7), Time(resent["invite"]!["expiresAt"]), "a new 7-day expiry");
        Assert.AreEqual("skipped", resent["emailDelivery"]!.GetValue<string>());
        Assert.AreEqual(new Uri(host.BaseAddress, "invites/" + newToken).ToString(), resent["inviteUrl"]!.GetValue<string>());

        await TeamKit.AssertErrorAsync(await PreviewAsync(gateway, oldToken), 404, "not_found", "the old link is dead");
        await TeamKit.AssertErrorAsync(await latePerson.AcceptAsync(oldToken), 404, "not_found", "the old link is dead");
        var accepted = await TeamKit.JsonAsync(await latePerson.AcceptAsync(newToken), 200);
        Assert.AreEqual("admin", accepted["workspace"]!["role"]!.GetValue<string>());
        Assert.AreEqual("admin", (await latePerson.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task Resend_SendsANewMailWithTheNewLink()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("resend");
        var created = await owner.InviteAsync(workspaceId, email, "member");
        await MailToAsync(email);

        var resent = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{created["invite"]!["id"]!.GetValue<string>()}/resend", null, 200);

        Assert.AreEqual("queued", resent["emailDelivery"]!.GetValue<string>());
        var newUrl = resent["inviteUrl"]!.GetValue<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (_smtp.Messages.Count(m => m.To.Contains(email)) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        var mails = _smtp.Messages.Where(m => m.To.Contains(email)).ToList();
        Assert.AreEqual(2, mails.Count);
        StringAssert.Contains(mails[1].Text, newUrl);
        Assert.IsFalse(mails[1].Text.Contains(created["inviteUrl"]!.GetValue<string>(), StringComparison.Ordinal), "not the old link");
        await TeamKit.AssertErrorAsync(await PreviewAsync(_gateway, TeamKit.TokenOf(created)), 404, "not_found");
    }

    [TestMethod]
    public async Task Cancel_TheTokenIs404Afterwards_AndTheInviteLeavesTheList()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("cancelled");
        var created = await owner.InviteAsync(workspaceId, email, "member");
        var id = created["invite"]!["id"]!.GetValue<string>();
        var token = TeamKit.TokenOf(created);

        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{id}"), 204);

        await TeamKit.AssertErrorAsync(await PreviewAsync(_gateway, token), 404, "not_found");
        var invitee = await _gateway.SignUpAsync(email);
        await TeamKit.AssertErrorAsync(await invitee.AcceptAsync(token), 404, "not_found");
        Assert.IsFalse((await invitee.WorkspacesAsync()).ContainsKey(workspaceId));
        Assert.IsFalse((await PendingListAsync(owner, workspaceId)).Any(i => i["id"]!.GetValue<string>() == id));
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{id}"), 404, "not_found", "already cancelled");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/inv_doesnotexist000000"), 404, "not_found");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/inv_doesnotexist000000/resend"), 404, "not_found");

        // Cancelled is not pending: the same person can be invited again.
        var again = await owner.InviteAsync(workspaceId, email, "admin");
        await TeamKit.JsonAsync(await invitee.AcceptAsync(TeamKit.TokenOf(again)), 200);
        Assert.AreEqual("admin", (await invitee.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task Resend_OfACancelledInvite_Is409Conflict_AndRevivesNothing()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var created = await owner.InviteAsync(workspaceId, NewEmail("cancelled"), "member");
        var id = created["invite"]!["id"]!.GetValue<string>();
        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{id}"), 204);

        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{id}/resend"), 409, "conflict", "resend a cancelled invite");

        Assert.AreEqual(0, (await PendingListAsync(owner, workspaceId)).Count);
    }

    [TestMethod]
    public async Task AdminCancelsAnInvite_ByTheOwner()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var created = await team.Owner.InviteAsync(team.Id, NewEmail(), "member");

        await TeamKit.AssertStatusAsync(await team.Admin.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/invites/{created["invite"]!["id"]!.GetValue<string>()}"), 204);

        await TeamKit.AssertErrorAsync(await PreviewAsync(_gateway, TeamKit.TokenOf(created)), 404, "not_found");
    }

    [TestMethod]
    public async Task AcceptedToken_Reused_Is409Conflict_ByAnyone()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("reuse");
        var created = await owner.InviteAsync(workspaceId, email, "member");
        var id = created["invite"]!["id"]!.GetValue<string>();
        var token = TeamKit.TokenOf(created);
        var invitee = await _gateway.SignUpAsync(email);
        await TeamKit.JsonAsync(await invitee.AcceptAsync(token), 200);

        await TeamKit.AssertErrorAsync(await invitee.AcceptAsync(token), 409, "conflict", "the same person again");
        var stranger = await _gateway.SignUpAsync();
        await TeamKit.AssertErrorAsync(await stranger.AcceptAsync(token), 409, "conflict", "someone else with the used link");
        Assert.IsFalse((await stranger.WorkspacesAsync()).ContainsKey(workspaceId), "a used link lets nobody in");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{id}/resend"), 409, "conflict", "resend an accepted invite");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{id}"), 409, "conflict", "cancel an accepted invite");
        Assert.AreEqual("member", (await invitee.WorkspacesAsync())[workspaceId], "still a member, role unchanged");
    }

    [TestMethod]
    public async Task ConcurrentAccepts_OfOneToken_ExactlyOneWins()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("race");
        var created = await owner.InviteAsync(workspaceId, email, "member");
        var invitee = await _gateway.SignUpAsync(email);
        var token = TeamKit.TokenOf(created);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => invitee.AcceptAsync(token)));

        Assert.AreEqual(1, responses.Count(r => (int)r.StatusCode == 200), "single use");
        foreach (var response in responses.Where(r => (int)r.StatusCode != 200))
        {
            await TeamKit.AssertErrorAsync(response, 409, "conflict", "the token was used");
        }

        Assert.AreEqual(1, (await TeamKit.AuditAsync(owner, workspaceId)).Count(e => e["event"]?.GetValue<string>() == "invite_accepted"), "one invite_accepted event");
        Assert.AreEqual(1, (await TeamKit.MembersAsync(owner, workspaceId)).Count(m => m.Key == invitee.UserId));
    }

    [TestMethod]
    public async Task ConcurrentInvites_ForOneEmail_ExactlyOneIsCreated()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("twins");

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email, role = "member" })));

        Assert.AreEqual(1, responses.Count(r => (int)r.StatusCode == 201), "one pending invite per email");
        foreach (var response in responses.Where(r => (int)r.StatusCode != 201))
        {
            await TeamKit.AssertErrorAsync(response, 409, "conflict");
        }

        Assert.AreEqual(1, (await PendingListAsync(owner, workspaceId)).Count);
    }

    [TestMethod]
    public async Task WrongAccount_Is409Mismatch_TheInviteStaysPending_AndTheRightPersonAccepts()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("right");
        var created = await owner.InviteAsync(workspaceId, email, "admin");
        var token = TeamKit.TokenOf(created);
        var wrong = await _gateway.SignUpAsync(NewEmail("wrong"));

        await TeamKit.AssertErrorAsync(await wrong.AcceptAsync(token), 409, "invite_email_mismatch");

        Assert.IsFalse((await wrong.WorkspacesAsync()).ContainsKey(workspaceId));
        Assert.IsFalse((await TeamKit.MembersAsync(owner, workspaceId)).ContainsKey(wrong.UserId));
        Assert.AreEqual("pending", (await TeamKit.JsonAsync(await PreviewAsync(_gateway, token), 200))["invite"]!["status"]!.GetValue<string>());
        Assert.IsTrue((await PendingListAsync(owner, workspaceId)).Any(i => i["id"]!.GetValue<string>() == created["invite"]!["id"]!.GetValue<string>()));
        var right = await _gateway.SignUpAsync(email);
        await TeamKit.JsonAsync(await right.AcceptAsync(token), 200);
        Assert.AreEqual("admin", (await right.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task EmailMatch_IsCaseInsensitive()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var id = Guid.NewGuid().ToString("N");
        var created = await owner.InviteAsync(workspaceId, $"MiXeD-{id}@Example.COM", "member");
        Assert.AreEqual($"mixed-{id}@example.com", created["invite"]!["email"]!.GetValue<string>());

        var invitee = await _gateway.SignUpAsync($"mixed-{id}@example.com");
        await TeamKit.JsonAsync(await invitee.AcceptAsync(TeamKit.TokenOf(created)), 200);

        Assert.AreEqual("member", (await invitee.WorkspacesAsync())[workspaceId]);
    }

    [TestMethod]
    public async Task InvitingAnExistingMember_Is409Conflict()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var before = (await PendingListAsync(team.Owner, team.Id)).Count;

        foreach (var email in new[] { team.Admin.Email, team.Member.Email, team.Owner.Email, team.Member.Email.ToUpperInvariant() })
        {
            await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Post, $"api/workspaces/{team.Id}/invites", new { email, role = "member" }), 409, "conflict", email);
        }

        Assert.AreEqual(before, (await PendingListAsync(team.Owner, team.Id)).Count, "no invite created");
    }

    [TestMethod]
    public async Task ASecondPendingInvite_ForTheSameEmail_Is409Conflict()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var email = NewEmail("twice");
        await owner.InviteAsync(workspaceId, email, "member");

        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email, role = "member" }), 409, "conflict");
        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email = email.ToUpperInvariant(), role = "admin" }), 409, "conflict");

        Assert.AreEqual(1, (await PendingListAsync(owner, workspaceId)).Count(i => i["email"]!.GetValue<string>() == email));
    }

    [TestMethod]
    public async Task SameEmail_InAnotherWorkspace_IsItsOwnInvite()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var otherWorkspace = await owner.CreateWorkspaceAsync("Other " + Guid.NewGuid().ToString("N")[..6]);
        var email = NewEmail("both");

        var first = await owner.InviteAsync(workspaceId, email, "member");
        var second = await owner.InviteAsync(otherWorkspace, email, "admin");

        var invitee = await _gateway.SignUpAsync(email);
        await TeamKit.JsonAsync(await invitee.AcceptAsync(TeamKit.TokenOf(first)), 200);
        await TeamKit.JsonAsync(await invitee.AcceptAsync(TeamKit.TokenOf(second)), 200);
        var workspaces = await invitee.WorkspacesAsync();
        Assert.AreEqual("member", workspaces[workspaceId]);
        Assert.AreEqual("admin", workspaces[otherWorkspace]);
    }

    [TestMethod]
    public async Task Token_IsAtLeast128Bits_Distinct_AndNeverInTheListNorTheAuditLog()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var tokens = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var created = await owner.InviteAsync(workspaceId, NewEmail("tok"), i % 2 == 0 ? "member" : "admin");
            tokens.Add(TeamKit.TokenOf(created));
            var resent = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{created["invite"]!["id"]!.GetValue<string>()}/resend", null, 200);
            tokens.Add(TeamKit.TokenOf(resent));
        }

        foreach (var token in tokens)
        {
            Assert.IsTrue(Base64UrlToken().IsMatch(token), $"base64url, ≥ 22 characters (128 bits): {token}");
        }

        Assert.AreEqual(tokens.Count, tokens.Distinct().Count(), "every token is new");
        var list = (await owner.GetAsync($"api/workspaces/{workspaceId}/invites")).ToJsonString();
        var audit = (await owner.GetAsync($"api/workspaces/{workspaceId}/audit?limit=200")).ToJsonString();
        Assert.AreEqual(5, (await PendingListAsync(owner, workspaceId)).Count);
        foreach (var token in tokens)
        {
            Assert.IsFalse(list.Contains(token, StringComparison.Ordinal), "the invite list shows no token");
            Assert.IsFalse(audit.Contains(token, StringComparison.Ordinal), "the audit log holds no token");
            Assert.IsFalse(_host.Logs.Lines.Any(l => l.Contains(token, StringComparison.Ordinal)), "no log line holds a token");
        }
    }

    [TestMethod]
    public async Task List_IsNewestFirst_PendingOnly_WithTheInviteShape()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var emails = new[] { NewEmail("a"), NewEmail("b"), NewEmail("c") };
        var ids = new List<string>();
        foreach (var email in emails)
        {
            ids.Add((await owner.InviteAsync(workspaceId, email, "member"))["invite"]!["id"]!.GetValue<string>());
            await Task.Delay(20);
        }

        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{ids[1]}"), 204);
        var list = await PendingListAsync(owner, workspaceId);

        CollectionAssert.AreEqual(new[] { ids[2], ids[0] }, list.Select(i => i["id"]!.GetValue<string>()).ToArray(), "newest first, cancelled left out");
        foreach (var field in new[] { "id", "email", "role", "status", "expiresAt", "createdAt", "invitedBy" })
        {
            Assert.IsNotNull(list[0][field], $"{field} in {list[0].ToJsonString()}");
        }

        Assert.AreEqual(owner.UserId, list[0]["invitedBy"]!["userId"]!.GetValue<string>());
    }

    [TestMethod]
    [DataRow("{\"email\":\"x-{0}@example.com\",\"role\":\"owner\"}", DisplayName = "role owner")]
    [DataRow("{\"email\":\"x-{0}@example.com\",\"role\":\"superuser\"}", DisplayName = "unknown role")]
    [DataRow("{\"email\":\"not-an-email-{0}\",\"role\":\"member\"}", DisplayName = "bad email")]
    [DataRow("{\"email\":\"\",\"role\":\"member\"}", DisplayName = "empty email")]
    [DataRow("{\"role\":\"member\"}", DisplayName = "no email")]
    public async Task Invite_WithABadRoleOrEmail_Is400_AndNothingIsCreated(string template)
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var body = template.Replace("{0}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal);

        await TeamKit.AssertErrorAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", body), 400, "validation_failed");

        Assert.AreEqual(0, (await PendingListAsync(owner, workspaceId)).Count);
    }

    [TestMethod]
    public async Task Accept_WithoutSession_Is401_UnknownToken_Is404()
    {
        var (owner, workspaceId, _) = await OwnerWithWorkspaceAsync(_gateway);
        var created = await owner.InviteAsync(workspaceId, NewEmail(), "member");
        var someone = await _gateway.SignUpAsync();

        await TeamKit.AssertErrorAsync(await _gateway.SendAsync(null, HttpMethod.Post, $"api/invites/{TeamKit.TokenOf(created)}/accept"), 401, "unauthenticated");
        await TeamKit.AssertErrorAsync(await someone.AcceptAsync("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found");
        await TeamKit.AssertErrorAsync(await PreviewAsync(_gateway, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found");
        Assert.AreEqual("pending", (await TeamKit.JsonAsync(await PreviewAsync(_gateway, TeamKit.TokenOf(created)), 200))["invite"]!["status"]!.GetValue<string>());
    }
}
