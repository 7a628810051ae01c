using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;

namespace KillToken.Core.Budgets;

/// <summary>The budget step's view before any reservation: blocked, near a limit (the fallback model from the start), or normal.</summary>
public sealed record BudgetPlan
{
    /// <summary>Settled spend has reached a limit (the project's or the workspace's): nothing can be admitted.</summary>
    public GatewayError? Rejection { get; init; }
    /// <summary>The fallback model to start with: set at ≥ 80% of a limit when the project has one.</summary>
    public string? FallbackModel { get; init; }
    public ProviderId? FallbackProvider { get; init; }
    public required BudgetPeriods Periods { get; init; }
    public BudgetUsage Usage { get; init; } = BudgetUsage.Zero;
    /// <summary>The workspace's monthly limit across its projects, when it has one.</summary>
    public decimal? WorkspaceMonthlyBudgetUsd { get; init; }
    /// <summary>The workspace's spend and reservations (read only when it has a limit).</summary>
    public BudgetUsage WorkspaceUsage { get; init; } = BudgetUsage.Zero;
    /// <summary>Whether any limit applies to the project's calls (its own or its workspace's).</summary>
    public bool HasLimits { get; init; }
}

/// <summary>Money held for one call until it settles; held in the workspace's counter too when the workspace has a limit.</summary>
public sealed record BudgetReservation(BudgetPeriods Periods, decimal AmountUsd, bool IncludesWorkspace = false);

/// <summary>One model a call may be sent to, as admission prices it: the requested (or near-limit fallback) model first.</summary>
/// <param name="CallerOutputCap">The output cap the caller set (never raised, never lowered); null when it set none.</param>
public sealed record BudgetCandidate(ProviderId Provider, string Model, long InputTokens, long? CallerOutputCap, IReadOnlyList<ModelPrice>? PriceOverrides);

/// <summary>
/// Admission's answer: which candidate was admitted, the money held for it and the output cap to send — when the caller
/// set none and a limit applies, the cap the reservation holds (so it is the most the call can cost), lowered to fit
/// when <paramref name="OutputLowered"/> — or the refusal.
/// </summary>
public sealed record BudgetAdmission(int Candidate, BudgetReservation? Reservation, long? OutputCap, bool OutputLowered, GatewayError? Rejection);

public interface IBudgetGate
{
    /// <summary>Reads the spend: ≥ 100% of a limit blocks, ≥ 80% with a fallback model set starts on it.</summary>
    /// <remarks>Without limits (project or workspace) there is nothing to plan, so no counter is read (<c>Usage</c> is zero).</remarks>
    Task<BudgetPlan> PlanAsync(ProjectRecord project, CancellationToken cancellationToken = default);

    /// <summary>The same view for showing a project: its counters are always read, limits or not.</summary>
    Task<BudgetPlan> DescribeAsync(ProjectRecord project, CancellationToken cancellationToken = default);

    /// <summary>
    /// Admits the call on the first candidate whose cost fits every limit: its worst case (input estimate + output cap at
    /// the model's prices), else — when the caller set no cap — a lowered output cap that the remaining budget pays for,
    /// if that leaves at least <see cref="BudgetGate.MinimumOutputCap"/> tokens. Refuses with 429 when no candidate fits
    /// even with every in-flight call settled; waits for in-flight calls when only their reservations are in the way.
    /// </summary>
    Task<BudgetAdmission> AdmitAsync(ProjectRecord project, BudgetPlan plan, IReadOnlyList<BudgetCandidate> candidates, CancellationToken cancellationToken = default);

    /// <summary>Replaces the reservation by the real cost (zero when the call failed) and sends threshold alerts.</summary>
    Task SettleAsync(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd, CancellationToken cancellationToken = default);

    /// <summary>
    /// After a settlement was written with the call's trace (<see cref="Ports.ITraceStore.AppendAsync"/>): wakes the calls
    /// waiting for room and sends threshold alerts, as <see cref="SettleAsync"/> does after its own write.
    /// </summary>
    void Settled(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd);
}

/// <summary>No limits and no counters: used only where a store offers no budget ledger.</summary>
public sealed class UnlimitedBudgetGate(TimeProvider time) : IBudgetGate
{
    public Task<BudgetPlan> PlanAsync(ProjectRecord project, CancellationToken cancellationToken = default) =>
        Task.FromResult(new BudgetPlan { Periods = BudgetPeriods.At(time.GetUtcNow()) });

    public Task<BudgetPlan> DescribeAsync(ProjectRecord project, CancellationToken cancellationToken = default) => PlanAsync(project, cancellationToken);

    public Task<BudgetAdmission> AdmitAsync(ProjectRecord project, BudgetPlan plan, IReadOnlyList<BudgetCandidate> candidates, CancellationToken cancellationToken = default) =>
        Task.FromResult(new BudgetAdmission(0, null, null, false, null));

    public Task SettleAsync(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public void Settled(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd)
    {
    }
}
