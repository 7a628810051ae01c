using System.Diagnostics;
using System.Globalization;
using KillToken.Core.Budgets;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.ScaleOut;

/// <summary>
/// Issue 19: the daily close and the monthly digest run once even when every instance's timer fires. Three in-process
/// self-hosts and the Functions worker on one Cosmos DB database, with a real SMTP server: every self-host runs the
/// close for the 1st of next month twice at once (a second instance and a retried timer), while the Functions worker's
/// <c>DailyClose</c> timer fires too (on its own clock: the test host cannot move it to the 1st). The day and the month
/// are each closed by one run; each owner and admin gets exactly one digest per workspace, holding the traffic every
/// instance served.
/// </summary>
[TestClass]
public sealed class ScaleOutPeriodCloseTests
{
    private static FakeUpstream _openai = null!;
    private static SmtpTestServer _smtp = null!;
    private static SharedStoreCluster _cluster = null!;
    private static IReadOnlyList<ClusterTenant> _warm = [];

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _smtp = await SmtpTestServer.StartAsync();
        _cluster = await SharedStoreCluster.StartAsync(_openai, selfHosts: 3, functionsWorker: true,
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", _smtp.Port.ToString(CultureInfo.InvariantCulture)),
            ("SMTP_FROM", "digest@killtoken.test"),
            ("SMTP_SECURE", "none")); // the plain emulator offers no STARTTLS
        context.WriteLine($"{_cluster.Instances.Count} instances on database {_cluster.Database} started together in {_cluster.Startup.TotalSeconds:0.0} s");
        _warm = await _cluster.WarmUpAsync(); // four more workspaces, one per instance: each owner gets its digest too
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _cluster.DisposeAsync();
        await _openai.DisposeAsync();
        _smtp.Dispose();
    }

    [TestMethod]
    public async Task EveryInstancesTimerFiresOnTheFirst_DayAndMonthCloseOnce_EachOwnerAndAdminGetsOneDigest()
    {
        var phases = Stopwatch.StartNew();
        // Workspaces made through different instances: the team's (owner, an admin, a member) and two more owners'.
        var owner = await SharedStoreCluster.CreateTenantAsync(_cluster[0], name: "Olivia " + Guid.NewGuid().ToString("N")[..6]);
        var admin = await SharedStoreCluster.CreateTenantAsync(_cluster[1], name: "Adam " + Guid.NewGuid().ToString("N")[..6]);
        var member = await SharedStoreCluster.CreateTenantAsync(_cluster[3], name: "Mia " + Guid.NewGuid().ToString("N")[..6]);
        var other = await SharedStoreCluster.CreateTenantAsync(_cluster[2], name: "Otto " + Guid.NewGuid().ToString("N")[..6]);
        await SharedStoreCluster.JoinAsync(_cluster[1], owner, _cluster[3], admin, "admin");
        await SharedStoreCluster.JoinAsync(_cluster[3], owner, _cluster[2], member, "member");

        TestContext.WriteLine($"four accounts and two joins through four instances: {phases.ElapsedMilliseconds} ms");
        // Traffic on the team's workspace through every instance: 8 gpt-4o-mini calls at $0.06.
        _openai.Handler = Usage(prompt: 0, completion: 100_000);
        for (var i = 0; i < 8; i++)
        {
            await _cluster[i].ReadAsync(await _cluster[i].ChatAsync(owner.ApiKey, Chat("gpt-4o-mini", "digest traffic")), 200);
        }

        // What other instances still hold in memory reaches the store within the flush interval (1 s); a close runs at
        // midnight, long after the month's last call, so the test waits until every instance's report shows all 8.
        var lag = Stopwatch.StartNew();
        await WaitUntilEveryInstanceReportsAsync(owner, requests: 8);
        TestContext.WriteLine($"every instance reported all 8 calls {lag.ElapsedMilliseconds} ms after the last answer");

        var now = DateTimeOffset.UtcNow;
        var firstOfNextMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 5, TimeSpan.Zero).AddMonths(1);
        var month = now.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var lastDay = firstOfNextMonth.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        // Every instance's timer at once: each self-host twice for the 1st, the Functions worker's timer on its clock.
        var clock = Stopwatch.StartNew();
        var runs = _cluster.Instances
            .SelectMany(instance => instance.IsFunctionsWorker ? [instance.RunDailyCloseAsync(firstOfNextMonth)] : new[] { instance.RunDailyCloseAsync(firstOfNextMonth), instance.RunDailyCloseAsync(firstOfNextMonth) })
            .ToList();
        var results = (await Task.WhenAll(runs)).OfType<PeriodCloseResult>().ToList();
        TestContext.WriteLine($"{runs.Count} concurrent close runs in {clock.ElapsedMilliseconds} ms");

        Assert.HasCount(6, results);
        Assert.IsTrue(results.All(r => r.Day == lastDay && r.Month == month), string.Join("; ", results));
        Assert.AreEqual(1, results.Count(r => r.DayClosed), $"the day {lastDay} is closed by one run: {string.Join("; ", results)}");
        Assert.AreEqual(1, results.Count(r => r.MonthClosed), $"the month {month} is closed by one run: {string.Join("; ", results)}");

        // One digest per workspace and recipient (owners and admins; the member only for its own workspace).
        string Subject(ClusterTenant tenant) => $"[KillToken] {tenant.Name}'s workspace: monthly digest {month}";
        List<(string To, string Subject)> expected =
        [
            (owner.Email, Subject(owner)),
            (admin.Email, Subject(owner)),
            (admin.Email, Subject(admin)),
            (member.Email, Subject(member)),
            (other.Email, Subject(other)),
            .. _warm.Select(w => (w.Email, Subject(w))),
        ];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Digests().Count < expected.Count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(1_000); // give a (wrong) second digest the chance to arrive
        var mails = Digests();
        var received = mails.SelectMany(m => m.To.Select(to => (to, m.Subject))).OrderBy(m => m.to, StringComparer.Ordinal).ThenBy(m => m.Subject, StringComparer.Ordinal).ToList();
        TestContext.WriteLine($"{mails.Count} digests: " + string.Join("; ", received.Select(r => $"{r.to} {r.Subject}")));
        CollectionAssert.AreEqual(
            expected.OrderBy(m => m.To, StringComparer.Ordinal).ThenBy(m => m.Subject, StringComparer.Ordinal).ToList(),
            received,
            "exactly one digest per workspace and owner/admin, however many timers fired");

        // The team's digest counts what every instance served.
        var team = mails.Single(m => m.To.Contains(owner.Email)).Text;
        StringAssert.Contains(team, "Total requests: 8");
        StringAssert.Contains(team, "Total spend: $0.48");

        // The timers fire again later on the 1st (a restart, a retried run): nothing more is closed or sent.
        var again = (await Task.WhenAll(_cluster.Instances.Where(i => !i.IsFunctionsWorker).Select(i => i.RunDailyCloseAsync(firstOfNextMonth.AddHours(1))))).OfType<PeriodCloseResult>().ToList();
        Assert.IsTrue(again.All(r => !r.DayClosed && !r.MonthClosed), string.Join("; ", again));
        await Task.Delay(500);
        Assert.HasCount(expected.Count, Digests(), "no second digest");
    }

    /// <summary>The digests the SMTP server received (the invites of the set-up are mailed too).</summary>
    private static List<ReceivedMail> Digests() => [.. _smtp.Messages.Where(m => m.Subject.Contains(": monthly digest ", StringComparison.Ordinal))];

    /// <summary>Polls each instance's <c>/v1/summary</c> until it counts <paramref name="requests"/> calls (at most 15 s in all).</summary>
    private static async Task WaitUntilEveryInstanceReportsAsync(ClusterTenant tenant, int requests)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        foreach (var instance in _cluster.Instances)
        {
            long seen;
            while ((seen = (await instance.JsonAsync(HttpMethod.Get, "v1/summary", tenant.ApiKey, null, 200))["totals"]!["requests"]!.GetValue<long>()) < requests
                && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.AreEqual(requests, seen, $"{instance.Name}'s report after 15 s");
        }
    }
}
