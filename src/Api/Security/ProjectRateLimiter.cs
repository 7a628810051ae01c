using System.Globalization;
using System.Threading.RateLimiting;
using KillToken.Core.Gateway;

namespace KillToken.Api.Security;

/// <summary>
/// A project's request rate (<c>KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE</c>, bursts of <c>…_BURST</c>); 0 turns it off,
/// which is the default.
/// </summary>
public sealed record ProjectRateLimit(int PerMinute, int Burst)
{
    public static ProjectRateLimit Off { get; } = new(0, 0);

    public bool IsEnabled => PerMinute > 0;

    /// <summary>Without a burst setting a project may send six seconds' worth at once (at least one call).</summary>
    public static int DefaultBurst(int perMinute) => Math.Max(1, (perMinute + 9) / 10);

    public string Describe() => IsEnabled
        ? string.Create(CultureInfo.InvariantCulture, $"{PerMinute} requests a minute per project, bursts of {Burst} (counted by each instance)")
        : "no per-project request rate (KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE=0)";
}

/// <summary>
/// One token bucket per project id (framework rate limiters), so one tenant's flood is refused before it costs a store
/// write or a provider call and the others keep their share. The buckets live in this process: with several instances
/// (Functions scale-out) each counts its own share, so a project can reach the rate once per instance.
/// </summary>
public sealed class ProjectRateLimiter : IDisposable
{
    /// <summary>The shortest refill step (each busy project's bucket refills on its own timer).</summary>
    private static readonly TimeSpan ShortestPeriod = TimeSpan.FromMilliseconds(100);

    private readonly PartitionedRateLimiter<string>? _limiter;
    private readonly ProjectRateLimit _limit;

    public ProjectRateLimiter(ProjectRateLimit limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        _limit = limit;
        if (!limit.IsEnabled)
        {
            return;
        }

        // A whole number of tokens per step, and steps no shorter than 100 ms: the average is exactly PerMinute.
        var tokensPerPeriod = (int)Math.Ceiling(limit.PerMinute * ShortestPeriod.TotalMinutes);
        var period = TimeSpan.FromTicks(TimeSpan.FromMinutes(1).Ticks * tokensPerPeriod / limit.PerMinute);
        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, limit.Burst),
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _limiter = PartitionedRateLimiter.Create<string, string>(projectId => RateLimitPartition.GetTokenBucketLimiter(projectId, _ => options));
    }

    public bool IsEnabled => _limiter is not null;

    /// <summary>Takes one request's permit, or answers <c>429 rate_limited</c> with the seconds until one is free (≥ 1).</summary>
    public GatewayError? TryAcquire(string projectId)
    {
        if (_limiter is null)
        {
            return null;
        }

        using var lease = _limiter.AttemptAcquire(projectId);
        if (lease.IsAcquired)
        {
            return null;
        }

        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromMinutes(1) / _limit.PerMinute;
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        return new GatewayError(429, ErrorCodes.RateLimited, string.Create(CultureInfo.InvariantCulture,
            $"This project sends more than {_limit.PerMinute} requests a minute to this gateway; retry after {seconds} s."))
        {
            RetryAfterSeconds = seconds,
        };
    }

    public void Dispose() => _limiter?.Dispose();
}
