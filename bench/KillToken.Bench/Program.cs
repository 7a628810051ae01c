using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Soak;

namespace KillToken.Bench;

/// <summary>
/// One load phase against one target, with what the machine and the loaded gateway did meanwhile (for a direct phase
/// the gateway figures are zero), and the CPU the other, idle, gateways used in the same time. The gateway's CPU runs
/// until it has settled after the load (<see cref="SettleMs"/>), so work it defers past the last answer counts too.
/// </summary>
internal sealed record Phase(
    LoadResult Load, double GatewayCpuMs, double SettleMs, double IdleGatewaysCpuMs, double BenchCpuMs, double MachineBusyPercent,
    long GatewayLogLines, long UpstreamCalls, TraceStats? Traces)
{
    public Breakdown? Breakdown { get; } = Breakdown.From(Load, Traces);

    /// <summary>Gateway CPU per request of the phase (warm-up included, as the CPU figure is).</summary>
    public double GatewayCpuUsPerRequest => Load.Sent == 0 ? double.NaN : GatewayCpuMs * 1000 / Load.Sent;
    public double BenchCpuUsPerRequest => Load.Sent == 0 ? double.NaN : BenchCpuMs * 1000 / Load.Sent;
    public double LogLinesPerRequest => Load.Sent == 0 ? 0 : (double)GatewayLogLines / Load.Sent;
}

/// <summary>One round at one concurrency: direct, then KillToken, then the peer, and both gateways' memory after it.</summary>
internal sealed record RoundLevel(int Round, int Concurrency, Phase Direct, Phase KillToken, Phase? Peer, ProcMemory KillTokenAfter, ProcMemory? PeerAfter);

internal static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--soak"))
        {
            return await SoakAsync(args);
        }

        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message + "\n\n" + Options.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            return await RunAsync(options, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("Cancelled.");
            return 130;
        }
    }

    private static async Task<int> RunAsync(Options options, CancellationToken cancellationToken)
    {
        var dll = options.GatewayDll ?? await EnsureGatewayBuiltAsync(options.Build, cancellationToken);
        Log($"gateway: {dll}");
        Log($"machine: {Environment.ProcessorCount} logical CPUs, {Environment.OSVersion}, .NET {Environment.Version}");

        await using var upstream = await FakeOpenAI.StartAsync();
        Log($"fake upstream: {upstream.BaseAddress}");
        await using var gateway = await GatewayProcess.StartAsync(dll, upstream.BaseAddress, options.GatewayEnvironment, cancellationToken);
        gateway.KeepData = options.KeepData;
        Log($"gateway pid {gateway.Pid} on {gateway.BaseAddress} (folder {gateway.RootDirectory})");
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            Log($"gateway env: {key}={value}");
        }

        await using var peer = await StartPeerAsync(options, gateway, cancellationToken);

        using var api = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var tenant = await Tenant.SetUpAsync(api, cancellationToken);
        Log($"tenant: workspace {tenant.WorkspaceId}, key {tenant.ApiKey[..14]}…");

        // The same bytes go to every target; the upstream ignores the extra "provider" field and Portkey drops it.
        var request = new JsonObject
        {
            ["provider"] = "openai",
            ["model"] = "gpt-4o-mini",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Say hello in one short sentence." }),
        };
        var probeBody = request.DeepClone().AsObject();
        if (options.Stream)
        {
            request["stream"] = true;
        }

        var body = Encoding.UTF8.GetBytes(request.ToJsonString());
        var directUrl = new Uri(upstream.BaseAddress, FakeOpenAI.ChatPath);
        var gatewayUrl = new Uri(gateway.BaseAddress, "v1/chat");
        const string UpstreamKey = "sk-bench-direct";
        var peerHeaders = PortkeyProcess.RouteHeaders(upstream.BaseAddress);

        // One checked request each way before any load.
        var probe = await Tenant.PostAsync(api, "v1/chat", tenant.ApiKey, probeBody, 200, cancellationToken);
        if (probe["response"]?["choices"] is null)
        {
            throw new InvalidOperationException("The gateway's answer has no provider body: " + probe.ToJsonString());
        }

        Log($"probe: 200, metrics {probe["metrics"]?.ToJsonString()}");
        if (peer is not null)
        {
            await ProbePeerAsync(peer, peerHeaders, UpstreamKey, probeBody, upstream, cancellationToken);
        }

        var idle = gateway.Memory();
        Log($"gateway idle after setup: VmRSS {Mb(idle.VmRssKb)} MB, VmHWM {Mb(idle.VmHwmKb)} MB, {idle.Threads} threads");
        var peerIdle = peer?.Memory();
        if (peerIdle is not null)
        {
            Log($"portkey idle after probe: VmRSS {Mb(peerIdle.VmRssKb)} MB, VmHWM {Mb(peerIdle.VmHwmKb)} MB, {peerIdle.Threads} threads");
        }

        // Other work on the machine skews everything; say how much there was just before the load.
        var quiet0 = MachineCpu.Read();
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        var backgroundBusy = MachineCpu.Read().BusyPercentSince(quiet0);
        Log(string.Create(Inv, $"machine CPU busy before load (2 s, nothing of ours running): {backgroundBusy:0}%"));

        var warmup = TimeSpan.FromSeconds(options.WarmupSeconds);
        var processes = peer is null ? new MeasuredProcess[] { gateway } : [gateway, peer];
        var rounds = new List<RoundLevel>();
        var levels = (options.NoSequential ? new[] { options.Concurrency } : [1, options.Concurrency]).Distinct().ToArray();
        // Interleaved: every round runs every target at every level, so a slow patch of the shared machine lands on
        // all of them rather than on one; each phase has its own fresh connections and the same warm-up.
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var c in levels)
            {
                var seconds = TimeSpan.FromSeconds(c == 1 ? options.SequentialSeconds ?? options.Seconds : options.Seconds);
                var rate = c == 1 ? null : options.Rate;
                var shape = new PhaseShape(round, c, rate, body, warmup, seconds);
                var direct = await RunPhaseAsync("direct", shape, directUrl, UpstreamKey, [], null, processes, upstream, null, cancellationToken);
                var through = await RunPhaseAsync("gateway", shape, gatewayUrl, tenant.ApiKey, [], gateway, processes, upstream, (api, tenant.ApiKey), cancellationToken);
                var viaPeer = peer is null
                    ? null
                    : await RunPhaseAsync(peer.Name, shape, peer.ChatUrl, UpstreamKey, peerHeaders, peer, processes, upstream, null, cancellationToken);
                rounds.Add(new RoundLevel(round, c, direct, through, viaPeer, gateway.Memory(), peer?.Memory()));
            }
        }

        // Traces: the newest one is readable with the project key.
        var (traceStatus, traceBody) = await Tenant.GetAsync(api, "v1/requests?limit=1", tenant.ApiKey, cancellationToken);
        var latest = traceBody?["data"] is JsonArray { Count: > 0 } items ? items[0] : null;
        var tracesOk = traceStatus == 200 && latest is not null;
        var end = gateway.Memory();
        var peerEnd = peer?.Memory();

        Print(options, rounds, idle, end, peerEnd, traceStatus, latest, tracesOk, gateway, peer, backgroundBusy);
        if (peer is not null)
        {
            var report = new ComparisonReport(options, rounds, end, peerEnd!, backgroundBusy, await RunInfo.CollectAsync(peer, cancellationToken));
            Console.WriteLine();
            Console.Write(report.Table());
            var path = report.Write(Path.Combine(FindRepoRoot(), "bench", "results"));
            Log($"table written to {path}");
        }

        Console.WriteLine(Json(options, rounds, idle, end, peerEnd, tracesOk, latest, backgroundBusy, peer).ToJsonString());
        var errorsOk = rounds.All(r => r.Direct.Load.Errors == 0 && r.KillToken.Load.Errors == 0 && (r.Peer?.Load.Errors ?? 0) == 0);
        var peerReachedUpstream = rounds.All(r => r.Peer is null || r.Peer.UpstreamCalls >= r.Peer.Load.Ok);
        if (!peerReachedUpstream)
        {
            Log("portkey: fewer upstream calls than answered requests in some phase — it did not call the fake for every answer");
        }

        return tracesOk && errorsOk && peerReachedUpstream ? 0 : 1;
    }

    /// <summary>The peer for this run, or null: Portkey unless --peer none, or node is missing and it was not asked for.</summary>
    private static async Task<PortkeyProcess?> StartPeerAsync(Options options, GatewayProcess gateway, CancellationToken cancellationToken)
    {
        if (options.Peer == PeerChoice.None)
        {
            Log("peer: none (--peer none)");
            return null;
        }

        if (options.Peer == PeerChoice.Auto && !OnPath("node"))
        {
            Log("peer: none — node is not on PATH (install Node.js 20+ for the Portkey comparison, or pass --peer none to silence this)");
            return null;
        }

        var directory = Path.Combine(FindRepoRoot(), "bench", "portkey");
        var peer = await PortkeyProcess.StartAsync(directory, Path.Combine(gateway.RootDirectory, "portkey.log"), cancellationToken);
        Log($"portkey {peer.Version} (node {peer.NodeVersion}) pid {peer.Pid} on {peer.BaseAddress}, headless, log {peer.LogPath}");
        return peer;
    }

    /// <summary>One non-streamed call through Portkey that must be the fake's answer and must have reached the fake.</summary>
    private static async Task ProbePeerAsync(
        PortkeyProcess peer, IReadOnlyList<KeyValuePair<string, string>> headers, string bearer, JsonObject body, FakeOpenAI upstream,
        CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, peer.ChatUrl)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var calls0 = upstream.ChatCalls;
        using var response = await client.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode || JsonNode.Parse(text)?["choices"] is null || upstream.ChatCalls != calls0 + 1)
        {
            throw new InvalidOperationException(string.Create(Inv,
                $"Portkey's probe: {(int)response.StatusCode}, upstream calls +{upstream.ChatCalls - calls0}: {text}\n{peer.LogTail(20)}"));
        }

        Log($"portkey probe: 200, the fake's answer, upstream called once");
    }

    private static bool OnPath(string file) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, file)));

    /// <summary>What every target of one round and level shares: the request bytes, the load's shape and its timing.</summary>
    private sealed record PhaseShape(int Round, int Concurrency, double? Rate, byte[] Body, TimeSpan Warmup, TimeSpan Seconds);

    private static async Task<Phase> RunPhaseAsync(
        string target, PhaseShape shape, Uri url, string bearer, IReadOnlyList<KeyValuePair<string, string>> headers, MeasuredProcess? loaded,
        IReadOnlyList<MeasuredProcess> processes, FakeOpenAI upstream, (HttpClient Api, string Key)? traces, CancellationToken cancellationToken)
    {
        var (round, concurrency, rate, body, warmup, seconds) = shape;
        Log($"round {round}: {target} C={concurrency}{(rate is { } r ? string.Create(Inv, $" at {r:0} req/s offered") : "")}, {warmup.TotalSeconds:0.#} s warm-up + {seconds.TotalSeconds:0.#} s …");
        var self = Process.GetCurrentProcess();
        var cpu0 = processes.Select(p => p.CpuTime()).ToArray();
        var benchCpu0 = self.TotalProcessorTime;
        var machine0 = MachineCpu.Read();
        var logs0 = loaded?.LogLines() ?? 0;
        var calls0 = upstream.ChatCalls;

        // KillToken phases keep every 8th request's x-request-id to join with its trace afterwards.
        var load = await LoadGenerator.RunAsync(target, url, body, bearer, headers, concurrency, rate, warmup, seconds, traces is null ? 0 : 8, cancellationToken);
        if (processes.FirstOrDefault(p => p.HasExited) is { } exited)
        {
            throw new InvalidOperationException($"The {exited.Name} process exited during the {target} C={concurrency} phase (killed from outside?):\n{exited.LogTail(20)}");
        }

        var settle = loaded is null ? TimeSpan.Zero : await SettleAsync(loaded, cancellationToken);
        var cpu = processes.Select((p, i) => (p, Ms: (p.CpuTime() - cpu0[i]).TotalMilliseconds)).ToArray();
        var loadedCpu = cpu.Where(x => x.p == loaded).Sum(x => x.Ms);
        var idleCpu = cpu.Where(x => x.p != loaded).Sum(x => x.Ms);
        self.Refresh();
        var benchCpu = (self.TotalProcessorTime - benchCpu0).TotalMilliseconds;
        var busy = MachineCpu.Read().BusyPercentSince(machine0);
        var logs = (loaded?.LogLines() ?? 0) - logs0;
        var calls = upstream.ChatCalls - calls0;
        var stats = traces is { } t ? await TraceStats.ReadAsync(t.Api, t.Key, load, cancellationToken) : null;
        var phase = new Phase(load, loadedCpu, settle.TotalMilliseconds, idleCpu, benchCpu, busy, logs, calls, stats);
        Log(string.Create(Inv, $"     {load.Ok} ok in window, {load.Errors} errors, p50 {load.P50Ms:0.000} ms, p99 {load.P99Ms:0.000} ms, {load.Rps:0} req/s, machine CPU {busy:0}% busy, settled in {settle.TotalSeconds:0.0} s"));
        return phase;
    }

    /// <summary>
    /// Waits until the loaded gateway is idle again (under 5% of a core for 200 ms; at most 10 s): work it put off
    /// until after the last answer (KillToken's rollup catch-up, say) is its cost too, and must not run on into the
    /// next target's phase.
    /// </summary>
    private static async Task<TimeSpan> SettleAsync(MeasuredProcess loaded, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var interval = TimeSpan.FromMilliseconds(200);
        while (Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(10))
        {
            var before = loaded.CpuTime();
            await Task.Delay(interval, cancellationToken);
            if (loaded.CpuTime() - before < interval * 0.05)
            {
                break;
            }
        }

        return Stopwatch.GetElapsedTime(start);
    }

    private static void Print(Options options, List<RoundLevel> rounds, ProcMemory idle, ProcMemory end, ProcMemory? peerEnd,
        int traceStatus, JsonNode? latest, bool tracesOk, GatewayProcess gateway, PortkeyProcess? peer, double backgroundBusy)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"== KillToken gateway overhead{(peer is null ? "" : " beside Portkey")}: {options.Rounds} round(s), {options.Seconds:0.#} s measured per phase ({options.WarmupSeconds:0.#} s warm-up), instant fake OpenAI upstream, {Environment.ProcessorCount} CPUs, {backgroundBusy:0}% busy before load =="));
        foreach (var level in rounds)
        {
            var d = level.Direct.Load;
            var g = level.KillToken.Load;
            var p = level.Peer?.Load;
            string Row(string label, Func<LoadResult, double> figure, string format)
            {
                var line = $"  {label,-18}{figure(d).ToString(format, Inv),10}   {figure(g).ToString(format, Inv),10}   {(figure(g) - figure(d)).ToString(format, Inv),10}";
                return p is null ? line : line + $"   {figure(p).ToString(format, Inv),10}   {(figure(p) - figure(d)).ToString(format, Inv),10}";
            }

            sb.AppendLine();
            sb.AppendLine(string.Create(Inv, $"round {level.Round}, C={level.Concurrency}{(d.OfferedRps is { } offered ? $" at {offered:0} req/s offered" : "")} ({d.MeasuredSeconds:0.#} s)   direct  killtoken      added{(p is null ? "" : "      portkey      added")}"));
            sb.AppendLine(Row("p50 ms", l => l.P50Ms, "0.000"));
            sb.AppendLine(Row("p90 ms", l => l.P90Ms, "0.000"));
            sb.AppendLine(Row("p99 ms", l => l.P99Ms, "0.000"));
            sb.AppendLine(Row("max ms", l => l.MaxMs, "0.000"));
            if (options.Stream)
            {
                sb.AppendLine(Row("first byte p50 ms", l => l.FirstByteP50Ms, "0.000"));
                sb.AppendLine(Row("first byte p99 ms", l => l.FirstByteP99Ms, "0.000"));
            }

            sb.AppendLine(string.Create(Inv, $"  throughput req/s  {d.Rps,10:0}   {g.Rps,10:0}   {(d.Rps == 0 ? double.NaN : g.Rps / d.Rps),10:0.00}x{(p is null ? "" : $"   {p.Rps,10:0}   {(d.Rps == 0 ? double.NaN : p.Rps / d.Rps),10:0.00}x")}"));
            sb.AppendLine(string.Create(Inv, $"  ok / errors       {d.Ok,6} / {d.Errors,-3}  {g.Ok,6} / {g.Errors,-3}{(p is null ? "" : $"               {p.Ok,6} / {p.Errors,-3}")}{ErrorKinds(d, g, p)}"));
            sb.AppendLine(string.Create(Inv, $"  machine CPU busy  {level.Direct.MachineBusyPercent,9:0}%   {level.KillToken.MachineBusyPercent,9:0}%{(level.Peer is { } bp ? $"                {bp.MachineBusyPercent,9:0}%" : "")}"));
            sb.AppendLine(string.Create(Inv, $"  bench CPU us/req  {level.Direct.BenchCpuUsPerRequest,10:0}   {level.KillToken.BenchCpuUsPerRequest,10:0}{(level.Peer is { } bc ? $"                {bc.BenchCpuUsPerRequest,10:0}" : "")}   (load generator + fake upstream)"));
            sb.AppendLine(string.Create(Inv, $"  gateway CPU us/req             {level.KillToken.GatewayCpuUsPerRequest,10:0}{(level.Peer is { } pc ? $"                {pc.GatewayCpuUsPerRequest,10:0}" : "")}   (the loaded gateway's process, warm-up and settling included)"));
            sb.AppendLine(string.Create(Inv, $"  settled after load ms          {level.KillToken.SettleMs,10:0}{(level.Peer is { } ps ? $"                {ps.SettleMs,10:0}" : "")}   (until under 5% of a core; the CPU above runs to here)"));
            sb.AppendLine(string.Create(Inv, $"  idle gateway CPU ms            {level.KillToken.IdleGatewaysCpuMs,10:0}{(level.Peer is { } pi ? $"                {pi.IdleGatewaysCpuMs,10:0}" : "")}   (the other gateway meanwhile)"));
            sb.AppendLine(string.Create(Inv, $"  gateway log lines/req          {level.KillToken.LogLinesPerRequest,10:0.00}{(level.Peer is { } pl ? $"                {pl.LogLinesPerRequest,10:0.00}" : "")}"));
            sb.AppendLine(string.Create(Inv, $"  upstream calls                 {level.KillToken.UpstreamCalls,10}{(level.Peer is { } pu ? $"                {pu.UpstreamCalls,10}" : "")}   (requests sent: {g.Sent}{(p is null ? "" : $" / {p.Sent}")})"));
            if (level.KillToken.Traces is { } t)
            {
                sb.AppendLine(string.Create(Inv, $"  KillToken traces written       {t.Written,10}   (non-200: {t.Errors})"));
                sb.AppendLine(string.Create(Inv, $"  KillToken's own split, {t.InWindow} traces in window (ms)   p50       p99"));
                sb.AppendLine(string.Create(Inv, $"    latencyMs (handler, before trace write)   {TraceStats.Percentile(t.LatencyMs, 0.5),8:0.000}  {TraceStats.Percentile(t.LatencyMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    providerLatencyMs (upstream call)         {TraceStats.Percentile(t.ProviderMs, 0.5),8:0.000}  {TraceStats.Percentile(t.ProviderMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    overheadMs (= latency - provider)         {TraceStats.Percentile(t.OverheadMs, 0.5),8:0.000}  {TraceStats.Percentile(t.OverheadMs, 0.99),8:0.000}"));
            }

            if (level.KillToken.Breakdown is { Matched: > 0 } b)
            {
                sb.AppendLine(string.Create(Inv, $"  where KillToken's time goes: {b.Matched} sampled requests joined to their traces by x-request-id (ms)   p50       p99"));
                sb.AppendLine(string.Create(Inv, $"    before handler (connect, Kestrel, routing, queueing)      {P(b.BeforeMs, 0.5),8:0.000}  {P(b.BeforeMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    handler total (latencyMs)                                 {P(b.HandlerMs, 0.5),8:0.000}  {P(b.HandlerMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"      of which upstream call (providerLatencyMs)              {P(b.ProviderMs, 0.5),8:0.000}  {P(b.ProviderMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"      of which the rest (auth, credential, vault, parse)      {P(b.HandlerOtherMs, 0.5),8:0.000}  {P(b.HandlerOtherMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    after handler (trace write + write gate, JSON out, read)  {P(b.AfterMs, 0.5),8:0.000}  {P(b.AfterMs, 0.99),8:0.000}"));
            }

            sb.AppendLine(string.Create(Inv, $"  memory after: KillToken VmHWM {Mb(level.KillTokenAfter.VmHwmKb)} MB, VmRSS {Mb(level.KillTokenAfter.VmRssKb)} MB, {level.KillTokenAfter.Threads} threads{(level.PeerAfter is { } pm ? $"; Portkey VmHWM {Mb(pm.VmHwmKb)} MB, VmRSS {Mb(pm.VmRssKb)} MB, {pm.Threads} threads" : "")}"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"gateway memory: peak VmHWM {Mb(end.VmHwmKb)} MB, VmRSS at end {Mb(end.VmRssKb)} MB (idle after setup: VmRSS {Mb(idle.VmRssKb)} MB), {end.Threads} threads"));
        if (peerEnd is not null)
        {
            sb.AppendLine(string.Create(Inv, $"portkey memory: peak VmHWM {Mb(peerEnd.VmHwmKb)} MB, VmRSS at end {Mb(peerEnd.VmRssKb)} MB, {peerEnd.Threads} threads"));
        }

        sb.AppendLine(string.Create(Inv, $"gateway log: {gateway.LogLines()} lines in {gateway.LogPath}"));
        if (peer is not null)
        {
            sb.AppendLine(string.Create(Inv, $"portkey log: {peer.LogLines()} lines in {peer.LogPath}"));
        }

        sb.AppendLine(tracesOk
            ? $"traces: OK (GET /v1/requests?limit=1 -> {traceStatus}, newest {latest!["id"]} status {latest["status"]} latencyMs {latest["latencyMs"]})"
            : $"traces: FAILED (GET /v1/requests?limit=1 -> {traceStatus}, no data)");
        Console.Write(sb.ToString());
    }

    private static double P(double[] sorted, double q) => TraceStats.Percentile(sorted, q);

    private static string ErrorKinds(LoadResult d, LoadResult g, LoadResult? p)
    {
        var kinds = d.ErrorKinds.Select(k => $"direct {k.Key} x{k.Value}")
            .Concat(g.ErrorKinds.Select(k => $"killtoken {k.Key} x{k.Value}"))
            .Concat(p?.ErrorKinds.Select(k => $"portkey {k.Key} x{k.Value}") ?? [])
            .ToList();
        return kinds.Count == 0 ? "" : "  [" + string.Join(", ", kinds) + "]";
    }

    private static JsonObject Json(Options options, List<RoundLevel> rounds, ProcMemory idle, ProcMemory end, ProcMemory? peerEnd,
        bool tracesOk, JsonNode? latest, double backgroundBusy, PortkeyProcess? peer)
    {
        static double R(double value) => double.IsFinite(value) ? Math.Round(value, 3) : -1;
        static JsonObject Side(Phase p)
        {
            var l = p.Load;
            var side = new JsonObject
            {
                ["p50Ms"] = R(l.P50Ms),
                ["p90Ms"] = R(l.P90Ms),
                ["p99Ms"] = R(l.P99Ms),
                ["maxMs"] = R(l.MaxMs),
                ["firstByteP50Ms"] = R(l.FirstByteP50Ms),
                ["firstByteP99Ms"] = R(l.FirstByteP99Ms),
                ["rps"] = R(l.Rps),
                ["ok"] = l.Ok,
                ["errors"] = l.Errors,
                ["sent"] = l.Sent,
                ["machineBusyPct"] = R(p.MachineBusyPercent),
                ["benchCpuUsPerReq"] = R(p.BenchCpuUsPerRequest),
            };
            if (l.Target != "direct")
            {
                side["gatewayCpuUsPerReq"] = R(p.GatewayCpuUsPerRequest);
                side["settleMs"] = R(p.SettleMs);
                side["idleGatewaysCpuMs"] = R(p.IdleGatewaysCpuMs);
                side["gatewayLogLinesPerReq"] = R(p.LogLinesPerRequest);
                side["upstreamCalls"] = p.UpstreamCalls;
                if (p.Traces is { } t)
                {
                    side["tracesWritten"] = t.Written;
                    side["traceLatencyP50Ms"] = R(TraceStats.Percentile(t.LatencyMs, 0.5));
                    side["traceLatencyP99Ms"] = R(TraceStats.Percentile(t.LatencyMs, 0.99));
                    side["traceProviderP50Ms"] = R(TraceStats.Percentile(t.ProviderMs, 0.5));
                    side["traceOverheadP50Ms"] = R(TraceStats.Percentile(t.OverheadMs, 0.5));
                    side["traceOverheadP99Ms"] = R(TraceStats.Percentile(t.OverheadMs, 0.99));
                }

                if (p.Breakdown is { Matched: > 0 } b)
                {
                    side["breakdown"] = new JsonObject
                    {
                        ["sampled"] = b.Matched,
                        ["beforeHandlerP50Ms"] = R(TraceStats.Percentile(b.BeforeMs, 0.5)),
                        ["beforeHandlerP99Ms"] = R(TraceStats.Percentile(b.BeforeMs, 0.99)),
                        ["handlerP50Ms"] = R(TraceStats.Percentile(b.HandlerMs, 0.5)),
                        ["handlerP99Ms"] = R(TraceStats.Percentile(b.HandlerMs, 0.99)),
                        ["handlerUpstreamP50Ms"] = R(TraceStats.Percentile(b.ProviderMs, 0.5)),
                        ["handlerOtherP50Ms"] = R(TraceStats.Percentile(b.HandlerOtherMs, 0.5)),
                        ["afterHandlerP50Ms"] = R(TraceStats.Percentile(b.AfterMs, 0.5)),
                        ["afterHandlerP99Ms"] = R(TraceStats.Percentile(b.AfterMs, 0.99)),
                    };
                }
            }

            return side;
        }

        var runs = new JsonArray();
        foreach (var level in rounds)
        {
            var (direct, through) = (level.Direct, level.KillToken);
            var run = new JsonObject
            {
                ["round"] = level.Round,
                ["concurrency"] = level.Concurrency,
                ["offeredRps"] = direct.Load.OfferedRps,
                ["seconds"] = direct.Load.MeasuredSeconds,
                ["direct"] = Side(direct),
                ["gateway"] = Side(through),
                ["addedP50Ms"] = R(through.Load.P50Ms - direct.Load.P50Ms),
                ["addedP99Ms"] = R(through.Load.P99Ms - direct.Load.P99Ms),
                ["throughputRatio"] = R(direct.Load.Rps == 0 ? double.NaN : through.Load.Rps / direct.Load.Rps),
                ["gatewayVmHwmKbAfter"] = level.KillTokenAfter.VmHwmKb,
            };
            if (level.Peer is { } viaPeer)
            {
                run["portkey"] = Side(viaPeer);
                run["portkeyAddedP50Ms"] = R(viaPeer.Load.P50Ms - direct.Load.P50Ms);
                run["portkeyAddedP99Ms"] = R(viaPeer.Load.P99Ms - direct.Load.P99Ms);
                run["portkeyVmHwmKbAfter"] = level.PeerAfter?.VmHwmKb;
            }

            runs.Add(run);
        }

        var env = new JsonObject();
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            env[key] = value;
        }

        var json = new JsonObject
        {
            ["bench"] = "killtoken-gateway-overhead",
            ["utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv),
            ["cpus"] = Environment.ProcessorCount,
            ["machineBusyBeforeLoadPct"] = R(backgroundBusy),
            ["warmupSeconds"] = options.WarmupSeconds,
            ["rounds"] = options.Rounds,
            ["gatewayEnv"] = env,
            ["runs"] = runs,
            ["gatewayMemory"] = new JsonObject
            {
                ["vmHwmKb"] = end.VmHwmKb,
                ["vmRssEndKb"] = end.VmRssKb,
                ["vmRssIdleKb"] = idle.VmRssKb,
                ["threadsEnd"] = end.Threads,
            },
            ["traces"] = new JsonObject { ["ok"] = tracesOk, ["newestId"] = latest?["id"]?.DeepClone() },
        };
        if (peer is not null && peerEnd is not null)
        {
            json["portkey"] = new JsonObject
            {
                ["version"] = peer.Version,
                ["node"] = peer.NodeVersion,
                ["vmHwmKb"] = peerEnd.VmHwmKb,
                ["vmRssEndKb"] = peerEnd.VmRssKb,
                ["threadsEnd"] = peerEnd.Threads,
            };
        }

        return json;
    }

    private static async Task<int> SoakAsync(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(SoakOptions.Usage);
            return 0;
        }

        SoakOptions options;
        try
        {
            options = SoakOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message + "\n\n" + SoakOptions.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return await SoakCommand.RunAsync(options, cancel.Token);
    }

    internal static async Task<string> EnsureGatewayBuiltAsync(bool force, CancellationToken cancellationToken)
    {
        var repo = FindRepoRoot();
        var project = Path.Combine(repo, "src", "SelfHost");
        var dll = Path.Combine(project, "bin", "Release", "net10.0", "KillToken.SelfHost.dll");
        if (!force && File.Exists(dll))
        {
            return dll;
        }

        Log($"building {project} (Release) …");
        var start = new ProcessStartInfo(GatewayProcess.DotnetHost()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "build", project, "-c", "Release", "-nologo", "-v", "quiet" })
        {
            start.ArgumentList.Add(arg);
        }

        using var build = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet build.");
        var stdout = build.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = build.StandardError.ReadToEndAsync(cancellationToken);
        await build.WaitForExitAsync(cancellationToken);
        if (build.ExitCode != 0 || !File.Exists(dll))
        {
            throw new InvalidOperationException($"dotnet build {project} -c Release failed ({build.ExitCode}):\n{await stdout}\n{await stderr}");
        }

        return dll;
    }

    internal static string FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "src", "SelfHost", "KillToken.SelfHost.csproj")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run from inside the KillToken repository (src/SelfHost not found), or pass --gateway-dll.");
    }

    internal static string Mb(long kb) => (kb / 1024.0).ToString("0.0", Inv);

    private static void Log(string message) => Console.WriteLine("# " + message);
}
