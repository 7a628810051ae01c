namespace KillToken.Core.Analytics;

/// <summary>What reconciling one workspace's day changed.</summary>
public sealed record DayReconciliation(string WorkspaceId, string Day, int Traces, int RollupRowsRepaired, int BudgetsRepaired);

/// <summary>
/// Brings a workspace's rollups and project budget spend for one ended UTC day to what its traces say. Needed where a
/// store writes a call's trace, settlement and rollups as separate documents (Cosmos DB): an instance stopped between
/// them leaves the trace without the rest. The embedded store writes them together and registers none. The daily close
/// runs it for every workspace (<see cref="Budgets.PeriodCloseJob"/>); it is idempotent, so running it twice is harmless.
/// </summary>
public interface IDayReconciler
{
    Task<DayReconciliation> ReconcileAsync(string workspaceId, string day, CancellationToken cancellationToken = default);
}
