using KillToken.Core.Analytics;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Management;
using KillToken.Core.Ports;
using KillToken.Api.Http;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// Seed 002's workspace analytics and seed 000's savings by feature (JWT session, any role of <c>?workspaceId=</c>),
/// and seed 000's exports with a project key (<c>analytics:read</c>). Every aggregate is read from the daily rollups;
/// only the CSV exports read traces.
/// </summary>
public sealed class AnalyticsHandlers(
    AnalyticsService analytics,
    ReportService reports,
    AccountService accounts,
    IProjectStore projects,
    SessionTokens sessions,
    ApiKeyAuthenticator keys,
    TraceExports exports,
    TimeProvider time)
{
    public Task<IResult> OverviewAsync(HttpContext context) => ReportAsync(context, analytics.OverviewAsync);

    public Task<IResult> TrendsAsync(HttpContext context) => ReportAsync(context, analytics.TrendsAsync);

    public Task<IResult> ProvidersAsync(HttpContext context) => ReportAsync(context, analytics.ProvidersAsync);

    public Task<IResult> ModelsAsync(HttpContext context) => ReportAsync(context, analytics.ModelsAsync);

    public Task<IResult> ProjectsAsync(HttpContext context) => ReportAsync(context, analytics.ProjectsAsync);

    public Task<IResult> FeaturesAsync(HttpContext context) => ReportAsync(context, analytics.FeaturesAsync);

    /// <summary>Seed 000's savings report (<c>/v1/summary</c>'s) over the range's UTC days, for a session.</summary>
    public Task<IResult> SummaryAsync(HttpContext context) => WholeWorkspaceReportAsync(context, reports.SummaryAsync);

    /// <summary>Seed 000's ROI report (<c>/v1/reports/roi</c>'s) over the range's UTC days, for a session.</summary>
    public Task<IResult> RoiAsync(HttpContext context) => WholeWorkspaceReportAsync(context, reports.RoiAsync);

    /// <summary>Seed 002's <c>export.csv</c>: the usage log of the range, newest first, at most 10,000 rows, streamed.</summary>
    public async Task<IResult> ExportCsvAsync(HttpContext context)
    {
        var (userId, workspace, query, error) = await ReadSessionQueryAsync(context);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var names = (await projects.ListAsync(workspace!.Id, context.RequestAborted)).ToDictionary(p => p.Id, p => p.Name, StringComparer.Ordinal);
        var traceQuery = new TraceQuery
        {
            FinalProvider = query!.Provider,
            ProjectId = query.ProjectId,
            ModelContains = query.Model,
            Feature = query.Feature,
            From = query.Start,
            To = query.End.AddTicks(-1),
        };
        var rows = exports.ReadAsync(workspace.Id, traceQuery, context.RequestAborted).Select(t => TraceExports.UsageLogRow(t, workspace.Name, names));
        return new CsvResult($"killtoken-usage-{query.From}-{query.To}.csv", TraceExports.UsageLogColumns, rows, written =>
            exports.AuditAsync(HandlerSupport.UserActor(context, userId!), workspace.Id, "api/analytics/export.csv", written, Filters(query)));
    }

    /// <summary>Seed 000's <c>/v1/exports/requests.csv</c> (project key): the trace list's filters, fixed privacy-safe columns.</summary>
    public async Task<IResult> RequestsCsvAsync(HttpContext context)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        var (query, queryError) = error is null ? HandlerSupport.ReadTraceQuery(context.Request, paging: false) : (null, null);
        error ??= queryError ?? await ProjectOfWorkspaceAsync(project?.WorkspaceId, query?.ProjectId, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var workspaceId = project!.WorkspaceId;
        var rows = exports.ReadAsync(workspaceId, query!, context.RequestAborted).Select(TraceExports.RequestRow);
        var filters = new Dictionary<string, string?>
        {
            ["from"] = query!.From?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["to"] = query.To?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["provider"] = query.Provider,
            ["model"] = query.Model,
            ["mode"] = query.Mode,
            ["cacheStatus"] = query.CacheStatus,
            ["feature"] = query.Feature,
            ["projectId"] = query.ProjectId,
        };
        return new CsvResult("killtoken-requests.csv", TraceExports.RequestColumns, rows, written =>
            exports.AuditAsync(HandlerSupport.KeyActor(context, project.Id), workspaceId, "v1/exports/requests.csv", written, filters));
    }

    /// <summary>Seed 000's <c>/v1/exports/analytics.json</c> (project key): every report of the range, stamped.</summary>
    public async Task<IResult> AnalyticsJsonAsync(HttpContext context)
    {
        var (project, error) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.AnalyticsRead, context.RequestAborted);
        AnalyticsQuery? query = null;
        if (error is null)
        {
            error = context.Request.Query.ContainsKey("mode") || context.Request.Query.ContainsKey("cacheStatus")
                ? GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                    "'mode' and 'cacheStatus' filter single requests (/v1/exports/requests.csv); the analytics are not kept per mode or cache status.")
                : null;
        }

        if (error is null)
        {
            (query, error) = HandlerSupport.ReadAnalyticsQuery(context.Request, time.GetUtcNow());
            error ??= await ProjectOfWorkspaceAsync(project!.WorkspaceId, query?.ProjectId, context.RequestAborted);
        }

        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var report = await analytics.ExportAsync(project!.WorkspaceId, query!, context.RequestAborted);
        await exports.AuditAsync(HandlerSupport.KeyActor(context, project.Id), project.WorkspaceId, "v1/exports/analytics.json", rows: null, Filters(query!));
        return GatewayJson.Ok(report);
    }

    private async Task<IResult> ReportAsync<T>(HttpContext context, Func<string, AnalyticsQuery, CancellationToken, Task<T>> report) where T : notnull
    {
        var (_, workspace, query, error) = await ReadSessionQueryAsync(context);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(await report(workspace!.Id, query!, context.RequestAborted));
    }

    /// <summary>
    /// A report of the whole workspace over <c>from</c>..<c>to</c>: these are kept per workspace and day only, so a
    /// provider, project, model or feature filter is refused rather than silently ignored.
    /// </summary>
    private async Task<IResult> WholeWorkspaceReportAsync<T>(HttpContext context, Func<string, DateTimeOffset?, DateTimeOffset?, CancellationToken, Task<T>> report)
        where T : notnull
    {
        var (_, workspace, query, error) = await ReadSessionQueryAsync(context);
        if (error is null && (query!.Provider ?? query.ProjectId ?? query.Model ?? query.Feature) is not null)
        {
            error = GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                "This report covers the whole workspace: it takes 'from' and 'to' only (use /api/analytics/features or /projects to break it down).");
        }

        return error is not null
            ? GatewayJson.Error(context, error)
            : GatewayJson.Ok(await report(workspace!.Id, query!.Start, query.End.AddTicks(-1), context.RequestAborted));
    }

    /// <summary>The session's user, the workspace of <c>?workspaceId=</c> (any role reads) and the filters — or the 4xx.</summary>
    private async Task<(string? UserId, WorkspaceRecord? Workspace, AnalyticsQuery? Query, GatewayError? Error)> ReadSessionQueryAsync(HttpContext context)
    {
        var (userId, error) = await sessions.AuthenticateAsync(context.Request);
        if (error is not null)
        {
            return (null, null, null, error);
        }

        var workspaceId = context.Request.Query["workspaceId"].ToString().Trim();
        if (workspaceId.Length == 0)
        {
            return (null, null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "The 'workspaceId' query parameter is required: the workspace to report on."));
        }

        var (workspace, _, roleError) = await accounts.RequireRoleAsync(userId!, workspaceId, WorkspaceRoles.Member, context.RequestAborted);
        if (roleError is not null)
        {
            return (null, null, null, roleError);
        }

        var (query, queryError) = HandlerSupport.ReadAnalyticsQuery(context.Request, time.GetUtcNow());
        queryError ??= await ProjectOfWorkspaceAsync(workspace!.Id, query?.ProjectId, context.RequestAborted);
        return queryError is not null ? (null, null, null, queryError) : (userId, workspace, query, null);
    }

    /// <summary>A 404 when a project filter names a project that is not the workspace's (another tenant's reads as missing).</summary>
    private async Task<GatewayError?> ProjectOfWorkspaceAsync(string? workspaceId, string? projectId, CancellationToken cancellationToken)
    {
        if (projectId is null || workspaceId is null)
        {
            return null;
        }

        var project = await projects.GetAsync(projectId, cancellationToken);
        return project is null || project.WorkspaceId != workspaceId ? GatewayError.NotFound("Project") : null;
    }

    private static Dictionary<string, string?> Filters(AnalyticsQuery query) => new(StringComparer.Ordinal)
    {
        ["from"] = query.From,
        ["to"] = query.To,
        ["provider"] = query.Provider,
        ["projectId"] = query.ProjectId,
        ["model"] = query.Model,
        ["feature"] = query.Feature,
    };
}
