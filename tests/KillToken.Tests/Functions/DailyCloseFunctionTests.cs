using KillToken.Core.Budgets;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Functions;

/// <summary>
/// The timer function <c>DailyClose</c> of the real worker, invoked as the Functions host invokes it at 00:00 UTC, and
/// its effects read back from the store the worker wrote: the ended day closed once (a second tick is harmless), and on
/// Cosmos DB the day that ended a full day earlier reconciled, releasing what a stopped instance still held. (On SQLite
/// such a hold is released when the file opens — one process owns it — so there the close has nothing to release.)
/// Alerts re-arm without the job: their claims are keyed by day and month, so a new period starts unclaimed.
/// </summary>
[TestClass]
public sealed class DailyCloseFunctionTests
{
    [TestMethod]
    public async Task TheTimer_ClosesYesterdayOnce_AndOnCosmosReleasesAStoppedInstancesHold()
    {
        // "Yesterday" must be the same day for this test and the worker's clock.
        if (DateTimeOffset.UtcNow.TimeOfDay > TimeSpan.FromHours(23.98))
        {
            await Task.Delay(TimeSpan.FromHours(24) - DateTimeOffset.UtcNow.TimeOfDay + TimeSpan.FromSeconds(2));
        }

        var now = DateTimeOffset.UtcNow;
        var yesterday = BudgetPeriods.At(now.AddDays(-1)).Day;
        var twoDaysAgo = BudgetPeriods.At(now.AddDays(-2));
        var onCosmos = Environment.GetEnvironmentVariable(GatewayHost.TestStoreVariable) == "cosmos";
        await using var host = await HostUnderTest.StartAsync(HostKind.Functions, new Dictionary<string, string?>());

        // A workspace and a project with a daily limit, made through the worker.
        var (token, workspaceId) = await GatewayHost.SignUpAsync(host.Client);
        var (projectId, _) = await GatewayHost.CreateProjectAsync(host.Client, token, workspaceId, new { name = "close", dailyBudgetUsd = 10m });

        if (onCosmos)
        {
            // An instance stopped two days ago in the middle of a call: its reservation is still held.
            await using var store = OpenStore(host.Settings);
            var held = await store.GetRequiredService<IBudgetLedger>().TryReserveAsync(workspaceId, projectId, twoDaysAgo, 0.25m, 10m, null);
            Assert.IsTrue(held.Reserved);
        }

        await host.RunDailyCloseAsync();
        await host.RunDailyCloseAsync();
        var closedLines = host.Logs.Where(line => line.Contains($"closed the day {yesterday}", StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, closedLines, "the first tick closes the day, the second finds it closed:\n" + string.Join('\n', host.Logs.TakeLast(30)));

        await host.StopWorkerAsync();
        Assert.AreEqual(0, host.WorkerExitCode, string.Join('\n', host.Logs.TakeLast(30)));
        await using (var store = OpenStore(host.Settings))
        {
            var ledger = store.GetRequiredService<IBudgetLedger>();
            Assert.IsFalse(await ledger.TryMarkClosedAsync("day:" + yesterday), "the timer marked yesterday closed in the store");
            if (onCosmos)
            {
                var usage = await ledger.GetAsync(workspaceId, projectId, twoDaysAgo);
                Assert.AreEqual(0m, usage.DayReserved, "the reconciliation released the stopped instance's reservation");
                Assert.AreEqual(0m, usage.DaySpent, "no trace, no spend");
            }
        }
    }

    /// <summary>The worker's store, opened by this test with the same registration the hosts use.</summary>
    private static ServiceProvider OpenStore(IReadOnlyDictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddLogging()
            .AddKillToken(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();
}
