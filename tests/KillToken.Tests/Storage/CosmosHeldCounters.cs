using KillToken.Storage.Cosmos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Storage;

/// <summary>
/// A test gateway whose counters held in memory are written only when the test says so (or the host stops): the flush
/// interval is an hour, so a count of one call's operations never catches the timer's flush half-way.
/// </summary>
internal static class CosmosHeldCounters
{
    public static void HoldForAnHour(IServiceCollection services) =>
        services.AddSingleton(sp => new CosmosDeferredCounters(
            sp.GetRequiredService<CosmosUsageRollups>(),
            sp.GetRequiredService<CosmosBudgetLedger>(),
            TimeSpan.FromHours(1),
            sp.GetRequiredService<ILogger<CosmosDeferredCounters>>()));

    /// <summary>Writes what the host holds now, as its timer would.</summary>
    public static Task FlushAsync(GatewayHost host) => host.Services.GetRequiredService<CosmosDeferredCounters>().FlushAsync();
}
