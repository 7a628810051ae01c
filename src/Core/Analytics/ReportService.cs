using KillToken.Core.Budgets;

namespace KillToken.Core.Analytics;

public sealed record SummaryTotals(
    long Requests, long Errors, long Blocked, long InputTokens, long OutputTokens, long TotalTokens, long CachedInputTokens,
    decimal CostUsd, decimal SavedUsd, long WasteTokens, long SavedTokens, long CacheHits, double CacheHitRate, long Replays, long Fallbacks,
    double AvgLatencyMs);

public sealed record TemplateSummary(string TemplateId, long Requests, long InputTokens, long WasteTokens, decimal CostUsd, decimal EstimatedWasteUsd);

public sealed record FeatureSummary(string Feature, long Requests, decimal CostUsd, decimal SavedUsd, long CacheHits, double CacheHitRate, long WasteTokens, decimal EstimatedSavingsUsd);

public sealed record SummaryReport(string From, string To, SummaryTotals Totals, IReadOnlyList<TemplateSummary> TopTemplates, IReadOnlyList<FeatureSummary> ByFeature);

public sealed record RoiSavings(decimal EstimatedUsd, decimal VerifiedUsd, decimal PotentialUsd, decimal CacheUsd, decimal ReplayUsd, decimal RealizedUsd);

public sealed record RoiReport(string From, string To, long Requests, decimal CostUsd, RoiSavings Savings, double RealizedSavingsRate, string Recommendation);

/// <summary><c>/v1/summary</c> and <c>/v1/reports/roi</c>, computed from the daily rollups of a workspace — never from traces.</summary>
public sealed class ReportService(IUsageRollups rollups, TimeProvider time)
{
    public const int TopTemplates = 10;

    /// <summary>The UTC day range of a report: the given dates, or the last 30 days.</summary>
    public (string From, string To) Range(DateTimeOffset? from, DateTimeOffset? to)
    {
        var end = to ?? time.GetUtcNow();
        var start = from ?? end.AddDays(-29);
        return (BudgetPeriods.At(start).Day, BudgetPeriods.At(end).Day);
    }

    public async Task<SummaryReport> SummaryAsync(string workspaceId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
    {
        var (start, end) = Range(from, to);
        var cellRows = rollups.QueryCellsAsync(workspaceId, start, end, cancellationToken);
        var templateRows = rollups.QueryAsync(workspaceId, start, end, RollupDimensions.Template, cancellationToken);
        var cells = await cellRows;
        var total = UsageDeltaMath.Sum(cells.Select(r => r.Totals));

        var templates = (await templateRows)
            .GroupBy(r => r.Key)
            .Select(g => (Key: g.Key, Sum: UsageDeltaMath.Sum(g.Select(r => r.Totals))))
            .OrderByDescending(t => t.Sum.CostUsd).ThenByDescending(t => t.Sum.InputTokens).ThenBy(t => t.Key, StringComparer.Ordinal)
            .Take(TopTemplates)
            .Select(t => new TemplateSummary(t.Key, t.Sum.Requests, t.Sum.InputTokens, t.Sum.WasteTokens, Round(t.Sum.CostUsd), Round(t.Sum.EstimatedSavingsUsd)))
            .ToList();

        var features = cells
            .GroupBy(r => r.Cell.Feature, StringComparer.Ordinal)
            .Select(g => (Key: g.Key, Sum: UsageDeltaMath.Sum(g.Select(r => r.Totals))))
            .OrderByDescending(f => f.Sum.CostUsd).ThenBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => new FeatureSummary(f.Key, f.Sum.Requests, Round(f.Sum.CostUsd), Round(Realized(f.Sum)), f.Sum.CacheHits,
                Rate(f.Sum.CacheHits, f.Sum.Requests), f.Sum.WasteTokens, Round(f.Sum.EstimatedSavingsUsd)))
            .ToList();

        var totals = new SummaryTotals(total.Requests, total.Errors, total.Blocked, total.InputTokens, total.OutputTokens,
            total.InputTokens + total.OutputTokens, total.CachedInputTokens, Round(total.CostUsd), Round(Realized(total)), total.WasteTokens,
            total.SavedTokens, total.CacheHits, Rate(total.CacheHits, total.Requests), total.Replays, total.Fallbacks,
            total.Requests == 0 ? 0 : Math.Round(total.LatencyMs / total.Requests, 2));
        return new SummaryReport(start, end, totals, templates, features);
    }

    public async Task<RoiReport> RoiAsync(string workspaceId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken = default)
    {
        var (start, end) = Range(from, to);
        var total = UsageDeltaMath.Sum((await rollups.QueryAsync(workspaceId, start, end, RollupDimensions.Cell, cancellationToken)).Select(r => r.Totals));
        var realized = Realized(total);
        var savings = new RoiSavings(Round(total.EstimatedSavingsUsd), Round(total.VerifiedSavingsUsd), Round(total.PotentialSavingsUsd),
            Round(total.CacheSavingsUsd), Round(total.ReplaySavingsUsd), Round(realized));
        var spendWithout = total.CostUsd + realized;
        var rate = spendWithout == 0 ? 0 : Math.Round((double)(realized / spendWithout), 4);
        return new RoiReport(start, end, total.Requests, Round(total.CostUsd), savings, rate, Recommend(total));
    }

    /// <summary>Savings that really happened: removed by <c>safe</c>, cache hits and idempotent replays.</summary>
    internal static decimal Realized(UsageDelta d) => d.VerifiedSavingsUsd + d.CacheSavingsUsd + d.ReplaySavingsUsd;

    /// <summary>The one next step that would save the most, judged from a period's totals (ROI report, monthly digest).</summary>
    internal static string Recommend(UsageDelta d)
    {
        if (d.Requests == 0)
        {
            return "No traffic in this period yet.";
        }

        if (d.PotentialSavingsUsd > 0 && d.PotentialSavingsUsd >= d.CostUsd * 0.01m)
        {
            return "Switch measure_only traffic to optimizationMode \"safe\": it would remove the measured whitespace, duplicate and JSON waste.";
        }

        if (d.CacheHits == 0)
        {
            return "Send repeat-safe requests with cachePolicy { exactCache: \"read_write\" } to reuse answers.";
        }

        return "Look at the top templates in /v1/summary: the costliest prompt is the first to shorten.";
    }

    private static double Rate(long part, long whole) => whole == 0 ? 0 : Math.Round(part / (double)whole, 4);

    private static decimal Round(decimal value) => Math.Round(value, 10);
}
