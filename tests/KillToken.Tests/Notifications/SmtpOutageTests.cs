using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Budgets;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.Notifications;

/// <summary>
/// A mail server that is down, hung or cut off mid-message, as the gateway's users meet it: calls and invites answer as
/// usual, what was not sent shows in the workspace's audit log, and what the server never took is sent again later
/// (an alert by the next call over the threshold, a digest by the next close) — while a mail that may have arrived is not.
/// </summary>
[TestClass]
public sealed class SmtpOutageTests
{
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

    private static Task<GatewayHost> StartHostAsync(SmtpRelay relay, int timeoutSeconds, FakeTimeProvider? clock = null) =>
        GatewayHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
                ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
                ["SMTP_HOST"] = "127.0.0.1",
                ["SMTP_PORT"] = relay.Port.ToString(CultureInfo.InvariantCulture),
                ["SMTP_FROM"] = "alerts@killtoken.test",
                ["SMTP_SECURE"] = "none", // the plain emulator offers no STARTTLS
                ["SMTP_TIMEOUT_SECONDS"] = timeoutSeconds.ToString(CultureInfo.InvariantCulture),
            },
            clock is null ? null : services => services.AddSingleton<TimeProvider>(clock));

    private static async Task<List<JsonObject>> AuditAsync(Tenant tenant, string auditEvent) =>
        [.. (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/audit?event={auditEvent}", session: true), 200))["data"]!
            .AsArray().Select(e => e!.AsObject())];

    private static async Task<List<JsonObject>> WaitForAuditAsync(Tenant tenant, string auditEvent, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var events = await AuditAsync(tenant, auditEvent);
        while (events.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            events = await AuditAsync(tenant, auditEvent);
        }

        return events;
    }

    private static string Detail(JsonObject auditEvent, string name) => auditEvent["details"]![name]!.GetValue<string>();

    private static async Task<string> EmailOfAsync(Tenant tenant) =>
        (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/me", session: true), 200))["user"]!["email"]!.GetValue<string>();

    /// <summary>A gateway whose clock stands at noon on the 15th, one tenant, and the close job to run on the 1st of next month.</summary>
    private static async Task<MidMonth> MidMonthAsync(SmtpRelay relay)
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(new DateTimeOffset(now.Year, now.Month, 15, 12, 0, 0, TimeSpan.Zero));
        var host = await StartHostAsync(relay, timeoutSeconds: 3, clock);
        var tenant = await host.CreateTenantAsync();
        return new MidMonth(host, tenant, await EmailOfAsync(tenant),
            new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 5, TimeSpan.Zero).AddMonths(1), host.Services.GetRequiredService<IPeriodCloseJob>());
    }

    private sealed record MidMonth(GatewayHost Host, Tenant Tenant, string Owner, DateTimeOffset FirstOfNextMonth, IPeriodCloseJob Close) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    [TestMethod]
    public async Task AHungMailServer_DelaysNoCallAndNoInvite_TheAlertShowsAsFailed_AndIsSentOnceTheServerIsBack()
    {
        await using var relay = new SmtpRelay(_smtp.Port, SmtpRelayMode.Stall);
        await using var host = await StartHostAsync(relay, timeoutSeconds: 3);
        var alertEmail = $"ops-{Guid.NewGuid():N}@example.com";
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m, alertEmail });

        // $0.85 of the $1 daily budget: the 80% alert goes to a server that accepts the connection and never answers.
        _openai.Handler = Usage(prompt: 0, completion: 106_250);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", maxTokens: 110_000)), 200);
        var answeredAt = DateTimeOffset.UtcNow;
        var invite = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/invites",
            new { email = $"new-{Guid.NewGuid():N}@example.com", role = "member" }, session: true), 201);
        var invitedAt = DateTimeOffset.UtcNow;
        Assert.AreEqual("queued", invite["emailDelivery"]!.GetValue<string>());

        // The alert's attempt is only given up when its 3-second timeout runs out: the call had its answer long before.
        var failed = (await WaitForAuditAsync(tenant, "budget_alert", 1)).Single();
        Assert.AreEqual("failed", Detail(failed, "delivery"));
        Assert.AreEqual("80", Detail(failed, "thresholdPercent"));
        Assert.AreEqual("true", Detail(failed, "retrying"), "the server never took it: it is given back to be sent later");
        var stalled = relay.Connections.Where(c => c.Mode == SmtpRelayMode.Stall).ToList();
        Assert.IsGreaterThanOrEqualTo(2, stalled.Count, "the alert and the invite both reached the hung server");
        Assert.IsTrue(stalled.TrueForAll(c => c.Closed is null || c.Closed > answeredAt), "the call's answer did not wait for its alert mail");
        Assert.IsTrue(stalled.TrueForAll(c => c.Closed is null || c.Closed > invitedAt), "the invite's answer did not wait for its mail");
        Assert.IsEmpty(_smtp.Messages.Where(m => m.To.Contains(alertEmail)).ToList());

        // The server is back: the next call that finds the budget past 80% sends the alert, once.
        relay.Mode = SmtpRelayMode.Pass;
        await Task.Delay(TimeSpan.FromSeconds(3.5)); // the mailer holds back for one timeout after a server it could not reach
        _openai.Handler = Usage(prompt: 0, completion: 100);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", maxTokens: 1_000)), 200);
        var sent = await _smtp.WaitForAsync(_smtp.Messages.Count + 1);
        var alerts = await WaitForAuditAsync(tenant, "budget_alert", 2);
        Assert.AreEqual("sent", Detail(alerts[0], "delivery"), "newest first");
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", maxTokens: 1_000)), 200);
        await Task.Delay(500); // give a (wrong) second mail the chance to show up
        var mails = _smtp.Messages.Where(m => m.To.Contains(alertEmail)).ToList();
        Assert.HasCount(1, mails, "one 80% alert, sent once");
        StringAssert.Contains(mails[0].Subject, "80%");
    }

    [TestMethod]
    public async Task DigestsTheServerNeverTook_AreSentByTheNextClose_Once_AndTheCloseItselfNeverFails()
    {
        await using var relay = new SmtpRelay(_smtp.Port, SmtpRelayMode.Refuse);
        await using var month = await MidMonthAsync(relay);
        var (tenant, owner, first, job) = (month.Tenant, month.Owner, month.FirstOfNextMonth, month.Close);
        _openai.Handler = Usage(prompt: 0, completion: 1_000);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);

        // The 1st: the server is down. The close completes; the digest is not sent and says it will be retried.
        await job.RunAsync(first);
        var down = (await AuditAsync(tenant, "digest_sent")).Single();
        Assert.AreEqual("0", Detail(down, "sent"));
        Assert.AreEqual("1", Detail(down, "failed"));
        Assert.AreEqual("1", Detail(down, "retrying"));
        Assert.IsEmpty(_smtp.Messages.Where(m => m.To.Contains(owner)).ToList());

        // The 2nd: the server is back, and the close sends what it missed; the 3rd's and a second instance's send nothing.
        relay.Mode = SmtpRelayMode.Pass;
        await job.RunAsync(first.AddDays(1));
        await job.RunAsync(first.AddDays(1).AddMinutes(1));
        await job.RunAsync(first.AddDays(2));
        await _smtp.WaitForAsync(1);
        await Task.Delay(300); // give a (wrong) second mail the chance to show up
        Assert.HasCount(1, _smtp.Messages.Where(m => m.To.Contains(owner)).ToList(), "the digest arrives once");
        var events = await AuditAsync(tenant, "digest_sent");
        Assert.HasCount(2, events, "the failed attempt and the one that sent it");
        var retried = events.Single(e => Detail(e, "sent") == "1"); // the test's clock stands still: both have one time
        Assert.AreEqual("0", Detail(retried, "retrying"));
    }

    [TestMethod]
    public async Task ADigestCutOffAfterItsMessage_MayHaveArrived_SoNoCloseSendsItAgain()
    {
        await using var relay = new SmtpRelay(_smtp.Port, SmtpRelayMode.CutAfterData);
        await using var month = await MidMonthAsync(relay);
        var (tenant, owner, first, job) = (month.Tenant, month.Owner, month.FirstOfNextMonth, month.Close);

        await job.RunAsync(first);
        relay.Mode = SmtpRelayMode.Pass;
        await job.RunAsync(first.AddDays(1));

        await _smtp.WaitForAsync(1);
        await Task.Delay(300);
        Assert.HasCount(1, _smtp.Messages.Where(m => m.To.Contains(owner)).ToList(), "the server had it; the gateway could not know, and did not send it twice");
        var attempt = (await AuditAsync(tenant, "digest_sent")).Single();
        Assert.AreEqual("1", Detail(attempt, "failed"));
        Assert.AreEqual("0", Detail(attempt, "retrying"));
    }
}
