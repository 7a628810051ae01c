using KillToken.Core.Analytics;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Budgets;

/// <summary>What one run of the close did.</summary>
public sealed record PeriodCloseResult(string Day, bool DayClosed, string? Month, bool MonthClosed);

/// <summary>
/// The one close job both hosts run (self-host: <c>PeriodCloseService</c> at UTC midnight and at start-up; Functions: the
/// timer). Counters are keyed by period, so alerts re-arm and fallback state clears by themselves at midnight; the close
/// marks the ended day (and, on the 1st, the month) exactly once, so it is safe to run twice. On the 1st it also sends
/// the ended month's digests (<see cref="MonthlyDigestJob"/>, at most once per workspace and month).
/// </summary>
public sealed partial class PeriodCloseJob(IBudgetLedger ledger, MonthlyDigestJob digests, ILogger<PeriodCloseJob> logger) : IPeriodCloseJob
{
    public Task RunAsync(DateTimeOffset now, CancellationToken cancellationToken = default) => CloseAsync(now, cancellationToken);

    public async Task<PeriodCloseResult> CloseAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var ended = BudgetPeriods.At(now.ToUniversalTime().AddDays(-1));
        var dayClosed = await ledger.TryMarkClosedAsync("day:" + ended.Day, cancellationToken);
        string? month = null;
        var monthClosed = false;
        if (now.ToUniversalTime().Day == 1)
        {
            month = ended.Month;
            monthClosed = await ledger.TryMarkClosedAsync("month:" + month, cancellationToken);
        }

        Log.Closed(logger, ended.Day, dayClosed, month ?? "-", monthClosed);
        if (month is not null)
        {
            // Every run on the 1st, not only the one that closed the month: a run that stopped half-way through the
            // workspaces is finished by the next, and the per-workspace markers keep the others from a second mail.
            await digests.SendPreviousMonthAsync(now, cancellationToken);
        }

        return new PeriodCloseResult(ended.Day, dayClosed, month, monthClosed);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Period close: day {Day} closed now {DayClosed}; month {Month} closed now {MonthClosed}")]
        public static partial void Closed(ILogger logger, string day, bool dayClosed, string month, bool monthClosed);
    }
}

/// <summary>Where no budget ledger exists there is nothing to close.</summary>
public sealed class NoOpPeriodCloseJob : IPeriodCloseJob
{
    public Task RunAsync(DateTimeOffset now, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
