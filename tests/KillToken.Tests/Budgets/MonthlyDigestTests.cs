using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Budgets;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.Budgets;

/// <summary>
/// §6's monthly digest as a user meets it: the close job on the 1st mails each owner the ended month's numbers once, and
/// <c>POST /api/analytics/monthly-digest/test</c> previews the month so far. Runs on SQLite and, in CI's second pass, on Cosmos DB.
/// </summary>
[TestClass]
public sealed class MonthlyDigestTests
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

    /// <summary>Noon on the 15th of this UTC month: traffic lands mid-month, and the 1st of next month closes it.</summary>
    private static FakeTimeProvider MidMonthClock()
    {
        var now = DateTimeOffset.UtcNow;
        return new FakeTimeProvider(new DateTimeOffset(now.Year, now.Month, 15, 12, 0, 0, TimeSpan.Zero));
    }

    private static Task<GatewayHost> StartHostAsync(FakeTimeProvider clock, bool smtp)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
        };
        if (smtp)
        {
            settings["SMTP_HOST"] = "127.0.0.1";
            settings["SMTP_PORT"] = _smtp.Port.ToString(CultureInfo.InvariantCulture);
            settings["SMTP_FROM"] = "digest@killtoken.test";
            settings["SMTP_SECURE"] = "none"; // the plain emulator offers no STARTTLS; TLS modes: SmtpTransportSecurityTests
        }

        return GatewayHost.StartAsync(settings, services => services.AddSingleton<TimeProvider>(clock));
    }

    private static async Task<string> EmailOfAsync(Tenant tenant) =>
        (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/me", session: true), 200))["user"]!["email"]!.GetValue<string>();

    /// <summary>
    /// One workspace, two projects: "test project" makes 2 gpt-4.1 calls ($0.40 each); "checkout" (daily budget $0.18)
    /// makes 3 gpt-4o-mini calls ($0.06 each) and then is refused once. Month: $0.98, 6 requests, 1 blocked.
    /// </summary>
    private static async Task<(Tenant Tenant, Tenant Checkout)> TrafficOnTwoProjectsAsync(GatewayHost host)
    {
        var tenant = await host.CreateTenantAsync();
        var (checkoutId, checkoutKey) = await host.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = "checkout", dailyBudgetUsd = 0.18m });
        var checkout = tenant with { ProjectId = checkoutId, ApiKey = checkoutKey };

        _openai.Handler = Usage(prompt: 0, completion: 50_000); // gpt-4.1 at $8/M out: $0.40
        for (var i = 0; i < 2; i++)
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);
        }

        _openai.Handler = Usage(prompt: 0, completion: 100_000); // gpt-4o-mini at $0.60/M out: $0.06
        for (var i = 0; i < 3; i++)
        {
            await GatewayHost.ReadJsonAsync(await checkout.ChatAsync(Chat("gpt-4o-mini")), 200);
        }

        await GatewayHost.ReadJsonAsync(await checkout.ChatAsync(Chat("gpt-4o-mini")), 429); // the daily budget is spent
        return (tenant, checkout);
    }

    private static async Task<IReadOnlyList<ReceivedMail>> MailsToAsync(string email, int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_smtp.Messages.Count(m => m.To.Contains(email)) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        await Task.Delay(300); // give a (wrong) extra mail the chance to show up
        return [.. _smtp.Messages.Where(m => m.To.Contains(email))];
    }

    [TestMethod]
    public async Task CloseJobOnTheFirst_MailsEachOwnerTheEndedMonth_Once_AndASecondRunSendsNothing()
    {
        var clock = MidMonthClock();
        await using var host = await StartHostAsync(clock, smtp: true);
        var (tenant, _) = await TrafficOnTwoProjectsAsync(host);
        var owner = await EmailOfAsync(tenant);

        // A second account: one workspace without traffic, and one it deleted (which gets no digest).
        var quiet = await host.CreateTenantAsync();
        var quietOwner = await EmailOfAsync(quiet);
        var deleted = await GatewayHost.ReadJsonAsync(await quiet.SendAsync(HttpMethod.Post, "api/workspaces", new { name = "Old" }, session: true), 201);
        Assert.AreEqual(204, (int)(await quiet.SendAsync(HttpMethod.Delete, $"api/workspaces/{deleted["id"]!.GetValue<string>()}", new { confirmName = "Old" }, session: true)).StatusCode);

        var month = clock.GetUtcNow().ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var firstOfNextMonth = new DateTimeOffset(clock.GetUtcNow().Year, clock.GetUtcNow().Month, 1, 0, 0, 5, TimeSpan.Zero).AddMonths(1);
        var job = host.Services.GetRequiredService<IPeriodCloseJob>();
        await job.RunAsync(firstOfNextMonth);

        var mail = (await MailsToAsync(owner, 1)).Single();
        Assert.AreEqual($"[KillToken] Test's workspace: monthly digest {month}", mail.Subject);
        Assert.AreEqual("digest@killtoken.test", mail.From);
        var body = mail.Text;
        StringAssert.Contains(body, "Total spend: $0.98");
        StringAssert.Contains(body, "Total requests: 6");
        StringAssert.Contains(body, "Blocked requests: 1");
        StringAssert.Contains(body, "Top provider: openai ($0.98, 6 requests)");
        StringAssert.Contains(body, "Top model: openai/gpt-4.1 ($0.80, 2 requests)");
        StringAssert.Contains(body, "Top project: test project ($0.80, 2 requests)");
        StringAssert.Contains(body, "- checkout: reached its $0.18 daily budget on 1 day; 1 request was refused with budget_exceeded");
        StringAssert.Contains(body, "Recommended action: Raise the budget of project \"checkout\"");

        // A workspace without traffic still hears about its month, and says so.
        var quietMail = (await MailsToAsync(quietOwner, 1)).Single();
        StringAssert.Contains(quietMail.Text, "No requests went through KillToken this month.");
        StringAssert.Contains(quietMail.Text, "Total requests: 0");
        StringAssert.Contains(quietMail.Text, "Top model: none");
        StringAssert.Contains(quietMail.Text, "Budget warnings: none");

        // The timer fires again (a retry, a second instance): nobody gets a second mail.
        await job.RunAsync(firstOfNextMonth.AddMinutes(2));
        Assert.AreEqual(1, (await MailsToAsync(owner, 2)).Count);
        Assert.AreEqual(1, (await MailsToAsync(quietOwner, 2)).Count);

        // Logs name workspaces and counts, never the people or what they were sent.
        Assert.IsFalse(host.Logs.Lines.Any(l => l.Contains(owner, StringComparison.OrdinalIgnoreCase) || l.Contains("Total spend", StringComparison.Ordinal)));
        Assert.IsTrue(host.Logs.Lines.Any(l => l.Contains($"Monthly digest {month} for workspace {tenant.WorkspaceId}: 1 sent", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task TestEndpoint_WithoutSmtp_ReturnsTheMonthSoFar_WithDeliverySkipped()
    {
        var clock = MidMonthClock();
        await using var host = await StartHostAsync(clock, smtp: false);
        var (tenant, checkout) = await TrafficOnTwoProjectsAsync(host);

        var digest = await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={tenant.WorkspaceId}", session: true), 200);

        Assert.AreEqual("skipped", digest["emailDelivery"]!.GetValue<string>());
        Assert.AreEqual(tenant.WorkspaceId, digest["workspaceId"]!.GetValue<string>());
        Assert.AreEqual(clock.GetUtcNow().ToString("yyyy-MM", CultureInfo.InvariantCulture), digest["month"]!.GetValue<string>());
        Assert.AreEqual(0.98m, digest["totalSpendUsd"]!.GetValue<decimal>());
        Assert.AreEqual(6, digest["totalRequests"]!.GetValue<long>());
        Assert.AreEqual(1, digest["blockedRequests"]!.GetValue<long>());
        Assert.AreEqual("openai", digest["topProvider"]!["id"]!.GetValue<string>());
        Assert.AreEqual("openai/gpt-4.1", digest["topModel"]!["id"]!.GetValue<string>());
        Assert.AreEqual(0.80m, digest["topModel"]!["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual(tenant.ProjectId, digest["topProject"]!["id"]!.GetValue<string>());
        Assert.AreEqual("test project", digest["topProject"]!["name"]!.GetValue<string>());
        var warning = digest["budgetWarnings"]!.AsArray().Single()!;
        Assert.AreEqual(checkout.ProjectId, warning["projectId"]!.GetValue<string>());
        Assert.AreEqual(1, warning["daysAtDailyLimit"]!.GetValue<int>());
        Assert.AreEqual(1, warning["blockedRequests"]!.GetValue<long>());
        StringAssert.StartsWith(digest["recommendedAction"]!.GetValue<string>(), "Raise the budget of project \"checkout\"");
    }

    [TestMethod]
    public async Task TestEndpoint_WithSmtp_MailsTheCallerOnce()
    {
        var clock = MidMonthClock();
        await using var host = await StartHostAsync(clock, smtp: true);
        var (tenant, _) = await TrafficOnTwoProjectsAsync(host);
        var caller = await EmailOfAsync(tenant);

        var digest = await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={tenant.WorkspaceId}", session: true), 200);

        Assert.AreEqual("sent", digest["emailDelivery"]!.GetValue<string>());
        var mail = (await MailsToAsync(caller, 1)).Single();
        Assert.AreEqual(caller, mail.To.Single());
        StringAssert.Contains(mail.Text, "Total spend: $0.98");
        StringAssert.Contains(mail.Text, "Top project: test project ($0.80, 2 requests)");
    }

    [TestMethod]
    public async Task TestEndpoint_RefusesStrangersAndBadInput_WithTheContractsCodes()
    {
        var clock = MidMonthClock();
        await using var host = await StartHostAsync(clock, smtp: false);
        var tenant = await host.CreateTenantAsync();
        var stranger = await host.CreateTenantAsync();
        var route = $"api/analytics/monthly-digest/test?workspaceId={tenant.WorkspaceId}";

        var foreign = await GatewayHost.ReadJsonAsync(await stranger.SendAsync(HttpMethod.Post, route, session: true), 404);
        var missing = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "api/analytics/monthly-digest/test", session: true), 400);
        var blank = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "api/analytics/monthly-digest/test?workspaceId=%20", session: true), 400);
        var unknown = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "api/analytics/monthly-digest/test?workspaceId=ws_nope%2F..", session: true), 404);
        var withApiKey = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, route), 401);
        var anonymous = await GatewayHost.ReadJsonAsync(await host.Client.PostAsync(route, null), 401);

        Assert.AreEqual("not_found", foreign["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("validation_failed", missing["error"]!["code"]!.GetValue<string>());
        StringAssert.Contains(missing["error"]!["message"]!.GetValue<string>(), "workspaceId");
        Assert.AreEqual("validation_failed", blank["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("not_found", unknown["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("unauthenticated", withApiKey["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual("unauthenticated", anonymous["error"]!["code"]!.GetValue<string>());

        // The stranger's own workspace works for the stranger: an empty month.
        var own = await GatewayHost.ReadJsonAsync(await stranger.SendAsync(HttpMethod.Post,
            $"api/analytics/monthly-digest/test?workspaceId={stranger.WorkspaceId}", session: true), 200);
        Assert.AreEqual(0, own["totalRequests"]!.GetValue<long>());
        Assert.IsNull(own["topModel"]);
        Assert.AreEqual(0, own["budgetWarnings"]!.AsArray().Count);
        StringAssert.StartsWith(own["recommendedAction"]!.GetValue<string>(), "No traffic this month");
    }
}
