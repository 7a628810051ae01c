using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Bench;

/// <summary>One load phase against one target, with what the machine and the gateway did meanwhile.</summary>
internal sealed record Phase(LoadResult Load, double GatewayCpuMs, double BenchCpuMs, double MachineBusyPercent, long GatewayLogLines, long UpstreamCalls, TraceStats? Traces)
{
    public Breakdown? Breakdown { get; } = Breakdown.From(Load, Traces);

    /// <summary>Gateway CPU per request of the phase (warm-up included, as the CPU figure is).</summary>
    public double GatewayCpuUsPerRequest => Load.Sent == 0 ? double.NaN : GatewayCpuMs * 1000 / Load.Sent;
    public double BenchCpuUsPerRequest => Load.Sent == 0 ? double.NaN : BenchCpuMs * 1000 / Load.Sent;
}

internal static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> Main(string[] args)
    {
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

        using var api = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var tenant = await Tenant.SetUpAsync(api, cancellationToken);
        Log($"tenant: workspace {tenant.WorkspaceId}, key {tenant.ApiKey[..14]}…");

        // The same bytes go to both targets; the upstream ignores the extra "provider" field.
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

        // One checked request each way before any load.
        var probe = await Tenant.PostAsync(api, "v1/chat", tenant.ApiKey, probeBody, 200, cancellationToken);
        if (probe["response"]?["choices"] is null)
        {
            throw new InvalidOperationException("The gateway's answer has no provider body: " + probe.ToJsonString());
        }

        Log($"probe: 200, metrics {probe["metrics"]?.ToJsonString()}");
        var idle = gateway.Memory();
        Log($"gateway idle after setup: VmRSS {Mb(idle.VmRssKb)} MB, VmHWM {Mb(idle.VmHwmKb)} MB, {idle.Threads} threads");

        // Other work on the machine skews everything; say how much there was just before the load.
        var quiet0 = MachineCpu.Read();
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        var backgroundBusy = MachineCpu.Read().BusyPercentSince(quiet0);
        Log(string.Create(Inv, $"machine CPU busy before load (2 s, nothing of ours running): {backgroundBusy:0}%"));

        var warmup = TimeSpan.FromSeconds(options.WarmupSeconds);
        var phases = new List<(int Concurrency, Phase Direct, Phase Gateway, ProcMemory After)>();
        var levels = options.NoSequential ? new[] { options.Concurrency } : new[] { 1, options.Concurrency };
        foreach (var c in levels.Distinct())
        {
            var seconds = TimeSpan.FromSeconds(c == 1 ? options.SequentialSeconds ?? options.Seconds : options.Seconds);
            var rate = c == 1 ? null : options.Rate;
            var direct = await RunPhaseAsync("direct", c, rate, directUrl, body, UpstreamKey, warmup, seconds, gateway, upstream, null, cancellationToken);
            var through = await RunPhaseAsync("gateway", c, rate, gatewayUrl, body, tenant.ApiKey, warmup, seconds, gateway, upstream, (api, tenant.ApiKey), cancellationToken);
            phases.Add((c, direct, through, gateway.Memory()));
        }

        // Traces: the newest one is readable with the project key.
        var (traceStatus, traceBody) = await Tenant.GetAsync(api, "v1/requests?limit=1", tenant.ApiKey, cancellationToken);
        var latest = traceBody?["data"] is JsonArray { Count: > 0 } items ? items[0] : null;
        var tracesOk = traceStatus == 200 && latest is not null;
        var end = gateway.Memory();

        Print(options, phases, idle, end, traceStatus, latest, tracesOk, gateway, backgroundBusy);
        Console.WriteLine(Json(options, phases, idle, end, tracesOk, latest, backgroundBusy).ToJsonString());
        return tracesOk && phases.All(p => p.Direct.Load.Errors == 0 && p.Gateway.Load.Errors == 0) ? 0 : 1;
    }

    private static async Task<Phase> RunPhaseAsync(
        string target, int concurrency, double? rate, Uri url, byte[] body, string bearer, TimeSpan warmup, TimeSpan seconds,
        GatewayProcess gateway, FakeOpenAI upstream, (HttpClient Api, string Key)? traces, CancellationToken cancellationToken)
    {
        Log($"run: {target} C={concurrency}{(rate is { } r ? string.Create(Inv, $" at {r:0} req/s offered") : "")}, {warmup.TotalSeconds:0.#} s warm-up + {seconds.TotalSeconds:0.#} s …");
        var self = Process.GetCurrentProcess();
        var gatewayCpu0 = gateway.CpuTime();
        var benchCpu0 = self.TotalProcessorTime;
        var machine0 = MachineCpu.Read();
        var logs0 = gateway.LogLines();
        var calls0 = upstream.ChatCalls;

        // Gateway phases keep every 8th request's x-request-id to join with its trace afterwards.
        var load = await LoadGenerator.RunAsync(target, url, body, bearer, concurrency, rate, warmup, seconds, traces is null ? 0 : 8, cancellationToken);
        if (gateway.HasExited)
        {
            throw new InvalidOperationException($"The gateway process exited during the {target} C={concurrency} phase (killed from outside?):\n{gateway.LogTail(20)}");
        }

        var gatewayCpu = (gateway.CpuTime() - gatewayCpu0).TotalMilliseconds;
        self.Refresh();
        var benchCpu = (self.TotalProcessorTime - benchCpu0).TotalMilliseconds;
        var busy = MachineCpu.Read().BusyPercentSince(machine0);
        var logs = gateway.LogLines() - logs0;
        var calls = upstream.ChatCalls - calls0;
        var stats = traces is { } t ? await TraceStats.ReadAsync(t.Api, t.Key, load, cancellationToken) : null;
        var phase = new Phase(load, gatewayCpu, benchCpu, busy, logs, calls, stats);
        Log(string.Create(Inv, $"     {load.Ok} ok in window, {load.Errors} errors, p50 {load.P50Ms:0.000} ms, p99 {load.P99Ms:0.000} ms, {load.Rps:0} req/s, machine CPU {busy:0}% busy"));
        return phase;
    }

    private static void Print(Options options, List<(int Concurrency, Phase Direct, Phase Gateway, ProcMemory After)> phases,
        ProcMemory idle, ProcMemory end, int traceStatus, JsonNode? latest, bool tracesOk, GatewayProcess gateway, double backgroundBusy)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"== KillToken gateway overhead: {options.Seconds:0.#} s measured per phase ({options.WarmupSeconds:0.#} s warm-up), instant fake OpenAI upstream, {Environment.ProcessorCount} CPUs, {backgroundBusy:0}% busy before load =="));
        foreach (var (c, direct, through, after) in phases)
        {
            var d = direct.Load;
            var g = through.Load;
            sb.AppendLine();
            sb.AppendLine(string.Create(Inv, $"C={c}{(d.OfferedRps is { } offered ? $" at {offered:0} req/s offered" : "")} ({d.MeasuredSeconds:0.#} s)          direct      gateway        added"));
            sb.AppendLine(string.Create(Inv, $"  p50 ms            {d.P50Ms,10:0.000}   {g.P50Ms,10:0.000}   {g.P50Ms - d.P50Ms,10:0.000}"));
            sb.AppendLine(string.Create(Inv, $"  p90 ms            {d.P90Ms,10:0.000}   {g.P90Ms,10:0.000}   {g.P90Ms - d.P90Ms,10:0.000}"));
            sb.AppendLine(string.Create(Inv, $"  p99 ms            {d.P99Ms,10:0.000}   {g.P99Ms,10:0.000}   {g.P99Ms - d.P99Ms,10:0.000}"));
            sb.AppendLine(string.Create(Inv, $"  max ms            {d.MaxMs,10:0.000}   {g.MaxMs,10:0.000}"));
            if (options.Stream)
            {
                sb.AppendLine(string.Create(Inv, $"  first byte p50 ms {d.FirstByteP50Ms,10:0.000}   {g.FirstByteP50Ms,10:0.000}   {g.FirstByteP50Ms - d.FirstByteP50Ms,10:0.000}"));
                sb.AppendLine(string.Create(Inv, $"  first byte p99 ms {d.FirstByteP99Ms,10:0.000}   {g.FirstByteP99Ms,10:0.000}   {g.FirstByteP99Ms - d.FirstByteP99Ms,10:0.000}"));
            }

            sb.AppendLine(string.Create(Inv, $"  throughput req/s  {d.Rps,10:0}   {g.Rps,10:0}   {(d.Rps == 0 ? double.NaN : g.Rps / d.Rps),10:0.00}x"));
            sb.AppendLine(string.Create(Inv, $"  ok / errors       {d.Ok,6} / {d.Errors,-3}  {g.Ok,6} / {g.Errors,-3}{ErrorKinds(d, g)}"));
            sb.AppendLine(string.Create(Inv, $"  machine CPU busy  {direct.MachineBusyPercent,9:0}%   {through.MachineBusyPercent,9:0}%"));
            sb.AppendLine(string.Create(Inv, $"  bench CPU us/req  {direct.BenchCpuUsPerRequest,10:0}   {through.BenchCpuUsPerRequest,10:0}   (load generator + fake upstream)"));
            sb.AppendLine(string.Create(Inv, $"  gateway CPU us/req             {through.GatewayCpuUsPerRequest,10:0}   ({through.GatewayCpuMs:0} ms over {g.Sent} requests)"));
            sb.AppendLine(string.Create(Inv, $"  gateway log lines/req          {(g.Sent == 0 ? 0 : (double)through.GatewayLogLines / g.Sent),10:0.00}"));
            sb.AppendLine(string.Create(Inv, $"  upstream calls                 {through.UpstreamCalls,10}   (gateway requests sent: {g.Sent})"));
            if (through.Traces is { } t)
            {
                sb.AppendLine(string.Create(Inv, $"  traces written                 {t.Written,10}   (non-200: {t.Errors})"));
                sb.AppendLine(string.Create(Inv, $"  gateway's own split, {t.InWindow} traces in window (ms)   p50       p99"));
                sb.AppendLine(string.Create(Inv, $"    latencyMs (handler, before trace write)   {TraceStats.Percentile(t.LatencyMs, 0.5),8:0.000}  {TraceStats.Percentile(t.LatencyMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    providerLatencyMs (upstream call)         {TraceStats.Percentile(t.ProviderMs, 0.5),8:0.000}  {TraceStats.Percentile(t.ProviderMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    overheadMs (= latency - provider)         {TraceStats.Percentile(t.OverheadMs, 0.5),8:0.000}  {TraceStats.Percentile(t.OverheadMs, 0.99),8:0.000}"));
            }

            if (through.Breakdown is { Matched: > 0 } b)
            {
                sb.AppendLine(string.Create(Inv, $"  where the time goes: {b.Matched} sampled requests joined to their traces by x-request-id (ms)   p50       p99"));
                sb.AppendLine(string.Create(Inv, $"    before handler (connect, Kestrel, routing, queueing)      {P(b.BeforeMs, 0.5),8:0.000}  {P(b.BeforeMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    handler total (latencyMs)                                 {P(b.HandlerMs, 0.5),8:0.000}  {P(b.HandlerMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"      of which upstream call (providerLatencyMs)              {P(b.ProviderMs, 0.5),8:0.000}  {P(b.ProviderMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"      of which the rest (auth, credential, vault, parse)      {P(b.HandlerOtherMs, 0.5),8:0.000}  {P(b.HandlerOtherMs, 0.99),8:0.000}"));
                sb.AppendLine(string.Create(Inv, $"    after handler (trace write + write gate, JSON out, read)  {P(b.AfterMs, 0.5),8:0.000}  {P(b.AfterMs, 0.99),8:0.000}"));
            }

            sb.AppendLine(string.Create(Inv, $"  gateway memory after phase: VmHWM {Mb(after.VmHwmKb)} MB, VmRSS {Mb(after.VmRssKb)} MB, {after.Threads} threads"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"gateway memory: peak VmHWM {Mb(end.VmHwmKb)} MB, VmRSS at end {Mb(end.VmRssKb)} MB (idle after setup: VmRSS {Mb(idle.VmRssKb)} MB), {end.Threads} threads"));
        sb.AppendLine(string.Create(Inv, $"gateway log: {gateway.LogLines()} lines in {gateway.LogPath}"));
        sb.AppendLine(tracesOk
            ? $"traces: OK (GET /v1/requests?limit=1 -> {traceStatus}, newest {latest!["id"]} status {latest["status"]} latencyMs {latest["latencyMs"]})"
            : $"traces: FAILED (GET /v1/requests?limit=1 -> {traceStatus}, no data)");
        Console.Write(sb.ToString());
    }

    private static double P(double[] sorted, double q) => TraceStats.Percentile(sorted, q);

    private static string ErrorKinds(LoadResult d, LoadResult g)
    {
        var kinds = d.ErrorKinds.Select(k => $"direct {k.Key} x{k.Value}").Concat(g.ErrorKinds.Select(k => $"gateway {k.Key} x{k.Value}")).ToList();
        return kinds.Count == 0 ? "" : "  [" + string.Join(", ", kinds) + "]";
    }

    private static JsonObject Json(Options options, List<(int Concurrency, Phase Direct, Phase Gateway, ProcMemory After)> phases,
        ProcMemory idle, ProcMemory end, bool tracesOk, JsonNode? latest, double backgroundBusy)
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
            if (l.Target == "gateway")
            {
                side["gatewayCpuUsPerReq"] = R(p.GatewayCpuUsPerRequest);
                side["gatewayLogLinesPerReq"] = R(l.Sent == 0 ? 0 : (double)p.GatewayLogLines / l.Sent);
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
        foreach (var (c, direct, through, after) in phases)
        {
            runs.Add(new JsonObject
            {
                ["concurrency"] = c,
                ["offeredRps"] = direct.Load.OfferedRps,
                ["seconds"] = direct.Load.MeasuredSeconds,
                ["direct"] = Side(direct),
                ["gateway"] = Side(through),
                ["addedP50Ms"] = R(through.Load.P50Ms - direct.Load.P50Ms),
                ["addedP99Ms"] = R(through.Load.P99Ms - direct.Load.P99Ms),
                ["throughputRatio"] = R(direct.Load.Rps == 0 ? double.NaN : through.Load.Rps / direct.Load.Rps),
                ["gatewayVmHwmKbAfter"] = after.VmHwmKb,
            });
        }

        var env = new JsonObject();
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            env[key] = value;
        }

        return new JsonObject
        {
            ["bench"] = "killtoken-gateway-overhead",
            ["utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv),
            ["cpus"] = Environment.ProcessorCount,
            ["machineBusyBeforeLoadPct"] = R(backgroundBusy),
            ["warmupSeconds"] = options.WarmupSeconds,
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
    }

    private static async Task<string> EnsureGatewayBuiltAsync(bool force, CancellationToken cancellationToken)
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

    private static string FindRepoRoot()
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

    private static string Mb(long kb) => (kb / 1024.0).ToString("0.0", Inv);

    private static void Log(string message) => Console.WriteLine("# " + message);
}
