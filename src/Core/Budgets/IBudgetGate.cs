using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;

namespace KillToken.Core.Budgets;

/// <summary>The budget step's view before any reservation: blocked, on the fallback model, or normal.</summary>
public sealed record BudgetPlan
{
    public GatewayError? Rejection { get; init; }
    public string? FallbackModel { get; init; }
    public ProviderId? FallbackProvider { get; init; }
    public required BudgetPeriods Periods { get; init; }
    public BudgetUsage Usage { get; init; } = BudgetUsage.Zero;
}

/// <summary>Money held for one call until it settles.</summary>
public sealed record BudgetReservation(BudgetPeriods Periods, decimal AmountUsd);

public interface IBudgetGate
{
    /// <summary>Reads the project's spend: ≥ 100% of a limit blocks, ≥ 80% with a fallback model set switches to it.</summary>
    /// <remarks>A project without limits has nothing to plan, so its counters are not read (its <c>Usage</c> is zero).</remarks>
    Task<BudgetPlan> PlanAsync(ProjectRecord project, CancellationToken cancellationToken = default);

    /// <summary>The same view for showing a project: its counters are always read, limits or not.</summary>
    Task<BudgetPlan> DescribeAsync(ProjectRecord project, CancellationToken cancellationToken = default);

    /// <summary>Reserves the call's maximum cost (input estimate + output cap at the model's prices) or refuses with 429.</summary>
    /// <param name="inputTokens">The prompt's token estimate (the optimizer's, of the messages that will be sent).</param>
    Task<(BudgetReservation? Reservation, GatewayError? Rejection)> ReserveAsync(ProjectRecord project, BudgetPlan plan, ProviderId provider, string model,
        long inputTokens, JsonObject? providerOptions, CancellationToken cancellationToken = default);

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

    public Task<(BudgetReservation? Reservation, GatewayError? Rejection)> ReserveAsync(ProjectRecord project, BudgetPlan plan, ProviderId provider, string model,
        long inputTokens, JsonObject? providerOptions, CancellationToken cancellationToken = default) =>
        Task.FromResult<(BudgetReservation?, GatewayError?)>((null, null));

    public Task SettleAsync(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public void Settled(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd)
    {
    }
}
