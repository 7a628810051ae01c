using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// Rollup rows on Cosmos DB: one document per (workspace, UTC day, dimension, key) in the workspace's partition, id
/// <c>rollup:{day}:{dimension}:{key}</c> (hashed when the key holds characters ids cannot). A call's delta is added to
/// its rows in memory (<see cref="Add"/>) and each row's sum is written once per flush (<see cref="CosmosDeferredCounters"/>:
/// every second by default, and when the host stops) with patch Increments — atomic per document, no read, no etag loop
/// — so a busy row costs one patch per flush instead of one per call. A read of a workspace's rows first writes what this
/// instance holds for it, so reports on the instance that served the calls are exact at once; other instances' calls
/// show up within one flush interval, and what a crashed instance held is brought back by the daily reconciliation.
/// Money is kept as nano-dollar integers (<c>costUsdNanos</c>…) so increments stay exact (Cosmos DB numbers are
/// doubles), and converted back to decimals on read; each call's money is rounded to the nearest nano-dollar before it is
/// summed, as the reconciliation rounds it.
/// <para>
/// A patch holds at most 10 operations, so only the sum's non-zero fields are sent (a typical row has 4–7);
/// a rare sum with more goes out in two patches, which are each atomic but not together. A row's first write is a
/// create holding the whole sum (its 404 → create; a 409 from a concurrent creator → patch again).
/// </para>
/// <para>
/// The rows' shape is versioned per workspace by a marker document (<see cref="Shape"/>). A workspace whose rows are of
/// an older shape (before the per-slice <see cref="RollupDimensions.Cell"/> rows) gets them rebuilt from its traces the
/// first time it is read: every day that has old rows is repaired from that day's traces (one single-partition query
/// per day), the old rows are deleted, then the marker is written. Today and yesterday are exact once the daily
/// reconciliation has run for them (a day after each ends), like any day an instance stopped in.
/// </para>
/// </summary>
internal sealed partial class CosmosUsageRollups(CosmosStoreContext db, TimeProvider time, ILogger<CosmosUsageRollups> logger) : IUsageRollups
{
    private const string Type = "rollup";
    private const string ShapeType = "rollup-shape";
    private const string ShapeId = "rollup-shape";
    /// <summary>2: cell and template rows (1: total, feature, template, provider, model and project rows).</summary>
    private const int Shape = 2;
    private const int MaxOperationsPerPatch = 10;
    private const int MaxAttempts = 10;
    private readonly ConcurrentDictionary<string, Task> _currentShape = new(StringComparer.Ordinal);
    private readonly CosmosPendingSums<RowKey, List<Field>> _pending = new(Add);

    /// <summary>One rollup document: what the sums held in memory are keyed by.</summary>
    internal readonly record struct RowKey(string WorkspaceId, string Day, string Dimension, string Key);

    /// <summary>Adds a call's delta to its rows in memory; written by the next flush (or the next read of the workspace).</summary>
    public void Add(string workspaceId, string day, IReadOnlyList<(string Dimension, string Key)> keys, UsageDelta delta)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(delta);
        var fields = Fields(delta);
        foreach (var (dimension, key) in keys)
        {
            _pending.Add(new RowKey(workspaceId, day, dimension, key), fields);
        }
    }

    /// <summary>Writes the rows held in memory (of one workspace, or all) and waits for writes of them already under way.</summary>
    public async Task FlushAsync(string? workspaceId, CancellationToken cancellationToken = default)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        await db.EnsureReadyAsync(cancellationToken);
        // Not the caller's token: a write once started is finished, or held again for the next flush.
        await _pending.FlushAsync(
            workspaceId is null ? null : key => key.WorkspaceId == workspaceId,
            (key, fields) => AddRowAsync(key.WorkspaceId, key.Day, key.Dimension, key.Key, fields, CancellationToken.None),
            HoldAgain);
    }

    /// <summary>
    /// A row whose write failed is tried again at the next flush, unless its day ended more than
    /// <see cref="CosmosDeferredCounters.StaleAfter"/> ago: the reconciliation of that day (a full day after it ends)
    /// rebuilds it from the traces, and a write landing after it would count twice.
    /// </summary>
    private HoldAgain<List<Field>> HoldAgain(RowKey key, List<Field> fields, Exception error)
    {
        var dayEnd = DateTimeOffset.ParseExact(key.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).AddDays(1);
        // Only what was not applied is held: the chunks before the failed one are in the row, and a chunk whose answer
        // was lost may be too (not sent again: it could count twice; the reconciliation rebuilds the day).
        var rest = error is PartialRowWriteException partial ? partial.Remaining : fields;
        var cause = error is PartialRowWriteException { InnerException: { } inner } ? inner : error;
        var keep = !CosmosItems.OutcomeUnknown(cause) && time.GetUtcNow() - dayEnd < CosmosDeferredCounters.StaleAfter;
        LogRowWriteFailed(logger, key.WorkspaceId, key.Day, cause.GetType().Name, keep ? "kept for the next flush" : "left to the daily reconciliation");
        return new HoldAgain<List<Field>>(keep, rest);
    }

    /// <summary>A row's later chunk failed: the earlier ones are applied, <see cref="Remaining"/> is not.</summary>
    private sealed class PartialRowWriteException(List<Field> remaining, Exception inner)
        : Exception("A rollup row was written in part.", inner)
    {
        public List<Field> Remaining { get; } = remaining;
    }

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "A rollup row of workspace {WorkspaceId} for {Day} could not be written ({ErrorType}); {Outcome}")]
    private static partial void LogRowWriteFailed(ILogger logger, string workspaceId, string day, string errorType, string outcome);

    public async Task<IReadOnlyList<RollupRow>> QueryAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken = default)
    {
        await FlushAsync(workspaceId, cancellationToken);
        await EnsureShapeAsync(workspaceId, cancellationToken);
        return await QueryRowsAsync(workspaceId, fromDay, toDay, dimension, cancellationToken);
    }

    /// <summary>
    /// Rebuilds a workspace's rows of an older shape from its traces, once (see the class remarks): concurrent reads of
    /// the workspace on this instance share one rebuild, which no caller's cancellation stops halfway.
    /// </summary>
    private Task EnsureShapeAsync(string workspaceId, CancellationToken cancellationToken)
    {
        if (_currentShape.TryGetValue(workspaceId, out var done) && done.IsCompletedSuccessfully)
        {
            return Task.CompletedTask;
        }

        var rebuild = _currentShape.GetOrAdd(workspaceId, id => RebuildOlderShapeAsync(id));
        if (rebuild.IsFaulted || rebuild.IsCanceled)
        {
            // A failed rebuild is tried again by the next read.
            _currentShape.TryRemove(new KeyValuePair<string, Task>(workspaceId, rebuild));
        }

        return rebuild.WaitAsync(cancellationToken);
    }

    private async Task RebuildOlderShapeAsync(string workspaceId)
    {
        var cancellationToken = CancellationToken.None;
        await db.EnsureReadyAsync(cancellationToken);
        using (var marker = await db.Workspaces.ReadItemStreamAsync(ShapeId, new PartitionKey(workspaceId), cancellationToken: cancellationToken))
        {
            if (marker.IsSuccessStatusCode)
            {
                return;
            }

            if (!CosmosStoreContext.IsMissingItem(marker))
            {
                marker.EnsureSuccessStatusCode();
            }
        }

        var legacy = new QueryDefinition("SELECT c.id, c.day FROM c WHERE c.workspaceId = @ws AND c.type = @type AND c.dimension != @cell AND c.dimension != @template")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", Type)
            .WithParameter("@cell", RollupDimensions.Cell)
            .WithParameter("@template", RollupDimensions.Template);
        var rows = await CosmosStoreContext.QueryAsync<LegacyRow>(db.Workspaces, legacy, workspaceId, int.MaxValue, cancellationToken);
        // Every day with older rows, today's too: a call still settling may be missed (or a concurrent increment
        // overwritten) and the daily reconciliation of that day makes it exact a day after it ends.
        foreach (var day in rows.Select(r => r.Day).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            await RepairDayAsync(workspaceId, day, await CosmosTraceStore.ListDayAsync(db, workspaceId, day, cancellationToken), cancellationToken);
        }

        foreach (var row in rows)
        {
            using var deleted = await db.Workspaces.DeleteItemStreamAsync(row.Id, new PartitionKey(workspaceId), cancellationToken: cancellationToken);
        }

        using var document = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["id"] = ShapeId,
            ["type"] = ShapeType,
            ["workspaceId"] = workspaceId,
            ["shape"] = Shape,
        }));
        await CosmosStoreContext.UpsertAsync(db.Workspaces, document, workspaceId, cancellationToken);
    }

    /// <summary>A rollup row of the older shape: what the rebuild repairs and then deletes.</summary>
    private sealed record LegacyRow(string Id, string Day);

    private async Task<IReadOnlyList<RollupRow>> QueryRowsAsync(string workspaceId, string fromDay, string toDay, string? dimension, CancellationToken cancellationToken)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var sql = "SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type AND c.day >= @from AND c.day <= @to"
            + (dimension is null ? string.Empty : " AND c.dimension = @dim");
        var query = new QueryDefinition(sql)
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", Type)
            .WithParameter("@from", fromDay)
            .WithParameter("@to", toDay);
        if (dimension is not null)
        {
            query = query.WithParameter("@dim", dimension);
        }

        var documents = await CosmosStoreContext.QueryAsync<JsonElement>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken);
        return [.. documents.Select(d => new RollupRow(d.GetProperty("day").GetString()!, d.GetProperty("dimension").GetString()!, d.GetProperty("key").GetString()!, Totals(d)))];
    }

    private async Task AddRowAsync(string workspaceId, string day, string dimension, string key, IReadOnlyList<Field> fields, CancellationToken cancellationToken)
    {
        var id = CosmosIds.Key(Type, day + ":" + dimension + ":" + key);
        var changes = fields.Where(f => f.Long != 0 || f.Double != 0d).ToList();
        for (var start = 0; start < Math.Max(1, changes.Count); start += MaxOperationsPerPatch)
        {
            var operations = changes.Skip(start).Take(MaxOperationsPerPatch).Select(f => f.IsLatest
                ? PatchOperation.Set("/" + f.Name, f.Long)
                : f.IsDouble
                    ? PatchOperation.Increment("/" + f.Name, f.Double)
                    : PatchOperation.Increment("/" + f.Name, f.Long)).ToList();
            // A missing row is created holding everything still to add: the whole delta (zeros included) on the first chunk.
            IReadOnlyList<Field> rest = start == 0 ? fields : changes.Skip(start).ToList();
            var latest = changes.Skip(start).Take(MaxOperationsPerPatch).FirstOrDefault(f => f.IsLatest);
            bool patched;
            try
            {
                patched = await PatchOrCreateAsync(workspaceId, id, operations, latest, () => NewRow(id, workspaceId, day, dimension, key, rest), cancellationToken);
            }
            catch (Exception ex) when (start > 0)
            {
                throw new PartialRowWriteException(changes.Skip(start).ToList(), ex);
            }

            if (!patched)
            {
                // The create carried the remaining fields: nothing left to add.
                return;
            }
        }
    }

    /// <summary>
    /// Patches the row; when it is missing, creates it with the whole delta instead. True when it patched. A newest-call
    /// time (<paramref name="latest"/>) is set only if the row's is not newer — a condition on the patch; in the rare
    /// case a newer call was written first, the patch is sent again without the time.
    /// </summary>
    private async Task<bool> PatchOrCreateAsync(string workspaceId, string id, List<PatchOperation> operations, Field? latest, Func<MemoryStream> newRow,
        CancellationToken cancellationToken)
    {
        var options = latest is null ? null : new PatchItemRequestOptions
        {
            FilterPredicate = string.Create(CultureInfo.InvariantCulture, $"FROM c WHERE NOT IS_DEFINED(c.{latest.Name}) OR c.{latest.Name} <= {latest.Long}"),
        };
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            if (operations.Count > 0)
            {
                using var response = await db.Workspaces.PatchItemStreamAsync(id, new PartitionKey(workspaceId), operations, options, cancellationToken);
                if (response.StatusCode == System.Net.HttpStatusCode.PreconditionFailed && options is not null)
                {
                    operations = [.. operations.Where(o => o.OperationType != PatchOperationType.Set)];
                    options = null;
                    attempt--;
                    continue;
                }

                if (!CosmosStoreContext.IsMissingItem(response))
                {
                    response.EnsureSuccessStatusCode();
                    return true;
                }
            }

            using var document = newRow();
            if (await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, workspaceId, cancellationToken))
            {
                return false;
            }

            if (operations.Count == 0)
            {
                // An all-zero delta only has to make sure the row exists.
                return true;
            }
        }

        throw new CosmosConcurrencyException($"A rollup document kept appearing and vanishing; gave up after {MaxAttempts} attempts.");
    }

    /// <summary>
    /// Makes the day's rows equal the sums of the day's traces: each row whose numbers differ (or that is missing) is
    /// replaced by a document holding the traces' sums, rounded per trace as the increments are. Only for a day no call
    /// still writes to (the reconciliation's day). Returns how many rows it replaced.
    /// </summary>
    internal async Task<int> RepairDayAsync(string workspaceId, string day, IEnumerable<RequestTrace> traces, CancellationToken cancellationToken)
    {
        await FlushAsync(workspaceId, cancellationToken);
        var truth = new Dictionary<(string Dimension, string Key), List<Field>>();
        foreach (var trace in traces)
        {
            var fields = Fields(UsageDelta.From(trace));
            foreach (var slot in RollupDimensions.Of(trace))
            {
                truth[slot] = truth.TryGetValue(slot, out var sum) ? Add(sum, fields) : fields;
            }
        }

        var stored = (await QueryRowsAsync(workspaceId, day, day, null, cancellationToken)).ToDictionary(r => (r.Dimension, r.Key), r => Fields(r.Totals));
        var repaired = 0;
        foreach (var ((dimension, key), fields) in truth)
        {
            if (stored.TryGetValue((dimension, key), out var current) && SameNumbers(current, fields))
            {
                continue;
            }

            var id = CosmosIds.Key(Type, day + ":" + dimension + ":" + key);
            using var document = NewRow(id, workspaceId, day, dimension, key, fields);
            await CosmosStoreContext.UpsertAsync(db.Workspaces, document, workspaceId, cancellationToken);
            repaired++;
        }

        return repaired;
    }

    private static List<Field> Add(List<Field> a, List<Field> b) =>
        [.. a.Zip(b, (x, y) => x with { Long = x.IsLatest ? Math.Max(x.Long, y.Long) : x.Long + y.Long, Double = x.Double + y.Double })];

    /// <summary>
    /// Counts and money exactly; latency (a double summed in another order) within a microsecond. The newest call's
    /// time is not compared: concurrent calls set it last-writer-wins, a few milliseconds from the traces' latest.
    /// </summary>
    private static bool SameNumbers(List<Field> a, List<Field> b) =>
        a.Zip(b).All(p => p.First.IsLatest || (p.First.IsDouble ? Math.Abs(p.First.Double - p.Second.Double) < 0.001 : p.First.Long == p.Second.Long));

    // ---- The document's numbers ---------------------------------------------------------------------------------

    /// <param name="IsLatest">A time (Unix milliseconds) that is set, not added: the newest call's; a sum keeps the later.</param>
    private sealed record Field(string Name, long Long, double Double, bool IsDouble, bool IsLatest = false);

    private static Field Int(string name, long value) => new(name, value, 0d, false);

    private static Field Usd(string name, decimal value) => new(name + "Nanos", Nanos.FromUsd(value), 0d, false);

    private static Field Latest(string name, DateTimeOffset? value) => new(name, value?.ToUnixTimeMilliseconds() ?? 0, 0d, false, IsLatest: true);

    /// <summary>Every number of a delta, as stored: counts as they are, money in nano-dollars, latency as a double.</summary>
    private static List<Field> Fields(UsageDelta d) =>
    [
        Int("requests", d.Requests),
        Int("errors", d.Errors),
        Int("blocked", d.Blocked),
        Int("inputTokens", d.InputTokens),
        Int("outputTokens", d.OutputTokens),
        Int("cachedInputTokens", d.CachedInputTokens),
        Int("wasteTokens", d.WasteTokens),
        Int("savedTokens", d.SavedTokens),
        Usd("costUsd", d.CostUsd),
        Usd("estimatedSavingsUsd", d.EstimatedSavingsUsd),
        Usd("potentialSavingsUsd", d.PotentialSavingsUsd),
        Usd("verifiedSavingsUsd", d.VerifiedSavingsUsd),
        Int("cacheHits", d.CacheHits),
        Usd("cacheSavingsUsd", d.CacheSavingsUsd),
        Int("replays", d.Replays),
        Usd("replaySavingsUsd", d.ReplaySavingsUsd),
        Int("fallbacks", d.Fallbacks),
        new Field("latencyMs", 0, d.LatencyMs, true),
        Latest("lastAtMs", d.LastAt),
    ];

    private static UsageDelta Totals(JsonElement e) => new()
    {
        Requests = CosmosItems.Int64(e, "requests"),
        Errors = CosmosItems.Int64(e, "errors"),
        Blocked = CosmosItems.Int64(e, "blocked"),
        InputTokens = CosmosItems.Int64(e, "inputTokens"),
        OutputTokens = CosmosItems.Int64(e, "outputTokens"),
        CachedInputTokens = CosmosItems.Int64(e, "cachedInputTokens"),
        WasteTokens = CosmosItems.Int64(e, "wasteTokens"),
        SavedTokens = CosmosItems.Int64(e, "savedTokens"),
        CostUsd = Nanos.ToUsd(CosmosItems.Int64(e, "costUsdNanos")),
        EstimatedSavingsUsd = Nanos.ToUsd(CosmosItems.Int64(e, "estimatedSavingsUsdNanos")),
        PotentialSavingsUsd = Nanos.ToUsd(CosmosItems.Int64(e, "potentialSavingsUsdNanos")),
        VerifiedSavingsUsd = Nanos.ToUsd(CosmosItems.Int64(e, "verifiedSavingsUsdNanos")),
        CacheHits = CosmosItems.Int64(e, "cacheHits"),
        CacheSavingsUsd = Nanos.ToUsd(CosmosItems.Int64(e, "cacheSavingsUsdNanos")),
        Replays = CosmosItems.Int64(e, "replays"),
        ReplaySavingsUsd = Nanos.ToUsd(CosmosItems.Int64(e, "replaySavingsUsdNanos")),
        Fallbacks = CosmosItems.Int64(e, "fallbacks"),
        LatencyMs = CosmosItems.Double(e, "latencyMs"),
        LastAt = CosmosItems.Int64(e, "lastAtMs") is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
    };

    private static MemoryStream NewRow(string id, string workspaceId, string day, string dimension, string key, IReadOnlyList<Field> fields)
    {
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", Type);
            writer.WriteString("workspaceId", workspaceId);
            writer.WriteString("day", day);
            writer.WriteString("dimension", dimension);
            writer.WriteString("key", key);
            foreach (var field in fields)
            {
                if (field.IsDouble)
                {
                    writer.WriteNumber(field.Name, field.Double);
                }
                else
                {
                    writer.WriteNumber(field.Name, field.Long);
                }
            }

            writer.WriteEndObject();
        }

        stream.Position = 0;
        return stream;
    }
}

/// <summary>Nano-dollar integers for money Cosmos DB increments (its numbers are doubles: exact for integers below 2^53).</summary>
internal static class Nanos
{
    private const decimal PerUsd = 1_000_000_000m;
    private const decimal Max = 4_000_000_000_000_000_000m;

    /// <summary>Rounded to the nearest nano-dollar (half away from zero).</summary>
    public static long FromUsd(decimal usd) => (long)Math.Clamp(Math.Round(usd * PerUsd, MidpointRounding.AwayFromZero), -Max, Max);

    public static decimal ToUsd(long nanos) => nanos / PerUsd;
}
