using System.Runtime.CompilerServices;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Management;
using KillToken.Api.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// What both kinds of export share: the traces read page by page (newest first, one single-partition keyset query per
/// page, at most <see cref="MaxRows"/>), the CSV columns of each export, and the audit event every export leaves.
/// </summary>
public sealed class TraceExports(ITraceStore traces, AuditRecorder audit)
{
    /// <summary>Seed 002's cap on an export's rows.</summary>
    public const int MaxRows = 10_000;

    private const int PageSize = 500;

    /// <summary>Seed 002's usage log columns, in its order.</summary>
    internal static readonly string[] UsageLogColumns =
        ["createdAt", "workspace", "project", "provider", "model", "status", "inputTokens", "outputTokens", "totalTokens", "estimatedCostUsd", "latencyMs", "errorCode"];

    /// <summary>Seed 000's privacy-safe request columns: ids, names, counts, money and timings — never prompt or completion text.</summary>
    internal static readonly string[] RequestColumns =
    [
        "requestId", "createdAt", "projectId", "endpoint", "provider", "model", "finalProvider", "finalModel", "wasFallback", "optimizationMode",
        "feature", "templateId", "stream", "status", "errorCode", "inputTokens", "outputTokens", "cachedInputTokens", "totalTokens", "wasteTokens",
        "savedTokens", "costUsd", "costStatus", "savedUsd", "cacheStatus", "idempotency", "latencyMs", "providerLatencyMs", "overheadMs",
    ];

    /// <summary>The workspace's traces matching <paramref name="query"/>, newest first, at most <see cref="MaxRows"/>.</summary>
    internal async IAsyncEnumerable<RequestTrace> ReadAsync(string workspaceId, TraceQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var page = query with { Limit = PageSize, Cursor = null };
        var count = 0;
        while (true)
        {
            var result = await traces.QueryAsync(workspaceId, page, cancellationToken);
            foreach (var trace in result.Items)
            {
                yield return trace;
                if (++count == MaxRows)
                {
                    yield break;
                }
            }

            if (result.NextCursor is null)
            {
                yield break;
            }

            page = page with { Cursor = result.NextCursor };
        }
    }

    /// <summary>Seed 002's row: names rather than ids, the outcome in a word, the provider and model that answered.</summary>
    internal static string?[] UsageLogRow(RequestTrace t, string workspaceName, IReadOnlyDictionary<string, string> projectNames) =>
    [
        CsvCell.Time(t.CreatedAt),
        CsvCell.Text(workspaceName),
        CsvCell.Text(t.ProjectId is null ? null : projectNames.GetValueOrDefault(t.ProjectId, t.ProjectId)),
        CsvCell.Text(t.FinalProvider ?? t.Provider),
        CsvCell.Text(t.FinalModel ?? t.Model),
        t.ErrorCode is null ? "success" : t.ErrorCode == ErrorCodes.BudgetExceeded ? "blocked" : "error",
        CsvCell.Number(t.InputTokens),
        CsvCell.Number(t.OutputTokens),
        CsvCell.Number(t.InputTokens + t.OutputTokens),
        CsvCell.Money(t.CostUsd),
        CsvCell.Number(t.LatencyMs),
        t.ErrorCode,
    ];

    internal static string?[] RequestRow(RequestTrace t) =>
    [
        t.Id,
        CsvCell.Time(t.CreatedAt),
        t.ProjectId,
        t.Endpoint,
        CsvCell.Text(t.Provider),
        CsvCell.Text(t.Model),
        CsvCell.Text(t.FinalProvider),
        CsvCell.Text(t.FinalModel),
        t.WasFallback ? "true" : "false",
        t.OptimizationMode,
        CsvCell.Text(t.Feature),
        t.TemplateId,
        t.Stream ? "true" : "false",
        CsvCell.Number(t.Status),
        t.ErrorCode,
        CsvCell.Number(t.InputTokens),
        CsvCell.Number(t.OutputTokens),
        CsvCell.Number(t.CachedInputTokens),
        CsvCell.Number(t.TotalTokens),
        CsvCell.Number(t.WasteTokens),
        CsvCell.Number(t.SavedTokens),
        CsvCell.Money(t.CostUsd),
        t.CostStatus,
        CsvCell.Money(t.SavedUsd),
        t.CacheStatus,
        t.Idempotency,
        CsvCell.Number(t.LatencyMs),
        CsvCell.Number(t.ProviderLatencyMs),
        CsvCell.Number(t.OverheadMs),
    ];

    /// <summary>Records <c>export_downloaded</c> with what was exported (route, filters, rows).</summary>
    internal Task AuditAsync(AuditActor actor, string workspaceId, string route, int? rows, IReadOnlyDictionary<string, string?> filters)
    {
        var details = new Dictionary<string, string?>(filters, StringComparer.Ordinal)
        {
            ["rows"] = rows?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return audit.RecordAsync(actor, workspaceId, AuditEvents.ExportDownloaded, route, details);
    }
}
