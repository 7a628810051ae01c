namespace KillToken.Core.Budgets;

/// <summary>
/// §6's scheduled work, run by the daily timer at 00:00 UTC. Closes the UTC day that just ended: budget alerts re-arm
/// and fallback state clears. On the 1st of a month it also closes the month and sends each workspace's monthly digest
/// to its owners and admins.
/// </summary>
/// <remarks>
/// Safe to run twice for the same instant (a timer retried, or two instances firing): closing an already closed
/// period and re-sending an already sent digest are no-ops. Counters are kept per UTC day and month, so a run that is
/// missed never leaves a project blocked; this job only tidies up after the fact.
/// </remarks>
public interface IPeriodCloseJob
{
    /// <param name="now">The run's instant (UTC); the periods that ended at or before it are closed.</param>
    /// <param name="cancellationToken">Stops the run; whatever was closed stays closed and the next run picks up the rest.</param>
    Task RunAsync(DateTimeOffset now, CancellationToken cancellationToken = default);
}
