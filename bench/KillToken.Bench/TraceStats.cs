using System.Globalization;
using System.Text.Json.Nodes;

namespace KillToken.Bench;

/// <summary>
/// What the gateway itself recorded for one phase, read back through <c>GET /v1/requests</c> (the API, not the file):
/// how many traces were written, and its own split of each request's time (latencyMs = handler start until the
/// answer was ready, before the trace write; providerLatencyMs = the upstream call; overheadMs = the difference).
/// </summary>
internal sealed record TraceStats(
    long Written, long InWindow, long Errors, double[] LatencyMs, double[] ProviderMs, double[] OverheadMs,
    IReadOnlyDictionary<string, TracePoint> ById)
{
    /// <summary>Page size: the API's maximum.</summary>
    private const int PageSize = 200;

    public static async Task<TraceStats> ReadAsync(HttpClient api, string apiKey, LoadResult phase, CancellationToken cancellationToken)
    {
        var from = Uri.EscapeDataString(phase.StartedUtc.AddSeconds(-1).ToString("O", CultureInfo.InvariantCulture));
        string? cursor = null;
        long written = 0, inWindow = 0, errors = 0;
        var latency = new List<double>();
        var provider = new List<double>();
        var overhead = new List<double>();
        var byId = new Dictionary<string, TracePoint>(StringComparer.Ordinal);
        do
        {
            var path = $"v1/requests?limit={PageSize}&from={from}" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var (status, body) = await Tenant.GetAsync(api, path, apiKey, cancellationToken);
            if (status != 200 || body?["data"] is not JsonArray data)
            {
                throw new InvalidOperationException($"GET /{path} answered {status}: {body?.ToJsonString()}");
            }

            foreach (var item in data)
            {
                var createdAt = DateTimeOffset.Parse(item!["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);
                if (createdAt < phase.StartedUtc)
                {
                    continue;
                }

                written++;
                if (item["status"]!.GetValue<int>() != 200)
                {
                    errors++;
                }

                if (createdAt >= phase.MeasureStartUtc && createdAt <= phase.MeasureEndUtc)
                {
                    inWindow++;
                    byId[item["id"]!.GetValue<string>()] = new TracePoint(createdAt, item["latencyMs"]!.GetValue<double>(), item["providerLatencyMs"]!.GetValue<double>());
                    latency.Add(item["latencyMs"]!.GetValue<double>());
                    provider.Add(item["providerLatencyMs"]!.GetValue<double>());
                    overhead.Add(item["overheadMs"]!.GetValue<double>());
                }
            }

            cursor = body["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        double[] Sorted(List<double> values)
        {
            var array = values.ToArray();
            Array.Sort(array);
            return array;
        }

        return new TraceStats(written, inWindow, errors, Sorted(latency), Sorted(provider), Sorted(overhead), byId);
    }

    public static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>One trace's timing: written at <see cref="CreatedAt"/>, just after the handler's <see cref="LatencyMs"/> ended.</summary>
internal readonly record struct TracePoint(DateTimeOffset CreatedAt, double LatencyMs, double ProviderMs);

/// <summary>
/// Where a gateway request's time went, from sampled client timings joined to the gateway's own traces by
/// <c>x-request-id</c> (both on this machine's wall clock):
/// before = client send → handler start (connection, Kestrel, routing, thread-pool queueing);
/// handler = the gateway's latencyMs, split into the upstream call and the rest (auth, credential, vault, parsing);
/// after = trace written → client has the last byte (the trace write through the store's write gate, response JSON, read).
/// </summary>
internal sealed record Breakdown(int Matched, double[] BeforeMs, double[] HandlerMs, double[] ProviderMs, double[] HandlerOtherMs, double[] AfterMs)
{
    public static Breakdown? From(LoadResult load, TraceStats? traces)
    {
        if (traces is null || load.Samples.Length == 0)
        {
            return null;
        }

        var before = new List<double>();
        var handler = new List<double>();
        var provider = new List<double>();
        var other = new List<double>();
        var after = new List<double>();
        foreach (var sample in load.Samples)
        {
            if (!traces.ById.TryGetValue(sample.RequestId, out var trace))
            {
                continue;
            }

            var sent = load.ToUtc(sample.SentTicks);
            var done = load.ToUtc(sample.DoneTicks);
            var handlerStart = trace.CreatedAt - TimeSpan.FromMilliseconds(trace.LatencyMs);
            before.Add((handlerStart - sent).TotalMilliseconds);
            handler.Add(trace.LatencyMs);
            provider.Add(trace.ProviderMs);
            other.Add(trace.LatencyMs - trace.ProviderMs);
            after.Add((done - trace.CreatedAt).TotalMilliseconds);
        }

        static double[] Sorted(List<double> values)
        {
            var array = values.ToArray();
            Array.Sort(array);
            return array;
        }

        return new Breakdown(before.Count, Sorted(before), Sorted(handler), Sorted(provider), Sorted(other), Sorted(after));
    }
}
