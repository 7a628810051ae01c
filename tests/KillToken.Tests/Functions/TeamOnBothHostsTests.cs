using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Functions;

/// <summary>
/// The team journey on the self-host and on the real Functions worker: invite, the invite link without a session,
/// accept, the member listed, the audit log read back — and the client address it records: the caller's, never an
/// <c>X-Forwarded-For</c> the caller wrote (under Functions the host's proxy replaces it with the address it saw, which
/// the worker's ASP.NET Core integration trusts).
/// </summary>
[TestClass]
public sealed class TeamOnBothHostsTests
{
    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task InviteAcceptAndAudit_AreServed_WithTheClientsAddress(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>());
        var client = host.Client;

        var (ownerToken, workspaceId) = await SignUpAsync(client, "owner");
        var inviteeEmail = $"invitee-{Guid.NewGuid():N}@example.com";
        using var invite = Request(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", ownerToken, new { email = inviteeEmail, role = "admin" });
        invite.Headers.Add("X-Forwarded-For", "198.51.100.66");
        var created = await ReadAsync(await client.SendAsync(invite), 201);
        var inviteUrl = created["inviteUrl"]!.GetValue<string>();
        var token = inviteUrl[(inviteUrl.LastIndexOf('/') + 1)..];
        Assert.AreEqual("skipped", created["emailDelivery"]!.GetValue<string>(), "no SMTP here: the link is what the inviter shares");
        await AssertInvitePageAsync(client, new Uri(inviteUrl).PathAndQuery);

        var preview = await ReadAsync(await client.GetAsync($"api/invites/{token}"), 200);
        Assert.AreEqual(workspaceId, preview["workspace"]!["id"]!.GetValue<string>());
        Assert.AreEqual("pending", preview["invite"]!["status"]!.GetValue<string>());

        var (inviteeToken, _) = await SignUpAsync(client, "invitee", inviteeEmail);
        var accepted = await ReadAsync(await client.SendAsync(Request(HttpMethod.Post, $"api/invites/{token}/accept", inviteeToken)), 200);
        Assert.AreEqual("admin", accepted["workspace"]!["role"]!.GetValue<string>());

        var members = await ReadAsync(await client.SendAsync(Request(HttpMethod.Get, $"api/workspaces/{workspaceId}/members", inviteeToken)), 200);
        CollectionAssert.AreEquivalent(new[] { "owner", "admin" }, members["data"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()).ToArray());

        var audit = await ReadAsync(await client.SendAsync(Request(HttpMethod.Get, $"api/workspaces/{workspaceId}/audit", inviteeToken)), 200);
        var events = audit["data"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "invite_accepted", "member_invited", "workspace_created" },
            events.Select(e => e!["event"]!.GetValue<string>()).ToArray(), "newest first");
        Assert.AreEqual("127.0.0.1", events[1]!["clientAddress"]!.GetValue<string>(), "the address the request came from, not the one it claimed");
        Assert.DoesNotContain(token, audit.ToJsonString(), "the invite token is never in the audit log");
    }

    /// <summary>
    /// Without FRONTEND_URL the invite link is the gateway's own page: served by both hosts, with its script and styles
    /// from the same origin, under a policy that allows no inline script and sends the (token-bearing) address nowhere.
    /// </summary>
    private static async Task AssertInvitePageAsync(HttpClient client, string path)
    {
        using var page = await client.GetAsync(path);
        Assert.AreEqual(200, (int)page.StatusCode);
        Assert.AreEqual("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        StringAssert.Contains(html, "<script type=\"module\" src=\"/assets/app.js\"></script>", "the dashboard's document, which reads the token from the address");
        var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        StringAssert.Contains(policy, "script-src 'self'");
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.AreEqual("no-referrer", string.Join(",", page.Headers.GetValues("Referrer-Policy")));
        Assert.AreEqual("no-store", page.Headers.CacheControl?.ToString());

        foreach (var (asset, type) in new[] { ("assets/app.js", "text/javascript"), ("assets/app.css", "text/css") })
        {
            using var response = await client.GetAsync(asset);
            Assert.AreEqual(200, (int)response.StatusCode, asset);
            Assert.AreEqual(type, response.Content.Headers.ContentType?.MediaType, asset);
        }
    }

    private static async Task<(string Token, string WorkspaceId)> SignUpAsync(HttpClient client, string name, string? email = null)
    {
        var body = await ReadAsync(await client.PostAsJsonAsync("api/auth/signup",
            new { email = email ?? $"{name}-{Guid.NewGuid():N}@example.com", password = "correct horse battery staple", name }), 201);
        return (body["token"]!.GetValue<string>(), body["workspace"]!["id"]!.GetValue<string>());
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, int status)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(status, (int)response.StatusCode, text);
            return JsonNode.Parse(text)!;
        }
    }
}
