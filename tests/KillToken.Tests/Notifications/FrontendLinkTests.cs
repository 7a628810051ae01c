using System.Globalization;
using KillToken.Api.Hosting;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.Notifications;

/// <summary>
/// FRONTEND_URL in the mails people get: a budget alert links to its project's page and a monthly digest to the dashboard
/// when it is set; without it neither mail carries a link (rather than a broken one). Real gateway, real SMTP server.
/// </summary>
[TestClass]
public sealed class FrontendLinkTests
{
    private const string Frontend = "https://app.example.com/console/";

    private static FakeUpstream _openai = null!;
    private static SmtpTestServer _smtp = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _smtp = await SmtpTestServer.StartAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _openai.DisposeAsync();
        _smtp.Dispose();
    }

    private static Task<GatewayHost> StartHostAsync(string? frontendUrl)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = _smtp.Port.ToString(CultureInfo.InvariantCulture),
            ["SMTP_FROM"] = "links@killtoken.test",
            ["SMTP_SECURE"] = "none", // the plain emulator offers no STARTTLS
        };
        if (frontendUrl is not null)
        {
            settings[SettingNames.FrontendUrl] = frontendUrl;
        }

        return GatewayHost.StartAsync(settings);
    }

    private static async Task<ReceivedMail> OneMailToAsync(string email)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_smtp.Messages.Any(m => m.To.Contains(email)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        return _smtp.Messages.Single(m => m.To.Contains(email));
    }

    /// <summary>One call spends $0.80 of a $1.00 daily budget: the 80% alert goes to a fresh address.</summary>
    private static async Task<(Tenant Tenant, ReceivedMail Alert)> EightyPercentAlertAsync(GatewayHost host)
    {
        var alertEmail = $"ops-{Guid.NewGuid():N}@example.com";
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m, alertEmail });
        _openai.Handler = Usage(prompt: 0, completion: 100_000); // gpt-4.1 at $8/M out: $0.80
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", maxTokens: 100_000)), 200);
        var alert = await OneMailToAsync(alertEmail);
        StringAssert.Contains(alert.Subject, "80%");
        return (tenant, alert);
    }

    private static async Task<ReceivedMail> DigestAsync(GatewayHost host)
    {
        var tenant = await host.CreateTenantAsync();
        var me = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/me", session: true), 200);
        var digest = await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={tenant.WorkspaceId}", session: true), 200);
        Assert.AreEqual("sent", digest["emailDelivery"]!.GetValue<string>());
        return await OneMailToAsync(me["user"]!["email"]!.GetValue<string>());
    }

    private static void AssertNoLink(ReceivedMail mail)
    {
        Assert.IsFalse(mail.Text.Contains("http://", StringComparison.Ordinal) || mail.Text.Contains("https://", StringComparison.Ordinal), mail.Text);
        Assert.IsFalse(mail.Text.Contains("Dashboard:", StringComparison.Ordinal), mail.Text);
        Assert.IsFalse(mail.Text.Contains("dashboard", StringComparison.OrdinalIgnoreCase), mail.Text);
    }

    [TestMethod]
    public async Task AlertMail_WithFrontendUrl_LinksToTheProjectsPage()
    {
        await using var host = await StartHostAsync(Frontend);
        var (tenant, alert) = await EightyPercentAlertAsync(host);

        StringAssert.Contains(alert.Text, $"Open the project in the dashboard: https://app.example.com/console/projects/{tenant.ProjectId}");
        Assert.IsFalse(alert.Text.Contains("//projects", StringComparison.Ordinal), alert.Text);
    }

    [TestMethod]
    public async Task AlertMail_WithoutFrontendUrl_HasNoLink()
    {
        await using var host = await StartHostAsync(null);
        var (_, alert) = await EightyPercentAlertAsync(host);

        StringAssert.Contains(alert.Text, "Threshold: 80%");
        AssertNoLink(alert);
    }

    [TestMethod]
    public async Task DigestMail_WithFrontendUrl_LinksToTheDashboard()
    {
        await using var host = await StartHostAsync(Frontend);
        var digest = await DigestAsync(host);

        StringAssert.Contains(digest.Text, "Recommended action:");
        StringAssert.Contains(digest.Text, "Dashboard: https://app.example.com/console/\r\n");
    }

    [TestMethod]
    public async Task DigestMail_WithoutFrontendUrl_HasNoLink()
    {
        await using var host = await StartHostAsync(null);
        var digest = await DigestAsync(host);

        StringAssert.Contains(digest.Text, "Recommended action:");
        AssertNoLink(digest);
    }

    [TestMethod]
    public void Links_JoinFrontendUrlAndPath_WithOneSlash_AndAreNullWithoutIt()
    {
        foreach (var frontend in new[] { "https://app.example.com", "https://app.example.com/", "https://app.example.com//" })
        {
            var links = Read(frontend).Frontend;
            Assert.AreEqual("https://app.example.com/invites/tok_1", links.To("invites/tok_1"), frontend);
            Assert.AreEqual("https://app.example.com/invites/tok_1", links.To("/invites/tok_1"), frontend);
            Assert.AreEqual("https://app.example.com/", links.Dashboard(), frontend);
            Assert.AreEqual("https://app.example.com/", links.To(string.Empty), frontend);
            Assert.AreEqual("https://app.example.com/projects/prj_a%2Fb", links.Project("prj_a/b"), frontend);
        }

        var underPath = Read("http://localhost:7071/kt/").Frontend;
        Assert.AreEqual("http://localhost:7071/kt/invites/abc", underPath.To("invites/abc"));
        Assert.AreEqual("http://localhost:7071", underPath.Origin);

        var none = Read(null).Frontend;
        Assert.IsFalse(none.IsConfigured);
        Assert.IsNull(none.To("invites/abc"));
        Assert.IsNull(none.Dashboard());
        Assert.IsNull(none.Project("prj_1"));
    }

    [TestMethod]
    public async Task InvalidFrontendUrl_StopsStartUp_NamingTheSetting()
    {
        foreach (var value in new[] { "app.example.com", "ftp://app.example.com", "https://app.example.com/?tab=1", "https://app.example.com/#/home", "https://user:pw@app.example.com" })
        {
            var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => StartHostAsync(value), value);
            StringAssert.Contains(error.Message, "FRONTEND_URL must be the absolute http(s) URL");
            Assert.IsFalse(error.Message.Contains("pw@", StringComparison.Ordinal), "the value is not echoed: it may hold a password");
        }
    }

    private static KillTokenSettings Read(string? frontendUrl) => KillTokenSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        [SettingNames.DataDir] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
        [SettingNames.FrontendUrl] = frontendUrl,
    }).Build());
}
