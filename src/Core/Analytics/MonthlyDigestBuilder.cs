using System.Globalization;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;

namespace KillToken.Core.Analytics;

/// <summary>
/// Computes a workspace's <see cref="MonthlyDigest"/> from its daily rollup cells of the month (one single-partition
/// query) and its project list — never from traces. Budget warnings come from the cells summed per project and day: the month's spend is the sum of the project's days (the settled costs the budget ledger counts),
/// and a day whose spend reached the daily limit counts as a day at the limit.
/// </summary>
public sealed class MonthlyDigestBuilder(IUsageRollups rollups, IProjectStore projects, TimeProvider time)
{
    /// <summary>The month so far (the test endpoint's digest).</summary>
    public Task<MonthlyDigest> BuildCurrentMonthAsync(WorkspaceRecord workspace, CancellationToken cancellationToken = default) =>
        BuildAsync(workspace, time.GetUtcNow(), cancellationToken);

    /// <param name="workspace">The workspace described.</param>
    /// <param name="month">Any instant in the UTC month to describe.</param>
    /// <param name="cancellationToken">Stops the reads.</param>
    public async Task<MonthlyDigest> BuildAsync(WorkspaceRecord workspace, DateTimeOffset month, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var periods = BudgetPeriods.At(month);
        var monthStart = periods.MonthResetsAt.AddMonths(-1);
        var (from, to) = (BudgetPeriods.At(monthStart).Day, BudgetPeriods.At(periods.MonthResetsAt.AddDays(-1)).Day);

        var cellRows = rollups.QueryCellsAsync(workspace.Id, from, to, cancellationToken);
        var projectList = projects.ListAsync(workspace.Id, cancellationToken);
        await Task.WhenAll(cellRows, projectList);

        var cells = await cellRows;
        var total = UsageDeltaMath.Sum(cells.Select(c => c.Totals));
        var byId = (await projectList).ToDictionary(p => p.Id, StringComparer.Ordinal);
        // One row per key and day, as the leaders and the days-at-limit count read them.
        List<RollupRow> By(Func<RollupCell, string?> key) => [.. cells
            .Where(c => key(c.Cell) is not null)
            .GroupBy(c => (c.Day, Key: key(c.Cell)!))
            .Select(g => new RollupRow(g.Key.Day, string.Empty, g.Key.Key, UsageDeltaMath.Sum(g.Select(c => c.Totals))))];
        var providerRows = By(c => c.Provider);
        var modelRows = By(c => c.Model is null ? null : c.Provider + "/" + c.Model);
        var projectRows = By(c => c.ProjectId);
        var projectTotals = projectRows.GroupBy(r => r.Key, StringComparer.Ordinal).ToList();
        var warnings = projectTotals
            .Where(g => byId.ContainsKey(g.Key))
            .Select(g => Warning(byId[g.Key], [.. g]))
            .OfType<DigestBudgetWarning>()
            .OrderByDescending(w => w.BlockedRequests).ThenByDescending(w => w.MonthlyBudgetUsedPercent ?? 0).ThenBy(w => w.ProjectName, StringComparer.Ordinal)
            .ToList();

        return new MonthlyDigest(
            workspace.Id,
            workspace.Name,
            periods.Month,
            from,
            to,
            Money(total.CostUsd),
            total.Requests,
            total.Blocked,
            Money(ReportService.Realized(total)),
            Leader(providerRows, key => key),
            Leader(modelRows, key => key),
            Leader(projectRows, key => byId.TryGetValue(key, out var p) ? p.Name : key),
            warnings,
            RecommendedAction(total, warnings, byId),
            time.GetUtcNow());
    }

    /// <summary>The row key with the highest cost (then the most requests, then by name), or null when nothing ran.</summary>
    private static DigestLeader? Leader(IReadOnlyList<RollupRow> rows, Func<string, string> name) => rows
        .GroupBy(r => r.Key, StringComparer.Ordinal)
        .Select(g => (Key: g.Key, Sum: UsageDeltaMath.Sum(g.Select(r => r.Totals))))
        .Where(x => x.Sum.Requests > 0)
        .OrderByDescending(x => x.Sum.CostUsd).ThenByDescending(x => x.Sum.Requests).ThenBy(x => x.Key, StringComparer.Ordinal)
        .Select(x => new DigestLeader(x.Key, name(x.Key), Money(x.Sum.CostUsd), x.Sum.Requests))
        .FirstOrDefault();

    private static DigestBudgetWarning? Warning(ProjectRecord project, IReadOnlyList<RollupRow> days)
    {
        var spent = days.Sum(d => d.Totals.CostUsd);
        var blocked = days.Sum(d => d.Totals.Blocked);
        decimal? usedPercent = project.MonthlyBudgetUsd is { } monthly && monthly > 0 ? Math.Round(spent / monthly * 100m, 1) : null;
        var daysAtLimit = project.DailyBudgetUsd is { } daily && daily > 0 ? days.Count(d => d.Totals.CostUsd >= daily) : 0;
        var nearMonthly = project.MonthlyBudgetUsd is { } limit && limit > 0 && spent >= limit * BudgetGate.FallbackThreshold;
        if (!nearMonthly && daysAtLimit == 0 && blocked == 0)
        {
            return null;
        }

        var parts = new List<string>();
        if (nearMonthly)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"used {usedPercent:0.#}% of its ${project.MonthlyBudgetUsd:0.00####} monthly budget"));
        }

        if (daysAtLimit > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"reached its ${project.DailyBudgetUsd:0.00####} daily budget on {daysAtLimit} day{(daysAtLimit == 1 ? "" : "s")}"));
        }

        if (blocked > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{blocked} request{(blocked == 1 ? " was" : "s were")} refused with budget_exceeded"));
        }

        return new DigestBudgetWarning(project.Id, project.Name, Money(spent), project.MonthlyBudgetUsd, usedPercent, project.DailyBudgetUsd,
            daysAtLimit, blocked, string.Join("; ", parts));
    }

    /// <summary>Budget trouble first (it stops traffic), then the ROI report's savings advice.</summary>
    private static string RecommendedAction(UsageDelta total, IReadOnlyList<DigestBudgetWarning> warnings, Dictionary<string, ProjectRecord> projectsById)
    {
        if (total.Requests == 0)
        {
            return "No traffic this month: send your backends' chat calls through the gateway to measure their cost and waste.";
        }

        if (warnings.FirstOrDefault(w => w.BlockedRequests > 0) is { } refused)
        {
            // A project that already has a fallback was refused with the fallback tried too: only a higher budget helps.
            var advice = projectsById[refused.ProjectId].FallbackModel is { } fallback
                ? $"its fallback model {fallback} was tried first"
                : "or set a cheaper fallbackModel on it";
            return string.Create(CultureInfo.InvariantCulture,
                $"Raise the budget of project \"{refused.ProjectName}\" ({advice}): {refused.BlockedRequests} request(s) were refused with budget_exceeded.");
        }

        if (warnings.FirstOrDefault(w => projectsById[w.ProjectId].FallbackModel is null) is { } near)
        {
            return $"Set a fallbackModel on project \"{near.ProjectName}\": it is close to its budget, and at 100% its requests are refused.";
        }

        return ReportService.Recommend(total);
    }

    private static decimal Money(decimal value) => Math.Round(value, 6);
}
