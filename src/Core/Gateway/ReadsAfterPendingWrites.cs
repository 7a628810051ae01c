using KillToken.Core.Analytics;
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
    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension,
        CancellationToken cancellationToken = default)
    {
        await pending.WhenWrittenAsync(cancellationToken);
        return await rollups.QueryAsync(workspaceId, fromDay, toDay, dimension, cancellationToken);
    }
}
