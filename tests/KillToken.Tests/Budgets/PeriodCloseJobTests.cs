using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Api.Notifications;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Budgets;

[TestClass]
public sealed class PeriodCloseJobTests
{
    /// <summary>The close job over a fresh SQLite store, with digests that have no SMTP server (skipped).</summary>
    private static ServiceProvider NewServices() => new ServiceCollection()
        .AddSingleton(TimeProvider.System)
        .AddLogging()
        .AddKillTokenSqliteStore(Directory.CreateTempSubdirectory("killtoken-close-").FullName)
        .AddSingleton(new SmtpOptions())
        .AddSingleton<SmtpMailer>()
        .AddSingleton<IMonthlyDigestSender, SmtpDigestSender>()
        .AddSingleton<MonthlyDigestBuilder>()
        .AddSingleton<MonthlyDigestJob>()
        .AddSingleton<PeriodCloseJob>()
        .BuildServiceProvider();

    [TestMethod]
    public async Task RunOnTheFirst_ClosesDayAndMonthOnce_ASecondRunIsANoOp()
    {
        await using var services = NewServices();
        var job = services.GetRequiredService<PeriodCloseJob>();
        var firstOfDecember = new DateTimeOffset(2026, 12, 1, 0, 0, 5, TimeSpan.Zero);

        var first = await job.CloseAsync(firstOfDecember);
        var again = await job.CloseAsync(firstOfDecember.AddMinutes(3));

        Assert.AreEqual(new PeriodCloseResult("2026-11-30", true, "2026-11", true), first);
        Assert.AreEqual(new PeriodCloseResult("2026-11-30", false, "2026-11", false), again);
    }

    [TestMethod]
    public async Task RunMidMonth_ClosesOnlyTheDay()
    {
        await using var services = NewServices();
        var job = services.GetRequiredService<PeriodCloseJob>();

        var result = await job.CloseAsync(new DateTimeOffset(2026, 11, 23, 0, 0, 1, TimeSpan.Zero));

        Assert.AreEqual(new PeriodCloseResult("2026-11-22", true, null, false), result);
    }
}
