namespace KillToken.Core.Analytics;

/// <summary>
/// Seed 002's monthly digest of one workspace and one UTC month (<c>yyyy-MM</c>, days <see cref="From"/> to
/// <see cref="To"/> inclusive), read from the daily rollups. A month without traffic is still a digest: zero totals,
/// no leaders, no warnings, and a recommended action that says so.
/// </summary>
public sealed record MonthlyDigest(
    string WorkspaceId,
    string WorkspaceName,
    string Month,
    string From,
    string To,
    decimal TotalSpendUsd,
    long TotalRequests,
    long BlockedRequests,
    decimal RealizedSavingsUsd,
    DigestLeader? TopProvider,
    DigestLeader? TopModel,
    DigestLeader? TopProject,
    IReadOnlyList<DigestBudgetWarning> BudgetWarnings,
    string RecommendedAction,
    DateTimeOffset GeneratedAt);

/// <summary>The costliest provider, model (<c>provider/model</c>) or project of the month, with its spend and requests.</summary>
public sealed record DigestLeader(string Id, string Name, decimal CostUsd, long Requests);

/// <summary>
/// A project that came close to or hit its budget in the month: ≥ 80% of its monthly limit spent, a day whose spend
/// reached the daily limit, or requests refused with <c>budget_exceeded</c>. Limits are the project's current ones.
/// </summary>
public sealed record DigestBudgetWarning(
    string ProjectId,
    string ProjectName,
    decimal SpentUsd,
    decimal? MonthlyBudgetUsd,
    decimal? MonthlyBudgetUsedPercent,
    decimal? DailyBudgetUsd,
    int DaysAtDailyLimit,
    long BlockedRequests,
    string Message);

/// <summary>
/// Delivers a digest to one address (SMTP). Answers <c>sent</c>, <c>skipped</c> (no SMTP configured, or no address)
/// or <c>failed</c> — the values of <see cref="Budgets.AlertDelivery"/> — and whether a failure is safe to send again.
/// Never throws.
/// </summary>
public interface IMonthlyDigestSender
{
    Task<Budgets.MailOutcome> SendAsync(MonthlyDigest digest, string recipientEmail, CancellationToken cancellationToken = default);
}
