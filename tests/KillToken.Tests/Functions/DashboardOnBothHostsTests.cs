using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Functions;

/// <summary>
/// The dashboard as both hosts serve it: the document at "/", its built script and styles from the same origin, under a
/// policy with no inline script and no other origin; revalidation by ETag; and nothing else under <c>/assets/</c>.
/// The browser journeys over it are in <c>KillToken.Tests.Dashboard</c>.
/// </summary>
[TestClass]
public sealed class DashboardOnBothHostsTests
{
    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task TheDashboard_IsServedAtTheRoot_WithItsAssets_FromTheSameOrigin(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>());
        var client = host.Client;

        using var page = await client.GetAsync("/");
        Assert.AreEqual(HttpStatusCode.OK, page.StatusCode);
        Assert.AreEqual("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        StringAssert.Contains(html, "<script type=\"module\" src=\"/assets/app.js\"></script>");
        StringAssert.Contains(html, "<link rel=\"stylesheet\" href=\"/assets/app.css\">");
        Assert.DoesNotContain("http://", html, "nothing from another origin");
        Assert.DoesNotContain("https://", html, "nothing from another origin");

        var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        StringAssert.Contains(policy, "script-src 'self'");
        StringAssert.Contains(policy, "connect-src 'self'");
        StringAssert.Contains(policy, "frame-ancestors 'none'");
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.DoesNotContain("unsafe-eval", policy);

        // A budget alert's link to a project opens the same document (the app shows the projects page).
        using var projectLink = await client.GetAsync("projects/prj_from_an_alert_mail");
        Assert.AreEqual(HttpStatusCode.OK, projectLink.StatusCode);
        Assert.AreEqual(html, await projectLink.Content.ReadAsStringAsync());

        using var script = await client.GetAsync("assets/app.js");
        Assert.AreEqual(HttpStatusCode.OK, script.StatusCode);
        Assert.AreEqual("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var body = await script.Content.ReadAsStringAsync();
        Assert.IsGreaterThan(50_000, body.Length, "the built bundle (the app, Preact and Chart.js)");
        StringAssert.Contains(body, "Provider credentials", "the dashboard's own code is in the bundle");

        // A browser revalidates with the ETag and gets 304 until the build changes.
        var etag = script.Headers.ETag;
        Assert.IsNotNull(etag);
        using var revalidate = new HttpRequestMessage(HttpMethod.Get, "assets/app.js");
        revalidate.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(revalidate);
        Assert.AreEqual(HttpStatusCode.NotModified, notModified.StatusCode);

        using var styles = await client.GetAsync("assets/app.css");
        Assert.AreEqual(HttpStatusCode.OK, styles.StatusCode);
        Assert.AreEqual("text/css", styles.Content.Headers.ContentType?.MediaType);

        foreach (var missing in new[] { "assets/index.html", "assets/nothing.js", "assets/..%2Fappsettings.json" })
        {
            using var response = await client.GetAsync(missing);
            Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode, missing);
            StringAssert.Contains(await response.Content.ReadAsStringAsync(), "\"not_found\"", missing);
        }
    }

    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task SavingsAndRoi_AreServedToASession_ForTheWholeWorkspace(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>());
        var client = host.Client;
        using var signUp = await client.PostAsJsonAsync("api/auth/signup",
            new { email = $"roi-{Guid.NewGuid():N}@example.com", password = "correct horse battery staple", name = "Roi" });
        var account = System.Text.Json.Nodes.JsonNode.Parse(await signUp.Content.ReadAsStringAsync())!;
        var token = account["token"]!.GetValue<string>();
        var workspaceId = account["workspace"]!["id"]!.GetValue<string>();

        foreach (var path in new[] { "api/analytics/roi", "api/analytics/summary" })
        {
            using var anonymous = await client.GetAsync($"{path}?workspaceId={workspaceId}");
            Assert.AreEqual(HttpStatusCode.Unauthorized, anonymous.StatusCode, path);

            using var request = new HttpRequestMessage(HttpMethod.Get, $"{path}?workspaceId={workspaceId}&from=2026-11-01&to=2026-11-30");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
            var report = System.Text.Json.Nodes.JsonNode.Parse(text)!;
            Assert.AreEqual("2026-11-01", report["from"]!.GetValue<string>(), path);
            Assert.AreEqual("2026-11-30", report["to"]!.GetValue<string>(), path);

            using var filtered = new HttpRequestMessage(HttpMethod.Get, $"{path}?workspaceId={workspaceId}&provider=openai");
            filtered.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var refused = await client.SendAsync(filtered);
            Assert.AreEqual(HttpStatusCode.BadRequest, refused.StatusCode, path + ": a filter these reports cannot apply is refused, not ignored");
            StringAssert.Contains(await refused.Content.ReadAsStringAsync(), "validation_failed");
        }
    }
}
