using System.Globalization;
using System.Net;
using System.Text.Json;
using KillToken.Core.Budgets;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// Budget counters on Cosmos DB, in nano-dollars (exact integers, as in SQLite). Cosmos DB has no multi-document
/// transaction outside TransactionalBatch, so both periods live in ONE document per project and UTC month (in the
/// workspace's partition) and every check-and-reserve is ONE conditional patch of it:
/// <code>
/// { "id": "budget:{projectId}:{yyyy-MM}", "type": "budget", "workspaceId", "projectId", "month",
///   "spent": 0, "reserved": 0,                                    // the month
///   "days": { "01": { "spent": 0, "reserved": 0 }, …, "30": {…} } } // every day of the month, written at creation
/// </code>
/// <para>
/// <b>Reserve</b> = <c>PatchItem</c> with two Increment operations (<c>/reserved</c>, <c>/days/dd/reserved</c>) and a
/// <c>FilterPredicate</c> holding both limits, e.g.
/// <c>from c where c.spent + c.reserved + 20000000 &lt;= 1000000000 and c.days['23'].spent + c.days['23'].reserved + 20000000 &lt;= 500000000</c>.
/// Cosmos DB evaluates the predicate and applies the operations atomically on the document's primary replica, so
/// concurrent reservations serialize there and none can pass a limit: a false predicate is a 412 and changes nothing.
/// The predicate is a string with no parameters (the SDK sends it as is), so the amounts and limits are inlined — they are
/// integers this class formats itself, never caller text. No read-modify-write, no etag retry loop: contention costs no
/// extra requests, which matters on the hottest document of a busy project.
/// </para>
/// <para>
/// <b>The day entry always exists</b>: the document is created with all the month's days at zero (about 1 KB), because an
/// Increment cannot create <c>/days/dd</c> and its counter in one operation, and a predicate reading a missing entry is
/// false. Pre-filling makes the one conditional patch the whole reservation, with no "ensure the day" step to race with.
/// The document is created on the first reservation of the month (the 404 of the patch): created already holding that
/// reservation when it fits, and a 409 (someone else created it first) just retries the patch.
/// </para>
/// <para>
/// <b>Spend with nothing held</b> (a project without limits, and the workspace's counter while the workspace has no limit)
/// is not patched per call: <see cref="AddSpend"/> sums it in memory and <see cref="CosmosDeferredCounters"/> writes each
/// document's sum once per flush interval. A settlement that gives back a reservation is always one immediate patch
/// (release and spend together), so a limit is never judged on spend that is held somewhere. Reading or reserving on a
/// document first writes what this instance holds for it; other instances' held spend lands within one interval — the
/// same kind of lag as a call without a reservation that is still in flight when a limit is set, and shorter.
/// </para>
/// <para>
/// Property names in the predicate are lower-case on purpose: the test emulator lower-cases conditions before it runs them.
/// Numbers are IEEE doubles in Cosmos DB: nano-dollar integers stay exact up to 2^53 (about $9 million a month per project).
/// </para>
/// </summary>
internal sealed partial class CosmosBudgetLedger(CosmosStoreContext db, TimeProvider time, ILogger<CosmosBudgetLedger> logger) : IBudgetLedger
{
    private const string Type = "budget";
    private const string AlertType = "budget-alert";
    private const string ClosedType = "period-closed";
    private const string SystemPartition = "_system";
    private const decimal NanosPerUsd = 1_000_000_000m;
    /// <summary>Amounts and limits are clamped here (about $4 billion) so they always fit a long.</summary>
    private const decimal MaxNanos = 4_000_000_000_000_000_000m;
    private const int MaxAttempts = 10;
    /// <summary>Alert markers outlive any period they can be claimed for (a month is at most 31 days).</summary>
    private const int AlertTtlSeconds = 62 * 24 * 3600;
    private readonly CosmosPendingSums<SpendKey, long> _pendingSpend = new((a, b) => a + b);

    /// <summary>One counter document's day: what spend held in memory is keyed by.</summary>
    internal readonly record struct SpendKey(string WorkspaceId, string LedgerId, BudgetPeriods Periods);

    /// <summary>
    /// Adds a call's cost, with no reservation to give back, to the counter in memory (rounded up to a nano-dollar, as a
    /// settle rounds it); written by the next flush, or before the next read or reservation of that counter here.
    /// </summary>
    public void AddSpend(string workspaceId, string projectId, BudgetPeriods periods, decimal actual)
    {
        ArgumentNullException.ThrowIfNull(periods);
        _ = DayKey(periods);
        var nanos = ToNanosUp(actual);
        if (nanos != 0)
        {
            _pendingSpend.Add(new SpendKey(workspaceId, projectId, periods), nanos);
        }
    }

    /// <summary>Writes the spend held in memory (of one workspace, or all) and waits for writes of it already under way.</summary>
    public async Task FlushSpendAsync(string? workspaceId, CancellationToken cancellationToken = default)
    {
        if (_pendingSpend.IsEmpty)
        {
            return;
        }

        await db.EnsureReadyAsync(cancellationToken);
        await _pendingSpend.FlushAsync(workspaceId is null ? null : key => key.WorkspaceId == workspaceId, WriteSpendAsync, HoldAgain);
    }

    /// <summary>Before a counter is read or reserved on: what this instance holds for it is written first (nothing held: a lookup).</summary>
    private Task FlushSpendAsync(string workspaceId, string projectId, BudgetPeriods periods) =>
        _pendingSpend.IsEmpty ? Task.CompletedTask : _pendingSpend.FlushAsync(new SpendKey(workspaceId, projectId, periods), WriteSpendAsync, HoldAgain);

    // Not a caller's token: a write once started is finished, or held again for the next flush.
    private Task WriteSpendAsync(SpendKey key, long nanos) => SettleNanosAsync(key.WorkspaceId, key.LedgerId, key.Periods, nanos, 0, CancellationToken.None);

    /// <summary>
    /// Spend whose write failed is tried again at the next flush, unless its day ended more than
    /// <see cref="CosmosDeferredCounters.StaleAfter"/> ago (the reconciliation of that day sets its spend from the traces,
    /// and a write landing after it would count twice) or the write may have been applied with its answer lost.
    /// </summary>
    private HoldAgain<long> HoldAgain(SpendKey key, long nanos, Exception error)
    {
        // An increment that may have been applied (its answer lost) is not sent again: it could count twice.
        var keep = !CosmosItems.OutcomeUnknown(error) && time.GetUtcNow() - key.Periods.DayResetsAt < CosmosDeferredCounters.StaleAfter;
        LogSpendWriteFailed(logger, key.WorkspaceId, key.LedgerId, key.Periods.Day, error.GetType().Name, keep ? "kept for the next flush" : "left to the daily reconciliation");
        return new HoldAgain<long>(keep, nanos);
    }

    [LoggerMessage(EventId = 4022, Level = LogLevel.Warning, Message = "Spend of {LedgerId} in workspace {WorkspaceId} for {Day} could not be written ({ErrorType}); {Outcome}")]
    private static partial void LogSpendWriteFailed(ILogger logger, string workspaceId, string ledgerId, string day, string errorType, string outcome);

    public async Task<BudgetUsage> GetAsync(string workspaceId, string projectId, BudgetPeriods periods, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(periods);
        var day = DayKey(periods);
        await db.EnsureReadyAsync(cancellationToken);
        await FlushSpendAsync(workspaceId, projectId, periods);
        return await ReadUsageAsync(workspaceId, Id(projectId, periods), day, cancellationToken);
    }

    public async Task<(bool Reserved, BudgetUsage Usage)> TryReserveAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal amount,
        decimal? dailyLimit, decimal? monthlyLimit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(periods);
        var day = DayKey(periods);
        var nanos = ToNanosUp(amount);
        long? daily = dailyLimit is { } d ? ToNanosDown(d) : null;
        long? monthly = monthlyLimit is { } m ? ToNanosDown(m) : null;
        await db.EnsureReadyAsync(cancellationToken);
        await FlushSpendAsync(workspaceId, projectId, periods);
        var id = Id(projectId, periods);

        if (nanos <= 0)
        {
            // Nothing to hold: the check alone, and no write.
            var usage = await ReadUsageAsync(workspaceId, id, day, cancellationToken);
            return (FitsNanos(usage, 0, daily, monthly), usage);
        }

        PatchOperation[] operations = [PatchOperation.Increment("/reserved", nanos), PatchOperation.Increment($"/days/{day}/reserved", nanos)];
        var options = new PatchItemRequestOptions { FilterPredicate = Predicate(day, nanos, daily, monthly), EnableContentResponseOnWrite = true };
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using (var response = await db.Workspaces.PatchItemStreamAsync(id, new PartitionKey(workspaceId), operations, options, cancellationToken))
            {
                if (response.IsSuccessStatusCode)
                {
                    return (true, await UsageOfAsync(response, day, cancellationToken) ?? await ReadUsageAsync(workspaceId, id, day, cancellationToken));
                }

                if (response.StatusCode == HttpStatusCode.PreconditionFailed)
                {
                    // A limit would be passed: nothing changed. Report what is there now.
                    return (false, await ReadUsageAsync(workspaceId, id, day, cancellationToken));
                }

                if (!CosmosStoreContext.IsMissingItem(response))
                {
                    response.EnsureSuccessStatusCode();
                }
            }

            // The month's first reservation: create the document already holding it, when it fits an empty month.
            if (!FitsNanos(BudgetUsage.Zero, nanos, daily, monthly))
            {
                return (false, BudgetUsage.Zero);
            }

            using var document = NewMonth(workspaceId, projectId, periods, day, spent: 0, reserved: nanos);
            if (await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, workspaceId, cancellationToken))
            {
                var held = ToUsd(nanos);
                return (true, BudgetUsage.Zero with { DayReserved = held, MonthReserved = held });
            }

            // Created concurrently by another call: now the patch will find it.
        }

        throw new CosmosConcurrencyException($"A budget document kept appearing and vanishing; gave up after {MaxAttempts} attempts.");
    }

    public async Task SettleAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal reserved, decimal actual, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(periods);
        _ = DayKey(periods);
        await db.EnsureReadyAsync(cancellationToken);
        await SettleNanosAsync(workspaceId, projectId, periods, ToNanosUp(actual), -ToNanosUp(reserved), cancellationToken);
    }

    /// <summary>One patch adding <paramref name="spentNanos"/> and <paramref name="reservedNanos"/> to both periods (creating the month when missing).</summary>
    private async Task SettleNanosAsync(string workspaceId, string projectId, BudgetPeriods periods, long spentNanos, long reservedNanos, CancellationToken cancellationToken)
    {
        var day = DayKey(periods);
        if (spentNanos == 0 && reservedNanos == 0)
        {
            return;
        }

        var id = Id(projectId, periods);
        var operations = new List<PatchOperation>(4);
        if (spentNanos != 0)
        {
            operations.Add(PatchOperation.Increment("/spent", spentNanos));
            operations.Add(PatchOperation.Increment($"/days/{day}/spent", spentNanos));
        }

        if (reservedNanos != 0)
        {
            operations.Add(PatchOperation.Increment("/reserved", reservedNanos));
            operations.Add(PatchOperation.Increment($"/days/{day}/reserved", reservedNanos));
        }

        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using (var response = await db.Workspaces.PatchItemStreamAsync(id, new PartitionKey(workspaceId), operations, cancellationToken: cancellationToken))
            {
                if (!CosmosStoreContext.IsMissingItem(response))
                {
                    response.EnsureSuccessStatusCode();
                    return;
                }
            }

            // Spend with no reservation this month (an unpriced reservation of 0 writes nothing): create it holding the spend.
            using var document = NewMonth(workspaceId, projectId, periods, day, spentNanos, reservedNanos);
            if (await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, workspaceId, cancellationToken))
            {
                return;
            }
        }

        throw new CosmosConcurrencyException($"A budget document kept appearing and vanishing; gave up after {MaxAttempts} attempts.");
    }

    public async Task SeedWorkspaceAsync(string workspaceId, BudgetPeriods periods, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(periods);
        _ = DayKey(periods); // validates the periods
        await db.EnsureReadyAsync(cancellationToken);
        await FlushSpendAsync(workspaceId, cancellationToken);
        var id = Id(WorkspaceBudget.LedgerId, periods);
        var (existing, _) = await CosmosItems.ReadAsync(db.Workspaces, id, workspaceId, cancellationToken);
        using (existing)
        {
            if (existing is not null)
            {
                return; // settlements keep it current
            }
        }

        // The projects' month documents, in this workspace's partition only (a management action, not the request path).
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type AND c.month = @month AND c.projectId != @workspace")
            .WithParameter("@ws", workspaceId).WithParameter("@type", Type).WithParameter("@month", periods.Month)
            .WithParameter("@workspace", WorkspaceBudget.LedgerId);
        var spentByDay = new Dictionary<string, long>(StringComparer.Ordinal);
        long monthSpent = 0;
        foreach (var document in await CosmosStoreContext.QueryAsync<JsonElement>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken))
        {
            monthSpent += CosmosItems.Int64(document, "spent");
            if (document.TryGetProperty("days", out var days) && days.ValueKind == JsonValueKind.Object)
            {
                foreach (var day in days.EnumerateObject())
                {
                    spentByDay[day.Name] = spentByDay.GetValueOrDefault(day.Name) + CosmosItems.Int64(day.Value, "spent");
                }
            }
        }

        // Created only if still absent: a settlement that created it first (409) already keeps it current.
        using var seeded = Month(workspaceId, WorkspaceBudget.LedgerId, periods, day => (spentByDay.GetValueOrDefault(day), 0), monthSpent, 0);
        await CosmosStoreContext.TryCreateAsync(db.Workspaces, seeded, workspaceId, cancellationToken);
    }

    public async Task<bool> TryClaimAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var id = CosmosIds.Key("alert", string.Create(CultureInfo.InvariantCulture, $"{projectId}:{period}:{thresholdPercent}"));
        using var document = Marker(id, AlertType, workspaceId, AlertTtlSeconds, ("projectId", projectId), ("period", period));
        return await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, workspaceId, cancellationToken);
    }

    public async Task ReleaseAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var id = CosmosIds.Key("alert", string.Create(CultureInfo.InvariantCulture, $"{projectId}:{period}:{thresholdPercent}"));
        await CosmosStoreContext.DeleteAsync(db.Workspaces, id, workspaceId, cancellationToken);
    }

    public async Task<bool> IsMarkedAsync(string period, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (document, _) = await CosmosItems.ReadAsync(db.Workspaces, CosmosIds.Key("closed", period), SystemPartition, cancellationToken);
        using (document)
        {
            return document is not null;
        }
    }

    public async Task ReleaseMarkAsync(string period, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        await CosmosStoreContext.DeleteAsync(db.Workspaces, CosmosIds.Key("closed", period), SystemPartition, cancellationToken);
    }

    public async Task<bool> TryMarkClosedAsync(string period, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        using var document = Marker(CosmosIds.Key("closed", period), ClosedType, SystemPartition, ttlSeconds: null, ("period", period));
        return await CosmosStoreContext.TryCreateAsync(db.Workspaces, document, SystemPartition, cancellationToken);
    }

    /// <summary>
    /// Makes a project's spend for one ended day what its traces cost (<paramref name="tracedUsd"/>, each call rounded up
    /// to a nano-dollar as a settle does) and releases what that day still holds reserved — calls that never settled
    /// because their instance stopped. The month's totals move by the same amounts, in the same conditional patch, which
    /// applies only if the day's numbers are still those read (a second run finds nothing to change). True when it changed something.
    /// </summary>
    internal async Task<bool> RepairDayAsync(string workspaceId, string projectId, BudgetPeriods periods, long tracedNanos, CancellationToken cancellationToken)
    {
        var day = DayKey(periods);
        var id = Id(projectId, periods);
        await FlushSpendAsync(workspaceId, projectId, periods);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var (document, _) = await CosmosItems.ReadAsync(db.Workspaces, id, workspaceId, cancellationToken);
            long spent, reserved;
            using (document)
            {
                if (document is null || !CosmosItems.IsType(document.RootElement, Type))
                {
                    if (tracedNanos == 0)
                    {
                        return false;
                    }

                    using var created = NewMonth(workspaceId, projectId, periods, day, tracedNanos, 0);
                    if (await CosmosStoreContext.TryCreateAsync(db.Workspaces, created, workspaceId, cancellationToken))
                    {
                        return true;
                    }

                    continue;
                }

                var entry = document.RootElement.GetProperty("days").GetProperty(day);
                (spent, reserved) = (CosmosItems.Int64(entry, "spent"), CosmosItems.Int64(entry, "reserved"));
            }

            if (spent == tracedNanos && reserved == 0)
            {
                return false;
            }

            var operations = new List<PatchOperation>(4);
            if (tracedNanos != spent)
            {
                operations.Add(PatchOperation.Increment("/spent", tracedNanos - spent));
                operations.Add(PatchOperation.Increment($"/days/{day}/spent", tracedNanos - spent));
            }

            if (reserved != 0)
            {
                operations.Add(PatchOperation.Increment("/reserved", -reserved));
                operations.Add(PatchOperation.Increment($"/days/{day}/reserved", -reserved));
            }

            var options = new PatchItemRequestOptions
            {
                FilterPredicate = string.Create(CultureInfo.InvariantCulture, $"from c where c.days['{day}'].spent = {spent} and c.days['{day}'].reserved = {reserved}"),
            };
            using var response = await db.Workspaces.PatchItemStreamAsync(id, new PartitionKey(workspaceId), operations, options, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            if (response.StatusCode != HttpStatusCode.PreconditionFailed && !CosmosStoreContext.IsMissingItem(response))
            {
                response.EnsureSuccessStatusCode();
            }
        }

        throw new CosmosConcurrencyException($"A budget day kept changing while it was reconciled; gave up after {MaxAttempts} attempts.");
    }

    /// <summary>A call's cost as a settle adds it: rounded up to a whole nano-dollar.</summary>
    internal static long SettledNanos(decimal usd) => ToNanosUp(usd);

    // ---- Documents ------------------------------------------------------------------------------------------

    private static string Id(string projectId, BudgetPeriods periods) => CosmosIds.Key("budget", projectId + ":" + periods.Month);

    /// <summary>The day's key inside the month's document: <c>dd</c>. The day must lie in the month.</summary>
    private static string DayKey(BudgetPeriods periods)
    {
        if (periods.Day.Length != 10 || !periods.Day.StartsWith(periods.Month + "-", StringComparison.Ordinal) || periods.Month.Length != 7)
        {
            throw new ArgumentException("The budget day must be a yyyy-MM-dd inside the yyyy-MM month.", nameof(periods));
        }

        return periods.Day[8..];
    }

    /// <summary>
    /// The conditional patch's predicate: each given limit as "spent + reserved + amount &lt;= limit", in integer literals.
    /// Null when no limit is given (the patch then always applies).
    /// </summary>
    internal static string? Predicate(string day, long amount, long? dailyLimit, long? monthlyLimit)
    {
        var conditions = new List<string>(2);
        if (monthlyLimit is { } month)
        {
            conditions.Add(string.Create(CultureInfo.InvariantCulture, $"c.spent + c.reserved + {amount} <= {month}"));
        }

        if (dailyLimit is { } daily)
        {
            conditions.Add(string.Create(CultureInfo.InvariantCulture, $"c.days['{day}'].spent + c.days['{day}'].reserved + {amount} <= {daily}"));
        }

        return conditions.Count == 0 ? null : "from c where " + string.Join(" and ", conditions);
    }

    private static MemoryStream NewMonth(string workspaceId, string projectId, BudgetPeriods periods, string today, long spent, long reserved) =>
        Month(workspaceId, projectId, periods, day => day == today ? (spent, reserved) : (0, 0), spent, reserved);

    /// <summary>A month's budget document with every day of the month present.</summary>
    private static MemoryStream Month(string workspaceId, string projectId, BudgetPeriods periods, Func<string, (long Spent, long Reserved)> day,
        long monthSpent, long monthReserved)
    {
        var month = DateTime.ParseExact(periods.Month, "yyyy-MM", CultureInfo.InvariantCulture);
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", Id(projectId, periods));
            writer.WriteString("type", Type);
            writer.WriteString("workspaceId", workspaceId);
            writer.WriteString("projectId", projectId);
            writer.WriteString("month", periods.Month);
            writer.WriteNumber("spent", monthSpent);
            writer.WriteNumber("reserved", monthReserved);
            writer.WriteStartObject("days");
            for (var d = 1; d <= DateTime.DaysInMonth(month.Year, month.Month); d++)
            {
                var key = d.ToString("00", CultureInfo.InvariantCulture);
                var (spent, reserved) = day(key);
                writer.WriteStartObject(key);
                writer.WriteNumber("spent", spent);
                writer.WriteNumber("reserved", reserved);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        stream.Position = 0;
        return stream;
    }

    private static MemoryStream Marker(string id, string type, string partition, int? ttlSeconds, params ReadOnlySpan<(string Name, string Value)> fields)
    {
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", type);
            writer.WriteString("workspaceId", partition);
            foreach (var (name, value) in fields)
            {
                writer.WriteString(name, value);
            }

            if (ttlSeconds is { } ttl)
            {
                writer.WriteNumber("ttl", ttl);
            }

            writer.WriteEndObject();
        }

        stream.Position = 0;
        return stream;
    }

    // ---- Usage ------------------------------------------------------------------------------------------------

    private async Task<BudgetUsage> ReadUsageAsync(string workspaceId, string id, string day, CancellationToken cancellationToken)
    {
        var (document, _) = await CosmosItems.ReadAsync(db.Workspaces, id, workspaceId, cancellationToken);
        using (document)
        {
            return document is null || !CosmosItems.IsType(document.RootElement, Type) ? BudgetUsage.Zero : Usage(document.RootElement, day);
        }
    }

    private static async Task<BudgetUsage?> UsageOfAsync(ResponseMessage response, string day, CancellationToken cancellationToken)
    {
        if (response.Content is null || (response.Content.CanSeek && response.Content.Length == 0))
        {
            return null;
        }

        using var document = await JsonDocument.ParseAsync(response.Content, cancellationToken: cancellationToken);
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("days", out _)
            ? Usage(document.RootElement, day)
            : null;
    }

    private static BudgetUsage Usage(JsonElement root, string day)
    {
        long daySpent = 0, dayReserved = 0;
        if (root.TryGetProperty("days", out var days) && days.ValueKind == JsonValueKind.Object && days.TryGetProperty(day, out var today))
        {
            daySpent = CosmosItems.Int64(today, "spent");
            dayReserved = CosmosItems.Int64(today, "reserved");
        }

        return new BudgetUsage(
            ToUsd(daySpent), ToUsd(Math.Max(0, dayReserved)),
            ToUsd(CosmosItems.Int64(root, "spent")), ToUsd(Math.Max(0, CosmosItems.Int64(root, "reserved"))));
    }

    private static bool FitsNanos(BudgetUsage usage, long amount, long? daily, long? monthly) =>
        (daily is not { } d || ToNanosUp(usage.DaySpent) + ToNanosUp(usage.DayReserved) + amount <= d)
        && (monthly is not { } m || ToNanosUp(usage.MonthSpent) + ToNanosUp(usage.MonthReserved) + amount <= m);

    // Reservations and spend round up (as in SQLite), so the held amount is never below the computed maximum; limits round down.
    private static long ToNanosUp(decimal usd) => (long)Math.Clamp(Math.Ceiling(usd * NanosPerUsd), -MaxNanos, MaxNanos);

    private static long ToNanosDown(decimal usd) => (long)Math.Clamp(Math.Floor(usd * NanosPerUsd), -MaxNanos, MaxNanos);

    private static decimal ToUsd(long nanos) => nanos / NanosPerUsd;
}
