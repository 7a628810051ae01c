using KillToken.Core.Budgets;
using KillToken.Storage.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace KillToken.Tests.Budgets;

[TestClass]
public sealed class PeriodCloseJobTests
{
    [TestMethod]
    public async Task RunOnTheFirst_ClosesDayAndMonthOnce_ASecondRunIsANoOp()
    {
        var folder = Directory.CreateTempSubdirectory("killtoken-close-");
        using var db = new SqliteDatabase(Path.Combine(folder.FullName, "close.db"));
        var job = new PeriodCloseJob(new SqliteBudgetLedger(db), NullLogger<PeriodCloseJob>.Instance);
        var firstOfDecember = new DateTimeOffset(2026, 12, 1, 0, 0, 5, TimeSpan.Zero);

        var first = await job.CloseAsync(firstOfDecember);
        var again = await job.CloseAsync(firstOfDecember.AddMinutes(3));

        Assert.AreEqual(new PeriodCloseResult("2026-11-30", true, "2026-11", true), first);
        Assert.AreEqual(new PeriodCloseResult("2026-11-30", false, "2026-11", false), again);
    }

    [TestMethod]
    public async Task RunMidMonth_ClosesOnlyTheDay()
    {
        var folder = Directory.CreateTempSubdirectory("killtoken-close-");
        using var db = new SqliteDatabase(Path.Combine(folder.FullName, "close.db"));
        var job = new PeriodCloseJob(new SqliteBudgetLedger(db), NullLogger<PeriodCloseJob>.Instance);

        var result = await job.CloseAsync(new DateTimeOffset(2026, 11, 23, 0, 0, 1, TimeSpan.Zero));

        Assert.AreEqual(new PeriodCloseResult("2026-11-22", true, null, false), result);
    }
}
