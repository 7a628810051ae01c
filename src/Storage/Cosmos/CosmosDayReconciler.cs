using System.Globalization;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// Cosmos DB writes a call's trace, settlement and rollups as separate documents (<see cref="CosmosTraceStore"/>); this
/// brings one workspace's day back to what its traces say: the rollup rows that differ are replaced by the traces' sums,
/// and each project's spend for the day becomes its traced cost with any reservation still held released — and so does
/// the workspace's (its counter holds all its projects' spend, for its monthly limit). One single-partition
/// query of the day's traces, then point reads and writes in the workspace's partition.
/// </summary>
internal sealed class CosmosDayReconciler(CosmosStoreContext db, CosmosUsageRollups rollups, CosmosBudgetLedger ledger, IProjectStore projects) : IDayReconciler
{
    public async Task<DayReconciliation> ReconcileAsync(string workspaceId, string day, CancellationToken cancellationToken = default)
    {
        var start = DateTimeOffset.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        // What this instance still holds in memory lands first, so the repair below is not followed by a late increment.
        await ledger.FlushSpendAsync(workspaceId, cancellationToken);
        await rollups.FlushAsync(workspaceId, cancellationToken);
        var traces = await CosmosTraceStore.ListDayAsync(db, workspaceId, day, cancellationToken);

        var rows = await rollups.RepairDayAsync(workspaceId, day, traces, cancellationToken);

        var periods = BudgetPeriods.At(start);
        var costs = traces.Where(t => t.ProjectId is not null)
            .GroupBy(t => t.ProjectId!)
            .ToDictionary(g => g.Key, g => g.Sum(t => CosmosBudgetLedger.SettledNanos(t.CostUsd ?? 0m)), StringComparer.Ordinal);
        var budgets = 0;
        foreach (var project in await projects.ListAsync(workspaceId, cancellationToken))
        {
            if (await ledger.RepairDayAsync(workspaceId, project.Id, periods, costs.GetValueOrDefault(project.Id), cancellationToken))
            {
                budgets++;
            }
        }

        // The workspace's counter holds every project's spend: its day becomes the whole day's traced cost.
        if (await ledger.RepairDayAsync(workspaceId, WorkspaceBudget.LedgerId, periods, costs.Values.Sum(), cancellationToken))
        {
            budgets++;
        }

        return new DayReconciliation(workspaceId, day, traces.Count, rows, budgets);
    }
}
