using System.Text.Json;
using System.Text.Json.Serialization;
using KillToken.Core.Caching;
using KillToken.Core.Domain;
using KillToken.Core.Idempotency;

namespace KillToken.Core.Analytics;

/// <summary>What one request adds to a rollup.</summary>
public sealed record UsageDelta
{
    public long Requests { get; init; }
    public long Errors { get; init; }
    public long Blocked { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long WasteTokens { get; init; }
    public long SavedTokens { get; init; }
    public decimal CostUsd { get; init; }
    /// <summary>Measured waste at the model's input price (any mode): what the waste costs.</summary>
    public decimal EstimatedSavingsUsd { get; init; }
    /// <summary>Waste that <c>safe</c> would have removed from <c>measure_only</c> requests.</summary>
    public decimal PotentialSavingsUsd { get; init; }
    /// <summary>Removed by <c>safe</c> and not sent.</summary>
    public decimal VerifiedSavingsUsd { get; init; }
    public long CacheHits { get; init; }
    public decimal CacheSavingsUsd { get; init; }
    public long Replays { get; init; }
    public decimal ReplaySavingsUsd { get; init; }
    public long Fallbacks { get; init; }
    public double LatencyMs { get; init; }
    /// <summary>When the newest call counted here was made (a sum keeps the later of the two).</summary>
    public DateTimeOffset? LastAt { get; init; }

    /// <summary>The delta of one traced request.</summary>
    public static UsageDelta From(RequestTrace trace)
    {
        var hit = trace.CacheStatus == CacheStatus.Hit;
        var replay = trace.Idempotency == IdempotencyStatus.Replayed;
        return new UsageDelta
        {
            Requests = 1,
            Errors = trace.ErrorCode is null || trace.ErrorCode == Gateway.ErrorCodes.BudgetExceeded ? 0 : 1,
            Blocked = trace.ErrorCode == Gateway.ErrorCodes.BudgetExceeded ? 1 : 0,
            InputTokens = trace.InputTokens,
            OutputTokens = trace.OutputTokens,
            CachedInputTokens = trace.CachedInputTokens,
            WasteTokens = trace.WasteTokens,
            SavedTokens = trace.SavedTokens,
            CostUsd = trace.CostUsd ?? 0m,
            EstimatedSavingsUsd = trace.WasteUsd,
            PotentialSavingsUsd = trace.PotentialSavedUsd,
            VerifiedSavingsUsd = hit || replay ? 0m : trace.SavedUsd,
            CacheHits = hit ? 1 : 0,
            CacheSavingsUsd = hit ? trace.SavedUsd : 0m,
            Replays = replay ? 1 : 0,
            ReplaySavingsUsd = replay ? trace.SavedUsd : 0m,
            Fallbacks = trace.WasFallback ? 1 : 0,
            LatencyMs = trace.LatencyMs,
            LastAt = trace.CreatedAt,
        };
    }
}

/// <summary>One pre-aggregated row: a workspace's usage for one UTC day and one dimension value.</summary>
public sealed record RollupRow(string Day, string Dimension, string Key, UsageDelta Totals);

/// <summary>
/// The finest slice every report is summed from: one project, the provider and model that served the calls (after any
/// fallback) and one feature tag. A workspace has one row per day and cell it used, so what a report reads grows with
/// the days and the distinct slices in its range, never with the number of calls.
/// </summary>
public sealed record RollupCell(string? ProjectId, string? Provider, string? Model, string Feature)
{
    /// <summary>The slice a traced call belongs to.</summary>
    public static RollupCell Of(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var provider = trace.FinalProvider ?? trace.Provider;
        return new RollupCell(trace.ProjectId, provider, provider is null ? null : trace.FinalModel, trace.Feature);
    }

    /// <summary>The row key: a JSON array, so any character in a tag or model name round-trips.</summary>
    public string Key => JsonSerializer.Serialize([ProjectId, Provider, Model, Feature], KeyJson.Default.StringArray);

    /// <summary>The cell of a row key written by <see cref="Key"/>.</summary>
    public static RollupCell Parse(string key)
    {
        var parts = JsonSerializer.Deserialize(key, KeyJson.Default.StringArray);
        if (parts is not { Length: 4 } || parts[3] is null)
        {
            throw new FormatException("Not a rollup cell key.");
        }

        return new RollupCell(parts[0], parts[1], parts[2], parts[3]!);
    }
}

[JsonSerializable(typeof(string?[]), TypeInfoPropertyName = "StringArray")]
internal sealed partial class KeyJson : JsonSerializerContext;

public static class RollupDimensions
{
    /// <summary>Per <see cref="RollupCell"/>: every report's numbers.</summary>
    public const string Cell = "cell";

    /// <summary>Per prompt template (<see cref="Optimization.TemplateFingerprint"/>): the summary's top templates.</summary>
    public const string Template = "template";

    /// <summary>The rows one trace adds to: its cell and, when it has one, its template.</summary>
    public static IReadOnlyList<(string Dimension, string Key)> Of(RequestTrace trace)
    {
        var cell = (Cell, RollupCell.Of(trace).Key);
        return trace.TemplateId is null ? [cell] : [cell, (Template, trace.TemplateId)];
    }
}

/// <summary>A cell's totals for one day.</summary>
public sealed record CellRow(string Day, RollupCell Cell, UsageDelta Totals);

public static class UsageRollupsExtensions
{
    /// <summary>The cell rows of a workspace's days, each key parsed once (a range holds the same few cells day after day).</summary>
    public static async Task<List<CellRow>> QueryCellsAsync(this IUsageRollups rollups, string workspaceId, string fromDay, string toDay,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rollups);
        var rows = await rollups.QueryAsync(workspaceId, fromDay, toDay, RollupDimensions.Cell, cancellationToken);
        var parsed = new Dictionary<string, RollupCell>(StringComparer.Ordinal);
        var cells = new List<CellRow>(rows.Count);
        foreach (var row in rows)
        {
            if (!parsed.TryGetValue(row.Key, out var cell))
            {
                parsed[row.Key] = cell = RollupCell.Parse(row.Key);
            }

            cells.Add(new CellRow(row.Day, cell, row.Totals));
        }

        return cells;
    }
}

/// <summary>
/// Pre-aggregated usage per workspace, UTC day and dimension. Reports read these, never traces. They are kept by the
/// trace store (<see cref="Ports.ITraceStore.AppendAsync"/>): every trace counts once, in the UTC day it was written.
/// </summary>
public interface IUsageRollups
{
    /// <summary>Rows of one workspace between two UTC days (inclusive), optionally of one dimension.</summary>
    Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default);
}

public static class UsageDeltaMath
{
    public static UsageDelta Sum(IEnumerable<UsageDelta> deltas) => deltas.Aggregate(new UsageDelta(), (a, b) => new UsageDelta
    {
        Requests = a.Requests + b.Requests,
        Errors = a.Errors + b.Errors,
        Blocked = a.Blocked + b.Blocked,
        InputTokens = a.InputTokens + b.InputTokens,
        OutputTokens = a.OutputTokens + b.OutputTokens,
        CachedInputTokens = a.CachedInputTokens + b.CachedInputTokens,
        WasteTokens = a.WasteTokens + b.WasteTokens,
        SavedTokens = a.SavedTokens + b.SavedTokens,
        CostUsd = a.CostUsd + b.CostUsd,
        EstimatedSavingsUsd = a.EstimatedSavingsUsd + b.EstimatedSavingsUsd,
        PotentialSavingsUsd = a.PotentialSavingsUsd + b.PotentialSavingsUsd,
        VerifiedSavingsUsd = a.VerifiedSavingsUsd + b.VerifiedSavingsUsd,
        CacheHits = a.CacheHits + b.CacheHits,
        CacheSavingsUsd = a.CacheSavingsUsd + b.CacheSavingsUsd,
        Replays = a.Replays + b.Replays,
        ReplaySavingsUsd = a.ReplaySavingsUsd + b.ReplaySavingsUsd,
        Fallbacks = a.Fallbacks + b.Fallbacks,
        LatencyMs = a.LatencyMs + b.LatencyMs,
        LastAt = a.LastAt > b.LastAt || b.LastAt is null ? a.LastAt : b.LastAt,
    });
}

/// <summary>Where a store keeps no rollups: reports are empty, requests are unaffected.</summary>
public sealed class NoUsageRollups : IUsageRollups
{
    public Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<RollupRow>>([]);
}
