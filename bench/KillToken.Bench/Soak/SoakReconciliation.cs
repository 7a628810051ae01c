using System.Globalization;
using System.Text.Json.Nodes;

namespace KillToken.Soak;

/// <summary>One trace as the trace list returns it.</summary>
internal sealed record SoakTrace(string Id, int Status, string? ErrorCode, decimal? CostUsd);

/// <summary>
/// The run's calls against what the gateway stored: every answered call has exactly one trace (and no trace belongs to
/// no call), each trace's cost is the cost the call reported, and the rollups' request count and cost (<c>/v1/summary</c>)
/// are the traces' count and the calls' summed cost. A 401 for a key regenerated a moment earlier is answered but has no
/// project to be traced under, so it is expected to have none. Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed record SoakReconciliation(
    int Calls, int Answered, int Lost, int InvalidKey, int ExpectedTraces, int Traces, int DuplicateTraceIds,
    IReadOnlyList<string> MissingTraces, IReadOnlyList<string> UnexpectedTraces, IReadOnlyList<string> CostMismatches,
    decimal CallsCostUsd, decimal TracesCostUsd, long SummaryRequests, decimal SummaryCostUsd,
    IReadOnlyDictionary<string, (int Calls, decimal CostUsd)> ByOutcome, double DrainSeconds)
{
    /// <summary>Allowed difference between summed costs: the rollups add in their own units; a cent is 10,000× this.</summary>
    public const decimal CostTolerance = 0.000001m;

    public bool Passed => Failures.Count == 0;

    public IReadOnlyList<string> Failures
    {
        get
        {
            var failures = new List<string>();
            void Check(bool ok, string what)
            {
                if (!ok)
                {
                    failures.Add(what);
                }
            }

            Check(DuplicateTraceIds == 0, $"{DuplicateTraceIds} trace ids listed more than once");
            Check(MissingTraces.Count == 0, $"{MissingTraces.Count} answered calls without a trace (e.g. {string.Join(", ", MissingTraces.Take(5))})");
            Check(UnexpectedTraces.Count == 0, $"{UnexpectedTraces.Count} traces of no answered call (e.g. {string.Join(", ", UnexpectedTraces.Take(5))})");
            Check(CostMismatches.Count == 0, $"{CostMismatches.Count} traces whose cost is not the call's (e.g. {string.Join("; ", CostMismatches.Take(5))})");
            Check(Traces == ExpectedTraces, $"{Traces} traces for {ExpectedTraces} traced calls");
            Check(SummaryRequests == Traces, $"rollups count {SummaryRequests} requests, traces {Traces}");
            Check(Math.Abs(SummaryCostUsd - CallsCostUsd) <= CostTolerance, string.Create(CultureInfo.InvariantCulture,
                $"rollups' cost {SummaryCostUsd} USD, the calls' {CallsCostUsd} USD"));
            Check(Math.Abs(TracesCostUsd - CallsCostUsd) <= CostTolerance, string.Create(CultureInfo.InvariantCulture,
                $"traces' cost {TracesCostUsd} USD, the calls' {CallsCostUsd} USD"));
            return failures;
        }
    }

    /// <summary>
    /// Waits until the gateway's writes have drained (the rollups' request count stops moving and reaches the traced
    /// calls, at most <paramref name="drainTimeout"/>), then lists every trace of the workspace and reconciles.
    /// </summary>
    /// <param name="listTraces">Where the traces are read: by default the gateway's trace list (every page); on Cosmos
    /// the bench and test read the container itself (<see cref="SoakCosmosTraces"/>).</param>
    public static async Task<SoakReconciliation> RunAsync(HttpClient api, SoakTenant tenant, IReadOnlyCollection<SoakCall> calls, TimeSpan drainTimeout,
        Func<CancellationToken, Task<List<SoakTrace>>>? listTraces, CancellationToken cancellationToken)
    {
        var answered = calls.Where(c => c.RequestId is not null).ToList();
        var invalidKey = answered.Where(c => c.ErrorCode == "invalid_api_key").ToList();
        var traced = answered.Where(c => c.ErrorCode != "invalid_api_key").ToDictionary(c => c.RequestId!, StringComparer.Ordinal);

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var summary = await SummaryAsync(api, tenant, cancellationToken);
        var stableSince = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < drainTimeout)
        {
            await Task.Delay(500, cancellationToken);
            var next = await SummaryAsync(api, tenant, cancellationToken);
            if (next != summary)
            {
                summary = next;
                stableSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            else if (summary.Requests >= traced.Count && System.Diagnostics.Stopwatch.GetElapsedTime(stableSince) > TimeSpan.FromSeconds(2))
            {
                break;
            }
        }

        var drainSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        var traces = await (listTraces ?? (token => ListTracesAsync(api, tenant, token)))(cancellationToken);
        var seen = new Dictionary<string, SoakTrace>(StringComparer.Ordinal);
        var duplicates = 0;
        foreach (var trace in traces)
        {
            if (!seen.TryAdd(trace.Id, trace))
            {
                duplicates++;
            }
        }

        var missing = traced.Keys.Where(id => !seen.ContainsKey(id)).ToList();
        var unexpected = seen.Keys.Where(id => !traced.ContainsKey(id)).ToList();
        var mismatches = new List<string>();
        foreach (var (id, trace) in seen)
        {
            // A call that reported no cost (a refusal or an error before any usage) must not have been billed either.
            if (traced.TryGetValue(id, out var call) && (trace.CostUsd ?? 0m) != (call.CostUsd ?? 0m))
            {
                mismatches.Add(string.Create(CultureInfo.InvariantCulture, $"{id} {call.Kind}: call {call.CostUsd}, trace {trace.CostUsd}"));
            }
        }

        var byOutcome = calls
            .GroupBy(c => c.RequestId is null ? $"{c.Kind} lost" : $"{c.Kind} {c.Status}{(c.ErrorCode is null ? "" : " " + c.ErrorCode)}{(c.CacheStatus is "hit" ? " cache-hit" : "")}{(c.Idempotency is "replayed" ? " replayed" : "")}")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (g.Count(), g.Sum(c => c.CostUsd ?? 0m)), StringComparer.Ordinal);

        return new SoakReconciliation(
            calls.Count, answered.Count, calls.Count - answered.Count, invalidKey.Count, traced.Count, seen.Count, duplicates,
            missing, unexpected, mismatches,
            traced.Values.Sum(c => c.CostUsd ?? 0m), seen.Values.Sum(t => t.CostUsd ?? 0m), summary.Requests, summary.CostUsd,
            byOutcome, drainSeconds);
    }

    private static async Task<(long Requests, decimal CostUsd)> SummaryAsync(HttpClient api, SoakTenant tenant, CancellationToken cancellationToken)
    {
        var body = await SoakApi.SendAsync(api, HttpMethod.Get, "v1/summary", tenant.Steady.Key, null, 200, cancellationToken);
        var totals = body["totals"]!;
        return (totals["requests"]!.GetValue<long>(), totals["costUsd"]!.GetValue<decimal>());
    }

    /// <summary>Every trace of the workspace, page by page (the API's largest page), duplicates kept.</summary>
    public static async Task<List<SoakTrace>> ListTracesAsync(HttpClient api, SoakTenant tenant, CancellationToken cancellationToken)
    {
        var traces = new List<SoakTrace>();
        string? cursor = null;
        do
        {
            var path = $"api/workspaces/{tenant.WorkspaceId}/requests?limit=200" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await SoakApi.SendAsync(api, HttpMethod.Get, path, tenant.Session, null, 200, cancellationToken);
            foreach (var item in page["data"]!.AsArray())
            {
                traces.Add(new SoakTrace(
                    item!["id"]!.GetValue<string>(), item["status"]!.GetValue<int>(), item["errorCode"]?.ToString(),
                    item["costUsd"]?.GetValue<decimal>()));
            }

            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        return traces;
    }
}
