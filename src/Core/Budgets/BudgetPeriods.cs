using System.Globalization;

namespace KillToken.Core.Budgets;

/// <summary>The UTC day and month a moment falls in: counters are keyed by them, so a missed close never blocks anyone.</summary>
public sealed record BudgetPeriods(string Day, string Month, DateTimeOffset DayResetsAt, DateTimeOffset MonthResetsAt)
{
    public static BudgetPeriods At(DateTimeOffset now)
    {
        var utc = now.ToUniversalTime();
        var dayStart = new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero);
        var monthStart = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return new BudgetPeriods(
            dayStart.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            monthStart.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            dayStart.AddDays(1),
            monthStart.AddMonths(1));
    }
}

/// <summary>A project's (or the workspace's) spend and outstanding reservations in the current day and month.</summary>
public sealed record BudgetUsage(decimal DaySpent, decimal DayReserved, decimal MonthSpent, decimal MonthReserved)
{
    public static BudgetUsage Zero { get; } = new(0, 0, 0, 0);
}

/// <summary>The limits a call must fit, as the 429's <c>scope</c> names them.</summary>
public static class BudgetScopes
{
    public const string Daily = "daily";
    public const string Monthly = "monthly";
    /// <summary>The workspace's monthly limit across all its projects.</summary>
    public const string Workspace = "workspace";
}

/// <summary>
/// The workspace's spend is kept in the ledger exactly like a project's, under this reserved id (project ids are generated
/// <c>prj_…</c> and can never take it): every call's cost is settled into it as well as into its project's, and a
/// workspace monthly limit holds its reservations there — the same conditional reservations, settlements, alert claims
/// and repairs, in the same partition.
/// </summary>
public static class WorkspaceBudget
{
    public const string LedgerId = "_workspace";
}

/// <summary>Spend counters per project and per workspace, per UTC day and month, updated atomically (patch increments on Cosmos DB).</summary>
public interface IBudgetLedger
{
    Task<BudgetUsage> GetAsync(string workspaceId, string projectId, BudgetPeriods periods, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="amount"/> to the reserved counters of both periods if, for each limit given,
    /// spent + reserved + amount stays within it; otherwise changes nothing. Returns the usage seen and whether it reserved.
    /// </summary>
    Task<(bool Reserved, BudgetUsage Usage)> TryReserveAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal amount,
        decimal? dailyLimit, decimal? monthlyLimit, CancellationToken cancellationToken = default);

    /// <summary>Releases a reservation and adds the real cost, in the periods the reservation was made in.</summary>
    Task SettleAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal reserved, decimal actual, CancellationToken cancellationToken = default);

    /// <summary>True the first time a threshold alert is claimed for a scope and period (so exactly one email goes out).</summary>
    Task<bool> TryClaimAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default);

    /// <summary>Gives back a claimed alert that no one received, so a later call that finds the threshold crossed sends it.</summary>
    Task ReleaseAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates the workspace's counter for <paramref name="periods"/>' month from the sum of its projects' counters (each
    /// day, and the month) when it does not exist yet — spend settled before workspace counters were kept. An existing
    /// counter is left as it is: every settlement keeps it current. Run when a workspace limit is set.
    /// </summary>
    Task SeedWorkspaceAsync(string workspaceId, BudgetPeriods periods, CancellationToken cancellationToken = default);

    /// <summary>True the first time a period (<c>day:2026-11-22</c>, <c>month:2026-10</c>) is marked closed.</summary>
    Task<bool> TryMarkClosedAsync(string period, CancellationToken cancellationToken = default);

    /// <summary>True when <paramref name="period"/> was marked by <see cref="TryMarkClosedAsync"/> (a point read).</summary>
    Task<bool> IsMarkedAsync(string period, CancellationToken cancellationToken = default);

    /// <summary>Removes a mark taken by <see cref="TryMarkClosedAsync"/> (a digest mail the server never took), so a later run takes it again.</summary>
    Task ReleaseMarkAsync(string period, CancellationToken cancellationToken = default);
}
