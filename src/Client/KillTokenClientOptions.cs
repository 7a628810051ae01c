namespace KillToken.Client;

/// <summary>How a <see cref="KillTokenClient"/> sends its requests: timeouts, retries and the user agent.</summary>
public sealed class KillTokenClientOptions
{
    /// <summary>
    /// How long one attempt may take before it is abandoned (for a stream or a download: until the response begins).
    /// 100 seconds by default; <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// Retries after the first attempt of a call that is safe to repeat (reads, and <c>/v1/chat</c> with an idempotency
    /// key). 3 by default; 0 turns retries off.
    /// </summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first backoff when the gateway gave no <c>Retry-After</c>; doubled on each further retry. 0.8 s by default.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(0.8);

    /// <summary>
    /// The longest the client waits before a retry. A <c>Retry-After</c> longer than this (a spent daily budget answers
    /// with the hours until it resets) is not waited for: the call fails at once with
    /// <see cref="KillTokenRequestException.RetryAfter"/> set. 60 seconds by default.
    /// </summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Your application's name, put first in the <c>User-Agent</c> header (at most 24 characters, no spaces).</summary>
    public string? ApplicationId { get; set; }

    /// <summary>A copy checked for values the client cannot work with, so later changes to this instance do not affect a client.</summary>
    internal KillTokenClientOptions Validated()
    {
        if (NetworkTimeout <= TimeSpan.Zero && NetworkTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(NetworkTimeout), NetworkTimeout, "NetworkTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (MaxRetries is < 0 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, "MaxRetries must be from 0 to 10.");
        }

        if (RetryDelay < TimeSpan.Zero || MaxRetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RetryDelay and MaxRetryDelay must not be negative.");
        }

        if (ApplicationId is { } id && (id.Length > 24 || id.Any(char.IsWhiteSpace)))
        {
            throw new ArgumentException("ApplicationId must be at most 24 characters without spaces.", nameof(ApplicationId));
        }

        return new KillTokenClientOptions
        {
            NetworkTimeout = NetworkTimeout,
            MaxRetries = MaxRetries,
            RetryDelay = RetryDelay,
            MaxRetryDelay = MaxRetryDelay,
            ApplicationId = ApplicationId,
        };
    }
}
