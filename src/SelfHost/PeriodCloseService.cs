using KillToken.Core.Budgets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KillToken.SelfHost;

/// <summary>
/// The self-host's timer: runs the shared close job once at start-up (catching up on a midnight missed while the
/// gateway was down) and then at every UTC midnight, sleeping on the TimeProvider in between.
/// </summary>
internal sealed partial class PeriodCloseService(IPeriodCloseJob job, TimeProvider time, ILogger<PeriodCloseService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await job.RunAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.Failed(logger, ex.GetType().Name);
            }

            var now = time.GetUtcNow();
            var nextMidnight = new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
            try
            {
                await Task.Delay(nextMidnight - now + TimeSpan.FromSeconds(1), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "The period close failed: {ErrorType}; it runs again at the next midnight")]
        public static partial void Failed(ILogger logger, string errorType);
    }
}
