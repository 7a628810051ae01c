namespace KillToken.Client;

/// <summary><c>GET /v1/summary</c>: totals, cost, savings, cache hit rate, top templates and the savings by feature of a range of UTC days.</summary>
public sealed record SummaryReport(string From, string To, SummaryTotals Totals, IReadOnlyList<TemplateSummary> TopTemplates, IReadOnlyList<FeatureSummary> ByFeature);

/// <summary>The totals of a summary.</summary>
public sealed record SummaryTotals(
    long Requests, long Errors, long Blocked, long InputTokens, long OutputTokens, long TotalTokens, long CachedInputTokens,
    decimal CostUsd, decimal SavedUsd, long WasteTokens, long SavedTokens, long CacheHits, double CacheHitRate, long Replays, long Fallbacks,
    double AvgLatencyMs);

/// <summary>A prompt template among the most used, with its waste.</summary>
public sealed record TemplateSummary(string TemplateId, long Requests, long InputTokens, long WasteTokens, decimal CostUsd, decimal EstimatedWasteUsd);

/// <summary>One feature tag's share of traffic, cost and savings.</summary>
public sealed record FeatureSummary(string Feature, long Requests, decimal CostUsd, decimal SavedUsd, long CacheHits, double CacheHitRate, long WasteTokens, decimal EstimatedSavingsUsd);

/// <summary><c>GET /v1/reports/roi</c>: estimated, verified, potential and cache savings of a range of UTC days.</summary>
public sealed record RoiReport(string From, string To, long Requests, decimal CostUsd, RoiSavings Savings, double RealizedSavingsRate, string Recommendation);

/// <summary>The savings of an ROI report, in USD.</summary>
public sealed record RoiSavings(decimal EstimatedUsd, decimal VerifiedUsd, decimal PotentialUsd, decimal CacheUsd, decimal ReplayUsd, decimal RealizedUsd);

/// <summary><c>GET /v1/exports/analytics.json</c>: every analytics report of a range in one stamped document.</summary>
public sealed record AnalyticsExport(
    DateTimeOffset GeneratedAt, string WorkspaceId, string From, string To, AnalyticsFilters Filters, AnalyticsTotals Totals,
    IReadOnlyList<AnalyticsDay> Days, IReadOnlyList<AnalyticsProvider> Providers, IReadOnlyList<AnalyticsModel> Models,
    IReadOnlyList<AnalyticsProject> Projects, IReadOnlyList<AnalyticsFeature> Features);

/// <summary>The filters an analytics export was made with.</summary>
public sealed record AnalyticsFilters(string? Provider, string? ProjectId, string? Model, string? Feature);

/// <summary>The totals of an analytics export.</summary>
public sealed record AnalyticsTotals(long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, long Errors, long BlockedRequests,
    decimal SavedUsd, long CacheHits);

/// <summary>One UTC day of an analytics export.</summary>
public sealed record AnalyticsDay(string Date, long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, long BlockedRequests, long Errors);

/// <summary>One provider's row of an analytics export.</summary>
public sealed record AnalyticsProvider(string Provider, long Requests, decimal SpendUsd, long InputTokens, long OutputTokens, long TotalTokens, double AvgLatencyMs,
    long Errors, double ErrorRate, long BlockedRequests);

/// <summary>One model's row of an analytics export.</summary>
public sealed record AnalyticsModel(string Provider, string Model, long Requests, decimal SpendUsd, decimal AvgCostPerRequestUsd, double AvgLatencyMs,
    long InputTokens, long OutputTokens, long TotalTokens);

/// <summary>One project's row of an analytics export, with its budgets and spend.</summary>
public sealed record AnalyticsProject(string ProjectId, string Name, bool Active, long Requests, decimal SpendUsd, long BlockedRequests,
    decimal? DailyBudgetUsd, decimal? MonthlyBudgetUsd, decimal SpentTodayUsd, decimal SpentThisMonthUsd,
    decimal? DailyUtilizationPercent, decimal? MonthlyUtilizationPercent, DateTimeOffset? LastUsedAt);

/// <summary>One feature tag's row of an analytics export.</summary>
public sealed record AnalyticsFeature(string Feature, long Requests, decimal CostUsd, long WasteTokens, long SavedTokens, decimal SavedUsd, long CacheHits, double CacheHitRate);
