using KillToken.Core.Analytics;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Budgets;

/// <summary>What one run of the close did.</summary>
public sealed record PeriodCloseResult(string Day, bool DayClosed, string? Month, bool MonthClosed);

/// <summary>
/// The one close job both hosts run (self-host: <c>PeriodCloseService</c> at UTC midnight and at start-up; Functions: the
/// timer). Counters are keyed by period, so alerts re-arm and fallback state clears by themselves at midnight; the close
/// marks the ended day (and, on the 1st, the month) exactly once, so it is safe to run twice. On the 1st it also sends
/// the ended month's digests (<see cref="MonthlyDigestJob"/>, at most once per person, workspace and month), and the
/// closes of the next days send the ones the mail server did not take.
/// </summary>
/// <remarks>
/// Where a store needs it (<see cref="IDayReconciler"/>: Cosmos DB), the close also reconciles every workspace's rollups
/// and budget spend with its traces for the day that ended a full day earlier — by then no call of that day can still be
/// settling (a call never outlives the provider timeout and its retries), so a repair never races a late write.
/// </remarks>
public sealed partial class PeriodCloseJob(IBudgetLedger ledger, MonthlyDigestJob digests, ILogger<PeriodCloseJob> logger,
    Ports.IWorkspaceStore? workspaces = null, IDayReconciler? reconciler = null) : IPeriodCloseJob
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

        if (dayClosed || monthClosed)
        {
            Log.Closed(logger, ended.Day, month is not null && monthClosed ? $" and the month {month}" : string.Empty);
        }
        else
        {
            Log.AlreadyClosed(logger, ended.Day);
        }
        await ReconcileAsync(BudgetPeriods.At(now.ToUniversalTime().AddDays(-2)).Day, cancellationToken);
        if (now.ToUniversalTime().Day <= MonthlyDigestJob.RetryDays)
        {
            // Every run of the month's first days, not only the one that closed the month: a run that stopped half-way
            // through the workspaces, or whose mail server was down, is finished by the next; the per-person markers keep
            // everyone else from a second mail, and a finished workspace costs one point read.
            await digests.SendPreviousMonthAsync(now, cancellationToken);
        }

        return new PeriodCloseResult(ended.Day, dayClosed, month, monthClosed);
    }

    private async Task ReconcileAsync(string day, CancellationToken cancellationToken)
    {
        if (reconciler is null || workspaces is null)
        {
            return;
        }

        await foreach (var workspace in workspaces.ListAllAsync(cancellationToken))
        {
            try
            {
                var result = await reconciler.ReconcileAsync(workspace.Id, day, cancellationToken);
                if (result.RollupRowsRepaired + result.BudgetsRepaired > 0)
                {
                    Log.Reconciled(logger, workspace.Id, day, result.RollupRowsRepaired, result.BudgetsRepaired);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One workspace's failure never stops the others; the next close does not retry this day.
                Log.ReconcileFailed(logger, workspace.Id, day, ex.GetType().Name);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Reconciled workspace {WorkspaceId} day {Day} with its traces: {Rows} rollup rows and {Budgets} budgets repaired")]
        public static partial void Reconciled(ILogger logger, string workspaceId, string day, int rows, int budgets);

        [LoggerMessage(EventId = 1203, Level = LogLevel.Error, Message = "Could not reconcile workspace {WorkspaceId} day {Day}: {ErrorType}")]
        public static partial void ReconcileFailed(ILogger logger, string workspaceId, string day, string errorType);

        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Daily close: closed the day {Day}{AndMonth} (UTC)")]
        public static partial void Closed(ILogger logger, string day, string andMonth);

        [LoggerMessage(EventId = 1204, Level = LogLevel.Debug, Message = "Daily close: the day {Day} was already closed")]
        public static partial void AlreadyClosed(ILogger logger, string day);
    }
}

/// <summary>Where no budget ledger exists there is nothing to close.</summary>
public sealed class NoOpPeriodCloseJob : IPeriodCloseJob
{
    public Task RunAsync(DateTimeOffset now, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
