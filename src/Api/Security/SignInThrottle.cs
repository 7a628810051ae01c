using System.Threading.RateLimiting;

namespace KillToken.Api.Security;

/// <summary>
/// Failed sign-ins are rate limited per email and per client address (framework rate limiters): only failures
/// spend permits, so a person who types the right password is never slowed down.
/// </summary>
public sealed class SignInThrottle : IDisposable
{
    public const int FailuresPerEmail = 5;
    public const int FailuresPerAddress = 20;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private readonly PartitionedRateLimiter<string> _limiter;

    public SignInThrottle(TimeProvider time)
    {
        _ = time;
        _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, k => new FixedWindowRateLimiterOptions
        {
            PermitLimit = k.StartsWith("ip:", StringComparison.Ordinal) ? FailuresPerAddress : FailuresPerEmail,
            Window = Window,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public bool IsBlocked(string email, string? address) =>
        Available("email:" + email) <= 0 || (address is not null && Available("ip:" + address) <= 0);

    public void RecordFailure(string email, string? address)
    {
        using var byEmail = _limiter.AttemptAcquire("email:" + email);
        if (address is not null)
        {
            using var byAddress = _limiter.AttemptAcquire("ip:" + address);
        }
    }

    public void Dispose() => _limiter.Dispose();

    private long Available(string key) => _limiter.GetStatistics(key)?.CurrentAvailablePermits ?? 1;
}
