using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>Analytics (session) and exports (project key): one line each, bound to the shared <see cref="AnalyticsHandlers"/>.</summary>
public sealed class AnalyticsFunctions(AnalyticsHandlers analytics)
{
    [Function(nameof(AnalyticsOverview))]
    public Task<IActionResult> AnalyticsOverview([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsOverview)] HttpRequest req) =>
        analytics.OverviewAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsTrends))]
    public Task<IActionResult> AnalyticsTrends([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsTrends)] HttpRequest req) =>
        analytics.TrendsAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsProviders))]
    public Task<IActionResult> AnalyticsProviders([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsProviders)] HttpRequest req) =>
        analytics.ProvidersAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsModels))]
    public Task<IActionResult> AnalyticsModels([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsModels)] HttpRequest req) =>
        analytics.ModelsAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsSummary))]
    public Task<IActionResult> AnalyticsSummary([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsSummary)] HttpRequest req) =>
        analytics.SummaryAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsRoi))]
    public Task<IActionResult> AnalyticsRoi([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsRoi)] HttpRequest req) =>
        analytics.RoiAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsProjects))]
    public Task<IActionResult> AnalyticsProjects([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsProjects)] HttpRequest req) =>
        analytics.ProjectsAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsFeatures))]
    public Task<IActionResult> AnalyticsFeatures([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsFeatures)] HttpRequest req) =>
        analytics.FeaturesAsync(req.HttpContext).AsAction();

    [Function(nameof(AnalyticsExportCsv))]
    public Task<IActionResult> AnalyticsExportCsv([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.AnalyticsExportCsv)] HttpRequest req) =>
        analytics.ExportCsvAsync(req.HttpContext).AsAction();

    [Function(nameof(ExportRequestsCsv))]
    public Task<IActionResult> ExportRequestsCsv([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ExportRequestsCsv)] HttpRequest req) =>
        analytics.RequestsCsvAsync(req.HttpContext).AsAction();

    [Function(nameof(ExportAnalyticsJson))]
    public Task<IActionResult> ExportAnalyticsJson([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ExportAnalyticsJson)] HttpRequest req) =>
        analytics.AnalyticsJsonAsync(req.HttpContext).AsAction();
}
