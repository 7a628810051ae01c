using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// The counters a Cosmos DB gateway holds in memory (rollup rows, spend that gives back no reservation) are written when
/// the host stops cleanly: a new host on the same database reports every call the stopped one answered.
/// </summary>
[TestClass]
public sealed class CosmosDeferredCountersTests
{
    [TestMethod]
    public async Task CountersHeldInMemory_AreWrittenOnACleanStop_AndTheNextHostReportsEveryCall()
    {
        const int Calls = 7;
        var database = CosmosEmulator.NewDatabaseName("deferred");
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 500)));
        var settings = CosmosGatewaySettings.For(CosmosEmulator.Shared, database, openai);
        // A flush interval far longer than the test: whatever reaches Cosmos DB was written by the stop.
        var first = await GatewayHost.StartAsync(settings, CosmosHeldCounters.HoldForAnHour);
        Tenant tenant;
        decimal costOfOne;
        try
        {
            tenant = await first.CreateTenantAsync();
            var answer = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "stop 0"), featureHeader: "shutdown"), 200);
            costOfOne = answer["metrics"]!["costUsd"]!.GetValue<decimal>();
            for (var i = 1; i < Calls; i++)
            {
                await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "stop " + i), featureHeader: "shutdown"), 200);
            }
        }
        finally
        {
            await first.DisposeAsync(); // StopAsync, then the services' disposal: what RunAsync does on SIGTERM
        }

        await using var second = await GatewayHost.StartAsync(settings);
        try
        {
            var today = BudgetPeriods.At(DateTimeOffset.UtcNow);
            var rows = await second.Services.GetRequiredService<IUsageRollups>().QueryAsync(tenant.WorkspaceId, today.Day, today.Day, RollupDimensions.Cell);
            var cell = rows.Single().Totals;
            Assert.AreEqual(Calls, cell.Requests, "every call the stopped host answered is in the report");
            Assert.AreEqual(Calls * 1000, cell.InputTokens);
            Assert.IsTrue(costOfOne > 0);
            Assert.AreEqual(Calls * costOfOne, cell.CostUsd);

            var ledger = second.Services.GetRequiredService<IBudgetLedger>();
            Assert.AreEqual(Calls * costOfOne, (await ledger.GetAsync(tenant.WorkspaceId, tenant.ProjectId, today)).DaySpent, "the project's spend (no limits: held in memory) was written");
            Assert.AreEqual(Calls * costOfOne, (await ledger.GetAsync(tenant.WorkspaceId, WorkspaceBudget.LedgerId, today)).MonthSpent, "and the workspace's");
        }
        finally
        {
            await second.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(database).DeleteStreamAsync();
        }
    }
}
