using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;

namespace KillToken.Core.Analytics;

public sealed record AnalyticsFilters(string? Provider, string? ProjectId, string? Model, string? Feature)
{
    public static AnalyticsFilters Of(AnalyticsQuery q) => new(q.Provider, q.ProjectId, q.Model, q.Feature);
}

public sealed record PeriodFigures(string Period, long Requests, decimal SpendUsd);

public sealed record RangeTotals(long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, long Errors, long BlockedRequests,
    decimal SavedUsd, long CacheHits);

public sealed record ProviderLeader(string Provider, decimal SpendUsd, long Requests);

public sealed record ModelLeader(string Provider, string Model, decimal SpendUsd, long Requests);

/// <summary>A project at or past 80% of one of its limits in the current day or month.</summary>
public sealed record BudgetRisk(string ProjectId, string Name, string Scope, decimal LimitUsd, decimal SpentUsd, decimal UsedPercent);

public sealed record OverviewReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, DayFigures Today, MonthFigures Month,
    RangeTotals Range, ProviderLeader? TopProvider, ModelLeader? TopModel, IReadOnlyList<BudgetRisk> BudgetRisk, long BlockedRequests);

public sealed record DayFigures(string Date, long Requests, decimal SpendUsd);

public sealed record MonthFigures(string Month, long Requests, decimal SpendUsd);

public sealed record TrendDay(string Date, long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, long BlockedRequests, long Errors);

public sealed record TrendsReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, IReadOnlyList<TrendDay> Days);

public sealed record ProviderRow(string Provider, long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, double AvgLatencyMs,
    long Errors, double ErrorRate, long BlockedRequests);

public sealed record ProvidersReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, IReadOnlyList<ProviderRow> Providers);

public sealed record ModelRow(string Provider, string Model, long Requests, decimal SpendUsd, decimal AvgCostPerRequestUsd, double AvgLatencyMs,
    long InputTokens, long OutputTokens, long TotalTokens);

public sealed record ModelsReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, IReadOnlyList<ModelRow> Models);

public sealed record ProjectRow(string ProjectId, string Name, bool Active, long Requests, decimal SpendUsd, long BlockedRequests,
    decimal? DailyBudgetUsd, decimal? MonthlyBudgetUsd, decimal SpentTodayUsd, decimal SpentThisMonthUsd,
    decimal? DailyUtilizationPercent, decimal? MonthlyUtilizationPercent, DateTimeOffset? LastUsedAt);

public sealed record ProjectsReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, IReadOnlyList<ProjectRow> Projects);

public sealed record FeatureRow(string Feature, long Requests, decimal CostUsd, long WasteTokens, long SavedTokens, decimal SavedUsd, long CacheHits, double CacheHitRate);

public sealed record FeaturesReport(string WorkspaceId, string From, string To, AnalyticsFilters Filters, IReadOnlyList<FeatureRow> Features);

/// <summary>Seed 000's <c>/v1/exports/analytics.json</c>: every report of the range in one document, stamped.</summary>
public sealed record AnalyticsExport(DateTimeOffset GeneratedAt, string WorkspaceId, string From, string To, AnalyticsFilters Filters, RangeTotals Totals,
    IReadOnlyList<TrendDay> Days, IReadOnlyList<ProviderRow> Providers, IReadOnlyList<ModelRow> Models, IReadOnlyList<ProjectRow> Projects,
    IReadOnlyList<FeatureRow> Features);

/// <summary>
/// Seed 002's workspace analytics and seed 000's savings by feature, all summed from the daily rollup cells
/// (<see cref="RollupCell"/>) of one workspace — one single-partition query per report, never a read of traces — plus,
/// for budget figures, the projects and their current budget counters (point reads).
/// </summary>
public sealed class AnalyticsService(IUsageRollups rollups, IProjectStore projects, IBudgetLedger ledger, TimeProvider time)
{
    /// <summary>How many models the models report lists.</summary>
    public const int TopModels = 20;

    /// <summary>Seed 002's budget risk: at or past 80% of a limit.</summary>
    public const decimal RiskThreshold = 0.8m;

    public async Task<OverviewReport> OverviewAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var periods = BudgetPeriods.At(time.GetUtcNow());
        var monthStart = periods.Month + "-01";
        var inRange = await CellsAsync(workspaceId, query, cancellationToken);
        // Today and the month so far come from the same read when the range covers them, else from a second one.
        var thisMonth = InDays(monthStart, query.From, query.To) && InDays(periods.Day, query.From, query.To)
            ? inRange
            : await CellsAsync(workspaceId, query.Over(monthStart, periods.Day), cancellationToken);
        var range = Totals(inRange);
        var today = Sum(thisMonth.Where(c => c.Day == periods.Day));
        var month = Sum(thisMonth.Where(c => InDays(c.Day, monthStart, periods.Day)));
        var provider = ByProvider(inRange).FirstOrDefault();
        var model = ByModel(inRange).FirstOrDefault();
        var risk = await BudgetRiskAsync(workspaceId, query, periods, cancellationToken);
        return new OverviewReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query),
            new DayFigures(periods.Day, today.Requests, Money(today.CostUsd)),
            new MonthFigures(periods.Month, month.Requests, Money(month.CostUsd)),
            range,
            provider is null ? null : new ProviderLeader(provider.Provider, provider.SpendUsd, provider.Requests),
            model is null ? null : new ModelLeader(model.Provider, model.Model, model.SpendUsd, model.Requests),
            risk,
            range.BlockedRequests);
    }

    public async Task<TrendsReport> TrendsAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new TrendsReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query), Trend(query, await CellsAsync(workspaceId, query, cancellationToken)));
    }

    public async Task<ProvidersReport> ProvidersAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new ProvidersReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query), ByProvider(await CellsAsync(workspaceId, query, cancellationToken)));
    }

    public async Task<ModelsReport> ModelsAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new ModelsReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query), ByModel(await CellsAsync(workspaceId, query, cancellationToken)));
    }

    public async Task<ProjectsReport> ProjectsAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var cells = await CellsAsync(workspaceId, query, cancellationToken);
        return new ProjectsReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query), await ByProjectAsync(workspaceId, query, cells, cancellationToken));
    }

    public async Task<FeaturesReport> FeaturesAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new FeaturesReport(workspaceId, query.From, query.To, AnalyticsFilters.Of(query), ByFeature(await CellsAsync(workspaceId, query, cancellationToken)));
    }

    public async Task<AnalyticsExport> ExportAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var cells = await CellsAsync(workspaceId, query, cancellationToken);
        return new AnalyticsExport(time.GetUtcNow(), workspaceId, query.From, query.To, AnalyticsFilters.Of(query), Totals(cells), Trend(query, cells),
            ByProvider(cells), ByModel(cells), await ByProjectAsync(workspaceId, query, cells, cancellationToken), ByFeature(cells));
    }

    /// <summary>The day's cells of the range that match the filters: the one read every report is made from.</summary>
    private async Task<List<CellRow>> CellsAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken) =>
        [.. (await rollups.QueryCellsAsync(workspaceId, query.From, query.To, cancellationToken)).Where(c => query.Matches(c.Cell))];

    private static RangeTotals Totals(IEnumerable<CellRow> cells)
    {
        var sum = Sum(cells);
        return new RangeTotals(sum.Requests, Money(sum.CostUsd), sum.InputTokens, sum.OutputTokens, sum.InputTokens + sum.OutputTokens, sum.Errors,
            sum.Blocked, Money(ReportService.Realized(sum)), sum.CacheHits);
    }

    private static List<TrendDay> Trend(AnalyticsQuery query, IEnumerable<CellRow> cells)
    {
        var byDay = cells.GroupBy(c => c.Day, StringComparer.Ordinal).ToDictionary(g => g.Key, g => Sum(g), StringComparer.Ordinal);
        return [.. query.Days().Select(day => byDay.TryGetValue(day, out var d)
            ? new TrendDay(day, d.Requests, Money(d.CostUsd), d.InputTokens, d.OutputTokens, d.InputTokens + d.OutputTokens, d.Blocked, d.Errors)
            : new TrendDay(day, 0, 0m, 0, 0, 0, 0, 0))];
    }

    private static List<ProviderRow> ByProvider(IEnumerable<CellRow> cells) => [.. cells
        .Where(c => c.Cell.Provider is not null)
        .GroupBy(c => c.Cell.Provider!, StringComparer.Ordinal)
        .Select(g => (Provider: g.Key, Sum: Sum(g)))
        .OrderByDescending(p => p.Sum.CostUsd).ThenByDescending(p => p.Sum.Requests).ThenBy(p => p.Provider, StringComparer.Ordinal)
        .Select(p => new ProviderRow(p.Provider, p.Sum.Requests, Money(p.Sum.CostUsd), p.Sum.InputTokens, p.Sum.OutputTokens,
            p.Sum.InputTokens + p.Sum.OutputTokens, AverageLatency(p.Sum), p.Sum.Errors, Rate(p.Sum.Errors, p.Sum.Requests), p.Sum.Blocked))];

    private static List<ModelRow> ByModel(IEnumerable<CellRow> cells) => [.. cells
        .Where(c => c.Cell.Provider is not null && c.Cell.Model is not null)
        .GroupBy(c => (c.Cell.Provider!, c.Cell.Model!))
        .Select(g => (Provider: g.Key.Item1, Model: g.Key.Item2, Sum: Sum(g)))
        .OrderByDescending(m => m.Sum.CostUsd).ThenByDescending(m => m.Sum.Requests)
        .ThenBy(m => m.Model, StringComparer.Ordinal).ThenBy(m => m.Provider, StringComparer.Ordinal)
        .Take(TopModels)
        .Select(m => new ModelRow(m.Provider, m.Model, m.Sum.Requests, Money(m.Sum.CostUsd),
            m.Sum.Requests == 0 ? 0m : Money(m.Sum.CostUsd / m.Sum.Requests), AverageLatency(m.Sum),
            m.Sum.InputTokens, m.Sum.OutputTokens, m.Sum.InputTokens + m.Sum.OutputTokens))];

    private static List<FeatureRow> ByFeature(IEnumerable<CellRow> cells) => [.. cells
        .GroupBy(c => c.Cell.Feature, StringComparer.Ordinal)
        .Select(g => (Feature: g.Key, Sum: Sum(g)))
        .OrderByDescending(f => f.Sum.CostUsd).ThenByDescending(f => f.Sum.Requests).ThenBy(f => f.Feature, StringComparer.Ordinal)
        .Select(f => new FeatureRow(f.Feature, f.Sum.Requests, Money(f.Sum.CostUsd), f.Sum.WasteTokens, f.Sum.SavedTokens,
            Money(ReportService.Realized(f.Sum)), f.Sum.CacheHits, Rate(f.Sum.CacheHits, f.Sum.Requests)))];

    private async Task<List<ProjectRow>> ByProjectAsync(string workspaceId, AnalyticsQuery query, IEnumerable<CellRow> cells, CancellationToken cancellationToken)
    {
        var periods = BudgetPeriods.At(time.GetUtcNow());
        var traffic = cells.Where(c => c.Cell.ProjectId is not null)
            .GroupBy(c => c.Cell.ProjectId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => Sum(g), StringComparer.Ordinal);
        var rows = new List<ProjectRow>();
        foreach (var project in await ProjectsOfAsync(workspaceId, query, cancellationToken))
        {
            var usage = await ledger.GetAsync(workspaceId, project.Id, periods, cancellationToken);
            var sum = traffic.GetValueOrDefault(project.Id) ?? new UsageDelta();
            rows.Add(new ProjectRow(project.Id, project.Name, project.Active, sum.Requests, Money(sum.CostUsd), sum.Blocked,
                project.DailyBudgetUsd, project.MonthlyBudgetUsd, Money(usage.DaySpent), Money(usage.MonthSpent),
                Percent(usage.DaySpent, project.DailyBudgetUsd), Percent(usage.MonthSpent, project.MonthlyBudgetUsd), sum.LastAt));
        }

        return [.. rows.OrderByDescending(r => r.SpendUsd).ThenByDescending(r => r.Requests).ThenBy(r => r.Name, StringComparer.Ordinal)];
    }

    private async Task<List<BudgetRisk>> BudgetRiskAsync(string workspaceId, AnalyticsQuery query, BudgetPeriods periods, CancellationToken cancellationToken)
    {
        var risks = new List<BudgetRisk>();
        foreach (var project in await ProjectsOfAsync(workspaceId, query, cancellationToken))
        {
            if (project.DailyBudgetUsd is null && project.MonthlyBudgetUsd is null)
            {
                continue;
            }

            var usage = await ledger.GetAsync(workspaceId, project.Id, periods, cancellationToken);
            foreach (var (scope, limit, spent) in new[] { (BudgetScopes.Daily, project.DailyBudgetUsd, usage.DaySpent), (BudgetScopes.Monthly, project.MonthlyBudgetUsd, usage.MonthSpent) })
            {
                if (limit is { } l && l > 0 && spent >= l * RiskThreshold)
                {
                    risks.Add(new BudgetRisk(project.Id, project.Name, scope, l, Money(spent), Percent(spent, l)!.Value));
                }
            }
        }

        return [.. risks.OrderByDescending(r => r.UsedPercent).ThenBy(r => r.Name, StringComparer.Ordinal)];
    }

    /// <summary>The workspace's projects, or the one the query names.</summary>
    private async Task<IEnumerable<ProjectRecord>> ProjectsOfAsync(string workspaceId, AnalyticsQuery query, CancellationToken cancellationToken) =>
        (await projects.ListAsync(workspaceId, cancellationToken)).Where(p => query.ProjectId is null || p.Id == query.ProjectId);

    private static UsageDelta Sum(IEnumerable<CellRow> cells) => UsageDeltaMath.Sum(cells.Select(c => c.Totals));

    private static bool InDays(string day, string from, string to) => string.CompareOrdinal(day, from) >= 0 && string.CompareOrdinal(day, to) <= 0;

    private static double AverageLatency(UsageDelta d) => d.Requests == 0 ? 0 : Math.Round(d.LatencyMs / d.Requests, 3);

    private static double Rate(long part, long whole) => whole == 0 ? 0 : Math.Round(part / (double)whole, 4);

    private static decimal? Percent(decimal spent, decimal? limit) => limit is { } l && l > 0 ? Math.Round(spent / l * 100m, 2) : null;

    private static decimal Money(decimal value) => Math.Round(value, 10);
}
