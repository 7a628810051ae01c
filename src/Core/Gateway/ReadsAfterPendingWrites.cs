using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;

namespace KillToken.Core.Gateway;

/// <summary>
/// The trace store as readers see it: a read first waits for the trace writes calls started before it
/// (<see cref="PendingTraceWrites"/>), so a caller that got its answer finds its trace. Writes pass straight through.
/// </summary>
public sealed class TracesAfterPendingWrites(ITraceStore store, PendingTraceWrites pending) : ITraceStore
{
    /// <summary>The store underneath.</summary>
    public ITraceStore Store => store;

    public Task AppendAsync(RequestTrace trace, BudgetSettlement? settlement = null, CancellationToken cancellationToken = default) =>
        store.AppendAsync(trace, settlement, cancellationToken);

    public async Task<RequestTrace?> GetAsync(string workspaceId, string requestId, CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        return await store.GetAsync(workspaceId, requestId, cancellationToken);
    }

    public async Task<TracePage> QueryAsync(string workspaceId, TraceQuery query, CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        return await store.QueryAsync(workspaceId, query, cancellationToken);
    }
}

/// <summary>The rollups as reports see them: after the trace writes started before the report (each trace counts in them).</summary>
public sealed class RollupsAfterPendingWrites(IUsageRollups rollups, PendingTraceWrites pending) : IUsageRollups
{
    /// <summary>The rollups underneath.</summary>
    public IUsageRollups Rollups => rollups;

    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension,
        CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        return await rollups.QueryAsync(workspaceId, fromDay, toDay, dimension, cancellationToken);
    }
}

/// <summary>
/// Budget spend as the budget gate, reports and views see it: after the settlements calls left under way, so a project's
/// spend includes the calls already answered. (A settlement not yet written still holds its reservation: reading
/// without waiting would only ever show the budget fuller than it is.)
/// </summary>
public sealed class LedgerAfterPendingWrites(IBudgetLedger ledger, PendingTraceWrites pending) : IBudgetLedger
{
    /// <summary>The ledger underneath.</summary>
    public IBudgetLedger Ledger => ledger;

    public async Task<BudgetUsage> GetAsync(string workspaceId, string projectId, BudgetPeriods periods, CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        return await ledger.GetAsync(workspaceId, projectId, periods, cancellationToken);
    }

    public Task<(bool Reserved, BudgetUsage Usage)> TryReserveAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal amount,
        decimal? dailyLimit, decimal? monthlyLimit, CancellationToken cancellationToken = default) =>
        ledger.TryReserveAsync(workspaceId, projectId, periods, amount, dailyLimit, monthlyLimit, cancellationToken);

    public Task SettleAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal reserved, decimal actual, CancellationToken cancellationToken = default) =>
        ledger.SettleAsync(workspaceId, projectId, periods, reserved, actual, cancellationToken);

    public Task<bool> TryClaimAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default) =>
        ledger.TryClaimAlertAsync(workspaceId, projectId, period, thresholdPercent, cancellationToken);

    public Task ReleaseAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default) =>
        ledger.ReleaseAlertAsync(workspaceId, projectId, period, thresholdPercent, cancellationToken);

    /// <summary>Sums the projects' counters after the settlements under way, which would otherwise also add to the seeded counter.</summary>
    public async Task SeedWorkspaceAsync(string workspaceId, BudgetPeriods periods, CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        await ledger.SeedWorkspaceAsync(workspaceId, periods, cancellationToken);
    }

    public Task<bool> TryMarkClosedAsync(string period, CancellationToken cancellationToken = default) =>
        ledger.TryMarkClosedAsync(period, cancellationToken);

    public Task<bool> IsMarkedAsync(string period, CancellationToken cancellationToken = default) =>
        ledger.IsMarkedAsync(period, cancellationToken);

    public Task ReleaseMarkAsync(string period, CancellationToken cancellationToken = default) =>
        ledger.ReleaseMarkAsync(period, cancellationToken);
}
