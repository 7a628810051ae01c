using KillToken.Core.Domain;
using KillToken.Core.Gateway;

namespace KillToken.Core.Budgets;

public sealed record BudgetRequest(ProjectRecord Project, ChatRequest Request, string RequestId);

/// <summary>The budget step's answer: go on (perhaps on the fallback model) holding a reservation, or stop.</summary>
public sealed record BudgetDecision
{
    public GatewayError? Rejection { get; init; }
    public string? FallbackModel { get; init; }
    /// <summary>Opaque handle the settle step passes back; null when nothing was reserved.</summary>
    public string? ReservationId { get; init; }
    public decimal ReservedUsd { get; init; }

    public static BudgetDecision Unlimited { get; } = new();
}

public interface IBudgetGate
{
    Task<BudgetDecision> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken = default);

    /// <summary>Replaces the reservation by the real cost (zero when the call failed).</summary>
    Task SettleAsync(ProjectRecord project, BudgetDecision decision, decimal actualCostUsd, CancellationToken cancellationToken = default);
}

/// <summary>The spine's pass-through: no limits are enforced.</summary>
public sealed class UnlimitedBudgetGate : IBudgetGate
{
    public Task<BudgetDecision> ReserveAsync(BudgetRequest request, CancellationToken cancellationToken = default) => Task.FromResult(BudgetDecision.Unlimited);

    public Task SettleAsync(ProjectRecord project, BudgetDecision decision, decimal actualCostUsd, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
