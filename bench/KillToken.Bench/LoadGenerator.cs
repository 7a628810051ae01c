using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace KillToken.Bench;

/// <summary>One sampled request: when the client sent it and had the whole answer, and the gateway's x-request-id.</summary>
internal readonly record struct RequestSample(long SentTicks, long DoneTicks, string RequestId);

/// <summary>One phase's outcome: latencies of the measured window (sorted, Stopwatch ticks) and the counts around them.</summary>
internal sealed record LoadResult
{
    public required string Target { get; init; }
    public required int Concurrency { get; init; }
    public required double MeasuredSeconds { get; init; }
    /// <summary>The fixed offered rate of the phase, or null for closed loop.</summary>
    public double? OfferedRps { get; init; }
    /// <summary>Successful requests that started and finished inside the measured window, sorted ascending.</summary>
    public required long[] LatencyTicks { get; init; }
    /// <summary>Time to the first byte of the body of the same requests, sorted ascending.</summary>
    public required long[] FirstByteTicks { get; init; }
    /// <summary>Failures (non-2xx or exception) inside the measured window.</summary>
    public required long Errors { get; init; }
    /// <summary>Every request of the phase that got an answer or failed, warm-up and stragglers included.</summary>
    public required long Sent { get; init; }
    public required long WarmupErrors { get; init; }
    public required IReadOnlyDictionary<string, long> ErrorKinds { get; init; }
    public required DateTimeOffset StartedUtc { get; init; }
    public required DateTimeOffset MeasureStartUtc { get; init; }
    public required DateTimeOffset MeasureEndUtc { get; init; }
    /// <summary>The Stopwatch timestamp taken together with <see cref="StartedUtc"/>, to put samples on the wall clock.</summary>
    public required long StartTimestamp { get; init; }
    /// <summary>Every n-th measured request that carried an <c>x-request-id</c> (gateway phases only).</summary>
    public required RequestSample[] Samples { get; init; }

    public DateTimeOffset ToUtc(long timestamp) => StartedUtc + Stopwatch.GetElapsedTime(StartTimestamp, timestamp);

    public long Ok => LatencyTicks.Length;
    public double Rps => Ok / MeasuredSeconds;
    public double P50Ms => Percentile(0.50);
    public double P90Ms => Percentile(0.90);
    public double P99Ms => Percentile(0.99);
    public double MaxMs => LatencyTicks.Length == 0 ? double.NaN : ToMs(LatencyTicks[^1]);
    public double MeanMs => LatencyTicks.Length == 0 ? double.NaN : ToMs((long)LatencyTicks.Average());
    public double FirstByteP50Ms => Percentile(FirstByteTicks, 0.50);
    public double FirstByteP99Ms => Percentile(FirstByteTicks, 0.99);

    /// <summary>Nearest-rank percentile in milliseconds.</summary>
    public double Percentile(double q) => Percentile(LatencyTicks, q);

    private static double Percentile(long[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return ToMs(sorted[Math.Clamp(rank, 0, sorted.Length - 1)]);
    }

    public static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> workers, each sending the next request as soon as the previous
/// one is fully read, over one <see cref="HttpClient"/> on one <see cref="SocketsHttpHandler"/> with a connection per
/// worker — the same for every target; only the URL, the bearer and a target's routing headers differ. Runs warm-up
/// then the measured window back to back; only requests that both start and finish inside the window count.
/// Latencies go into per-worker preallocated arrays (no locks, no allocation while measuring).
/// </summary>
internal static class LoadGenerator
{
    public static async Task<LoadResult> RunAsync(
        string target, Uri url, byte[] body, string bearer, IReadOnlyList<KeyValuePair<string, string>> headers, int concurrency, double? rate,
        TimeSpan warmup, TimeSpan duration, int sampleEvery, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

        // Room for ~60k req/s over the window; a worker that fills its array grows it (outside any timing).
        var perWorker = (int)Math.Min(int.MaxValue / 2, (duration.TotalSeconds * 60_000 / concurrency) + 1024);
        var workers = new Worker[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            workers[i] = new Worker(client, url, body, bearer, headers, perWorker, sampleEvery);
        }

        var startedUtc = DateTimeOffset.UtcNow;
        var start = Stopwatch.GetTimestamp();
        // At a fixed rate each connection sends every concurrency/rate seconds, the connections evenly staggered.
        var interval = rate is { } r ? (long)(concurrency / r * Stopwatch.Frequency) : 0L;
        var measureStart = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureStart + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var tasks = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            var worker = workers[i];
            var firstSend = start + (interval * i / concurrency);
            tasks[i] = Task.Run(() => worker.RunAsync(measureStart, end, interval, firstSend, cancellationToken), cancellationToken);
        }

        await Task.WhenAll(tasks);

        var total = workers.Sum(w => w.Count);
        var all = new long[total];
        var firstBytes = new long[total];
        var offset = 0;
        foreach (var worker in workers)
        {
            Array.Copy(worker.Latencies, 0, all, offset, worker.Count);
            Array.Copy(worker.FirstBytes, 0, firstBytes, offset, worker.Count);
            offset += worker.Count;
        }

        Array.Sort(all);
        Array.Sort(firstBytes);
        var kinds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var worker in workers)
        {
            foreach (var (kind, count) in worker.ErrorKinds)
            {
                kinds[kind] = kinds.GetValueOrDefault(kind) + count;
            }
        }

        return new LoadResult
        {
            Target = target,
            Concurrency = concurrency,
            MeasuredSeconds = duration.TotalSeconds,
            OfferedRps = rate,
            LatencyTicks = all,
            FirstByteTicks = firstBytes,
            Errors = workers.Sum(w => w.Errors),
            Sent = workers.Sum(w => w.Sent),
            WarmupErrors = workers.Sum(w => w.WarmupErrors),
            ErrorKinds = kinds,
            StartedUtc = startedUtc,
            MeasureStartUtc = startedUtc + warmup,
            MeasureEndUtc = startedUtc + warmup + duration,
            StartTimestamp = start,
            Samples = [.. workers.SelectMany(w => w.Samples)],
        };
    }

    private sealed class Worker(
        HttpClient client, Uri url, byte[] body, string bearer, IReadOnlyList<KeyValuePair<string, string>> headers, int capacity, int sampleEvery)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];

        public List<RequestSample> Samples { get; } = sampleEvery > 0 ? new(capacity / sampleEvery + 16) : [];

        public long[] Latencies { get; private set; } = new long[capacity];
        public long[] FirstBytes { get; private set; } = new long[capacity];
        public int Count { get; private set; }
        public long Errors { get; private set; }
        public long WarmupErrors { get; private set; }
        public long Sent { get; private set; }
        public Dictionary<string, long> ErrorKinds { get; } = new(StringComparer.Ordinal);

        public async Task RunAsync(long measureStart, long end, long interval, long nextSend, CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (interval > 0)
                {
                    // Fixed schedule: wait for this request's slot; a connection that fell behind sends at once.
                    var wait = nextSend - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
                    }

                    nextSend += interval;
                }

                var t0 = Stopwatch.GetTimestamp();
                if (t0 >= end)
                {
                    return;
                }

                string? failure = null;
                string? requestId = null;
                var firstByte = 0L;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, url)
                    {
                        Version = HttpVersion.Version11,
                        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                        Content = new ByteArrayContent(body),
                    };
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                    foreach (var (name, value) in headers)
                    {
                        request.Headers.TryAddWithoutValidation(name, value);
                    }
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                    await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
                    while (await stream.ReadAsync(_buffer, cancellationToken) > 0)
                    {
                        if (firstByte == 0)
                        {
                            firstByte = Stopwatch.GetTimestamp();
                        }
                    }

                    if (sampleEvery > 0 && t0 >= measureStart && Count % sampleEvery == 0 && response.Headers.TryGetValues("x-request-id", out var ids))
                    {
                        requestId = ids.FirstOrDefault();
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        failure = "HTTP " + ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    failure = ex.GetType().Name;
                }

                var t1 = Stopwatch.GetTimestamp();
                Sent++;
                var measured = t0 >= measureStart && t1 <= end;
                if (failure is not null)
                {
                    ErrorKinds[failure] = ErrorKinds.GetValueOrDefault(failure) + 1;
                    if (measured)
                    {
                        Errors++;
                    }
                    else
                    {
                        WarmupErrors++;
                    }
                }
                else if (measured)
                {
                    if (Count == Latencies.Length)
                    {
                        var grown = Latencies;
                        Array.Resize(ref grown, grown.Length * 2);
                        Latencies = grown;
                        var grownFirst = FirstBytes;
                        Array.Resize(ref grownFirst, grownFirst.Length * 2);
                        FirstBytes = grownFirst;
                    }

                    if (requestId is not null)
                    {
                        Samples.Add(new RequestSample(t0, t1, requestId));
                    }

                    FirstBytes[Count] = (firstByte == 0 ? t1 : firstByte) - t0;
                    Latencies[Count++] = t1 - t0;
                }
            }
        }
    }
}
