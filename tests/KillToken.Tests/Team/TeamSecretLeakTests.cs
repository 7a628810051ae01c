using System.Globalization;
using System.Text.Json;
using KillToken.Core.Ports;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Team;

/// <summary>
/// "Never a secret in an event", and none in a response or a log line: a whole team journey (sign-ups, sign-in,
/// invites sent, resent, refused, cancelled and accepted, projects and key regeneration, provider credentials created,
/// rotated, tested and deleted by session and by project key, chat, exports, the digest, a member removed, the
/// workspace deleted) with distinctive secrets; then no audit event (through the API and in the store), no response
/// other than the one that hands a secret to its owner, and no log line holds any of them.
/// </summary>
[TestClass]
public sealed class TeamSecretLeakTests
{
    private sealed record Secret(string Value, string What, int? IssuedIn);

    [TestMethod]
    public async Task WholeJourney_NoSecretInAnyAuditEvent_Response_OrLogLine()
    {
        var id = Guid.NewGuid().ToString("N");
        await using var openai = await FakeUpstream.StartAsync(AuditLogTests.OpenAI);
        using var smtp = await SmtpTestServer.StartAsync();
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = smtp.Port.ToString(CultureInfo.InvariantCulture),
            ["SMTP_FROM"] = "leaks@killtoken.test",
            ["SMTP_SECURE"] = "none",
            ["FRONTEND_URL"] = "https://app.example.com",
        });
        var gateway = new TeamGateway(host);
        var secrets = new List<Secret>();
        void Issued(string value, string what) => secrets.Add(new Secret(value, what, gateway.Last.Index));
        void Never(string value, string what) => secrets.Add(new Secret(value, what, null));

        // People.
        var owner = await gateway.SignUpAsync(password: $"pw-OWNER-{id}");
        Issued(owner.Token, "owner's sign-up session");
        Never(owner.Password, "owner's password");
        var admin = await gateway.SignUpAsync(password: $"pw-ADMIN-{id}");
        Issued(admin.Token, "admin's session");
        Never(admin.Password, "admin's password");
        var member = await gateway.SignUpAsync(password: $"pw-MEMBER-{id}");
        Issued(member.Token, "member's session");
        Never(member.Password, "member's password");
        var wrong = await gateway.SignUpAsync(password: $"pw-WRONG-{id}");
        Issued(wrong.Token, "wrong account's session");
        Never(wrong.Password, "wrong account's password");
        owner = await owner.LoginAsync();
        Issued(owner.Token, "owner's sign-in session");
        var name = "Leak check " + id[..6];
        var workspaceId = await owner.CreateWorkspaceAsync(name);

        // Invites: accepted, resent then accepted, refused for the wrong account, cancelled.
        var adminInvite = await owner.InviteAsync(workspaceId, admin.Email, "admin");
        Issued(TeamKit.TokenOf(adminInvite), "admin's invite token");
        Assert.AreEqual(200, (int)(await gateway.SendAsync(null, HttpMethod.Get, $"api/invites/{TeamKit.TokenOf(adminInvite)}")).StatusCode);
        await TeamKit.JsonAsync(await admin.AcceptAsync(TeamKit.TokenOf(adminInvite)), 200);

        var memberInvite = await admin.InviteAsync(workspaceId, member.Email, "member");
        Issued(TeamKit.TokenOf(memberInvite), "member's first invite token");
        var memberInviteId = memberInvite["invite"]!["id"]!.GetValue<string>();
        var resent = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites/{memberInviteId}/resend", null, 200);
        Issued(TeamKit.TokenOf(resent), "member's resent invite token");
        Assert.AreEqual(404, (int)(await member.AcceptAsync(TeamKit.TokenOf(memberInvite))).StatusCode);
        await TeamKit.JsonAsync(await member.AcceptAsync(TeamKit.TokenOf(resent)), 200);

        var strayInvite = await owner.InviteAsync(workspaceId, $"stray-{id}@example.com", "member");
        Issued(TeamKit.TokenOf(strayInvite), "stray invite token");
        Assert.AreEqual(409, (int)(await wrong.AcceptAsync(TeamKit.TokenOf(strayInvite))).StatusCode);
        Assert.AreEqual(204, (int)(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/invites/{strayInvite["invite"]!["id"]!.GetValue<string>()}")).StatusCode);
        Assert.AreEqual(404, (int)(await gateway.SendAsync(null, HttpMethod.Get, $"api/invites/{TeamKit.TokenOf(strayInvite)}")).StatusCode);

        // Projects and keys.
        var project = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", new { name = "leaky" }, 201);
        Issued(project["apiKey"]!.GetValue<string>(), "the project's first key");
        var projectId = project["project"]!["id"]!.GetValue<string>();
        var regenerated = await owner.JsonAsync(HttpMethod.Post, $"api/projects/{projectId}/regenerate-key", null, 200);
        var key = regenerated["apiKey"]!.GetValue<string>();
        Issued(key, "the project's regenerated key");
        await owner.JsonAsync(HttpMethod.Patch, $"api/projects/{projectId}", new { dailyBudgetUsd = 10m, scopes = new[] { "chat", "analytics:read", "credentials:write" } }, 200);

        // Provider credentials, by session and by key.
        var openaiKey = $"sk-LEAKOPENAI-{id}";
        var rotatedKey = $"sk-LEAKROTATED-{id}";
        var byKeySecret = $"sk-LEAKBYKEY-{id}";
        var awsSecret = $"LEAKawsSecret{id}";
        var awsSession = $"LEAKawsSession{id}";
        Never(openaiKey, "provider apiKey");
        Never(rotatedKey, "rotated provider apiKey");
        Never(byKeySecret, "provider apiKey sent with a project key");
        Never(awsSecret, "aws secretAccessKey");
        Never(awsSession, "aws sessionToken");
        var credential = await admin.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", new { provider = "openai", apiKey = openaiKey }, 201);
        var credentialPath = $"api/workspaces/{workspaceId}/provider-credentials/{credential["id"]!.GetValue<string>()}";
        await TeamKit.JsonAsync(await gateway.SendAsync(key, HttpMethod.Post, "v1/chat",
            new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }), 200);
        await admin.JsonAsync(HttpMethod.Patch, credentialPath, new { apiKey = rotatedKey }, 200);
        await admin.JsonAsync(HttpMethod.Post, credentialPath + "/test", null, 200);
        await TeamKit.JsonAsync(await gateway.SendAsync(key, HttpMethod.Post, "v1/chat",
            new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "again" } } }), 200);
        var aws = await owner.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", new
        {
            provider = "aws_bedrock",
            secrets = new { accessKeyId = "AKIAIOSFODNN7EXAMPLE", secretAccessKey = awsSecret, sessionToken = awsSession },
            config = new { region = "us-east-1" },
        }, 201);
        await owner.JsonAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/provider-credentials/{aws["id"]!.GetValue<string>()}", new { status = "disabled" }, 200);
        var byKey = await TeamKit.JsonAsync(await gateway.SendAsync(key, HttpMethod.Post, "v1/provider-credentials", new { provider = "openai", apiKey = byKeySecret }), 201);
        await TeamKit.AssertStatusAsync(await gateway.SendAsync(key, HttpMethod.Post, $"v1/provider-credentials/{byKey["id"]!.GetValue<string>()}/test"), 200);
        await TeamKit.AssertStatusAsync(await gateway.SendAsync(key, HttpMethod.Delete, $"v1/provider-credentials/{byKey["id"]!.GetValue<string>()}"), 204);
        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, credentialPath), 204);

        // Exports, digest, reading everything back.
        await TeamKit.AssertStatusAsync(await member.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={workspaceId}"), 200);
        await TeamKit.AssertStatusAsync(await gateway.SendAsync(key, HttpMethod.Get, "v1/exports/requests.csv"), 200);
        await TeamKit.AssertStatusAsync(await gateway.SendAsync(key, HttpMethod.Get, "v1/exports/analytics.json"), 200);
        await admin.JsonAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={workspaceId}", null, 200);
        foreach (var person in new[] { owner, admin, member, wrong })
        {
            await person.GetAsync("api/me");
            await person.GetAsync("api/workspaces");
        }

        await owner.GetAsync($"api/workspaces/{workspaceId}/members");
        await owner.GetAsync($"api/workspaces/{workspaceId}/invites");
        await owner.GetAsync($"api/workspaces/{workspaceId}/provider-credentials");
        await owner.GetAsync($"api/workspaces/{workspaceId}/projects");
        await owner.GetAsync($"api/workspaces/{workspaceId}/requests");
        var apiAudit = await TeamKit.AuditAsync(admin, workspaceId);

        // The team ends.
        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}/members/{member.UserId}"), 204);
        await TeamKit.AssertStatusAsync(await owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{workspaceId}", new { confirmName = name }), 204);
        Assert.AreEqual(401, (int)(await gateway.SendAsync(key, HttpMethod.Post, "v1/chat",
            new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "gone" } } })).StatusCode);

        // Every audit event, from the store (the deleted workspace included) and of every home workspace.
        var store = host.Services.GetRequiredService<IAuditLog>();
        var stored = new List<AuditEvent>();
        foreach (var ws in new[] { workspaceId, owner.HomeWorkspaceId, admin.HomeWorkspaceId, member.HomeWorkspaceId, wrong.HomeWorkspaceId })
        {
            stored.AddRange((await store.ListAsync(ws, new AuditQuery { Limit = 200 })).Items);
        }

        var auditText = JsonSerializer.Serialize(stored) + "\n" + string.Join("\n", apiAudit.Select(e => e.ToJsonString()));
        var logs = host.Logs.Lines;
        var exchanges = gateway.Exchanges;

        var leaks = new List<string>();
        foreach (var secret in secrets)
        {
            if (auditText.Contains(secret.Value, StringComparison.Ordinal))
            {
                leaks.Add($"{secret.What} in the audit log");
            }

            leaks.AddRange(exchanges.Where(x => x.Index != secret.IssuedIn && x.Response.Contains(secret.Value, StringComparison.Ordinal))
                .Select(x => $"{secret.What} in the response to #{x.Index} {x.Request} ({x.Status})"));
            if (!secret.What.Contains("invite token", StringComparison.Ordinal))
            {
                leaks.AddRange(smtp.Messages.Where(m => m.Data.Contains(secret.Value, StringComparison.Ordinal) || m.Text.Contains(secret.Value, StringComparison.Ordinal))
                    .Select(m => $"{secret.What} in the mail '{m.Subject}'"));
            }

            leaks.AddRange(logs.Where(l => l.Contains(secret.Value, StringComparison.Ordinal)).Select(l => $"{secret.What} in a log line: {l[..Math.Min(200, l.Length)]}"));
        }

        Assert.AreEqual(0, leaks.Count, "secrets leaked:\n" + string.Join("\n", leaks.Distinct()));
        foreach (var secret in secrets.Where(s => s.IssuedIn is not null))
        {
            StringAssert.Contains(exchanges.Single(x => x.Index == secret.IssuedIn).Response, secret.Value, $"the scan sees {secret.What} where it was issued");
        }

        // The scan read a real journey: many responses, and an audit log of every action (checked in detail by AuditLogTests).
        Assert.IsTrue(exchanges.Count > 40, $"{exchanges.Count} responses read");
        Assert.IsTrue(apiAudit.Count >= 20, $"the journey was audited: {apiAudit.Count} events");
        Assert.IsTrue(stored.Count > apiAudit.Count, "the store holds the journey and the deletion");
    }
}
