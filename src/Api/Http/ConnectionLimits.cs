using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace KillToken.Api.Http;

/// <summary>
/// What the self-host's Kestrel allows a client's connection: header size and count (431 past them), how long the
/// headers may take to arrive and how slowly a body may trickle (both close the connection: one slow client must not
/// hold a connection and a thread's worth of buffers for minutes), and how long an idle keep-alive connection stays
/// open. Under Azure Functions the platform's front ends and the Functions host take the client's connection; the
/// worker applies only Kestrel's body limit (<see cref="ApplyBodySizeTo"/>).
/// </summary>
public sealed record ConnectionLimits
{
    /// <summary>Kestrel checks its timeouts on a one-second heartbeat; a body rate is measured after this grace.</summary>
    public static readonly TimeSpan BodyRateGracePeriod = TimeSpan.FromSeconds(5);

    /// <summary>Kestrel's own request-line limit; lowered with <see cref="MaxHeaderBytes"/> when that is smaller.</summary>
    private const int RequestLineBytes = 8 * 1024;

    public static ConnectionLimits Default { get; } = new();

    /// <summary>All request headers together (Kestrel's default).</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Header fields per request (Kestrel's default).</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>From the connection's first byte (or the previous response) to the end of the headers; Kestrel's is 30 s.</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The slowest body KillToken reads, after <see cref="BodyRateGracePeriod"/>; 0 = any rate (Kestrel's default).</summary>
    public int MinBodyBytesPerSecond { get; init; } = 240;

    /// <summary>An idle keep-alive connection is closed after this (Kestrel's default).</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(130);

    /// <summary>
    /// The most KILLTOKEN_MAX_BODY_BYTES may be, and Kestrel's own body limit. The handlers answer 413 request_too_large
    /// at KillToken's limit; Kestrel's stays at this ceiling, above it, because after that answer Kestrel discards the
    /// rest of the body (for at most a few seconds) so the client reads the 413 — a body over Kestrel's limit is cut off
    /// instead, and most clients, still sending, see a reset connection rather than the answer.
    /// </summary>
    public const long MaxBodyBytesCeiling = 64L * 1024 * 1024;

    /// <summary>Everything above, and Kestrel's body limit (<see cref="ApplyBodySizeTo"/>).</summary>
    public void ApplyTo(KestrelServerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ApplyBodySizeTo(limits);
        limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
        limits.MaxRequestLineSize = Math.Min(RequestLineBytes, MaxHeaderBytes);
        limits.MaxRequestHeaderCount = MaxHeaderCount;
        limits.RequestHeadersTimeout = HeadersTimeout;
        limits.MinRequestBodyDataRate = MinBodyBytesPerSecond > 0 ? new MinDataRate(MinBodyBytesPerSecond, BodyRateGracePeriod) : null;
        limits.KeepAliveTimeout = KeepAliveTimeout;
    }

    /// <summary>Kestrel's body limit at <see cref="MaxBodyBytesCeiling"/> (its default, 30 MB, is below what the setting allows).</summary>
    public static void ApplyBodySizeTo(KestrelServerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.MaxRequestBodySize = MaxBodyBytesCeiling;
    }

    public string Describe()
    {
        var bodyRate = MinBodyBytesPerSecond > 0
            ? string.Create(CultureInfo.InvariantCulture, $"bodies at {MinBodyBytesPerSecond} bytes/s or faster")
            : "bodies at any rate";
        return string.Create(CultureInfo.InvariantCulture,
            $"headers up to {MaxHeaderBytes} bytes and {MaxHeaderCount} fields, sent within {HeadersTimeout.TotalSeconds:0} s; {bodyRate}; idle connections closed after {KeepAliveTimeout.TotalSeconds:0} s");
    }
}
