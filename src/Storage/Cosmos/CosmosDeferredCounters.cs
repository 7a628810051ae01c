using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// The counters a call adds to without holding anything — its rollup rows, and spend that gives back no reservation —
/// summed in memory and written every <see cref="CosmosStoreOptions.CounterFlushInterval"/> (one patch per document,
/// however many calls it summed), and once more when the host stops: both hosts dispose their services after the server
/// has drained its requests (<c>RunAsync</c> of the generic host), and disposing this writes what is still held.
/// <para>
/// What a crash can lose: the sums of the last interval (and of any write still failing) — never a trace, which is
/// written before the call is answered, and never a reservation, which is settled at once. The daily reconciliation
/// (<see cref="CosmosDayReconciler"/>, a full day after each day ends) sets every rollup row and counter of the day from
/// its traces, so until then reports and spend without limits are short by at most that window.
/// </para>
/// </summary>
internal sealed partial class CosmosDeferredCounters : IAsyncDisposable, IDisposable
{
    /// <summary>Sums of a day this long past its end are no longer retried: that day's reconciliation owns them.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromHours(12);

    private readonly CosmosUsageRollups _rollups;
    private readonly CosmosBudgetLedger _ledger;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private int _disposed;

    /// <param name="flushInterval"><see cref="CosmosStoreOptions.CounterFlushInterval"/>.</param>
    public CosmosDeferredCounters(CosmosUsageRollups rollups, CosmosBudgetLedger ledger, TimeSpan flushInterval, ILogger<CosmosDeferredCounters> logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(flushInterval, TimeSpan.Zero);
        (_rollups, _ledger, _logger) = (rollups, ledger, logger);
        // Wall-clock time, not the app's TimeProvider: this is plumbing, and a test's frozen clock must not stop it.
        _loop = Task.Run(() => FlushEveryAsync(flushInterval, _stopping.Token));
    }

    /// <summary>A call's rollup delta, for the next flush.</summary>
    public void AddRollups(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        _rollups.Add(trace.WorkspaceId, BudgetPeriods.At(trace.CreatedAt).Day, RollupDimensions.Of(trace), UsageDelta.From(trace));
    }

    /// <summary>Spend that gives back no reservation, for the next flush.</summary>
    public void AddSpend(string workspaceId, string ledgerId, BudgetPeriods periods, decimal actualUsd) =>
        _ledger.AddSpend(workspaceId, ledgerId, periods, actualUsd);

    /// <summary>Writes everything held now and waits for it (failed writes stay held for the next flush).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await _ledger.FlushSpendAsync(null, cancellationToken);
        await _rollups.FlushAsync(null, cancellationToken);
    }

    private async Task FlushEveryAsync(TimeSpan interval, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, stopping);
                await FlushAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The store is unreachable: the sums stay held and the next tick tries again.
                LogFlushFailed(_logger, ex.GetType().Name);
            }
        }
    }

    /// <summary>Stops the timer and writes what is still held: called by the host's disposal after the server stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _loop;
        try
        {
            await FlushAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogFlushFailed(_logger, ex.GetType().Name);
        }

        _stopping.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    [LoggerMessage(EventId = 4023, Level = LogLevel.Warning, Message = "Writing the counters held in memory failed ({ErrorType}); they are kept for the next flush")]
    private static partial void LogFlushFailed(ILogger logger, string errorType);
}
