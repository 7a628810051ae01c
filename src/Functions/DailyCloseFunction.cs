using KillToken.Core.Budgets;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>
/// §6: at 00:00 UTC every day, close the day (and on the 1st the month, with its digests) through
/// <see cref="IPeriodCloseJob"/>. The job is safe to run twice, so a retried or past-due run needs no special case.
/// </summary>
public sealed class DailyCloseFunction(IPeriodCloseJob job, TimeProvider time)
{
    /// <summary>Six-field NCRONTAB (seconds first); Functions evaluates it in UTC.</summary>
    public const string Schedule = "0 0 0 * * *";

    [Function("DailyClose")]
    public Task Run([TimerTrigger(Schedule)] TimerInfo timer, FunctionContext context) =>
        job.RunAsync(time.GetUtcNow(), context.CancellationToken);
}
