using System.Diagnostics;
using System.Globalization;
using System.Text;
using KillToken.Soak;

namespace KillToken.Bench;

/// <summary>What a results file says about where and with what it was measured.</summary>
internal sealed record RunInfo(string KillTokenRevision, string PortkeyVersion, string NodeVersion, string Cpu, string Kernel)
{
    public static async Task<RunInfo> CollectAsync(PortkeyProcess peer, CancellationToken cancellationToken)
    {
        var repo = Program.FindRepoRoot();
        var revision = (await GitAsync(repo, ["rev-parse", "--short=12", "HEAD"], cancellationToken)).Trim();
        var dirty = (await GitAsync(repo, ["status", "--porcelain", "--untracked-files=no"], cancellationToken)).Trim().Length > 0;
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } model
            ? model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
            : "unknown CPU";
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : Environment.OSVersion.ToString();
        return new RunInfo(revision.Length == 0 ? "unknown" : revision + (dirty ? " (with uncommitted changes)" : ""), peer.Version, peer.NodeVersion, cpu, kernel);
    }

    private static async Task<string> GitAsync(string repo, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("git") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repo };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var git = Process.Start(start)!;
            var output = await git.StandardOutput.ReadToEndAsync(cancellationToken);
            await git.WaitForExitAsync(cancellationToken);
            return git.ExitCode == 0 ? output : "";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}

/// <summary>
/// The side-by-side table: each figure per round (a gateway's percentile minus the direct percentile of the same
/// round and level), then the median of the rounds; ratio = KillToken ÷ Portkey. Peak memory is each process's VmHWM
/// at the end of the run (the high-water mark over every round). Written as markdown with the per-round figures beneath.
/// </summary>
internal sealed class ComparisonReport(Options options, IReadOnlyList<RoundLevel> rounds, ProcMemory killTokenEnd, ProcMemory portkeyEnd, double backgroundBusy, RunInfo info)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly DateTimeOffset _utc = DateTimeOffset.UtcNow;

    /// <summary>The markdown table alone (also printed to the console).</summary>
    public string Table()
    {
        var sb = new StringBuilder();
        var n = options.Concurrency;
        sb.AppendLine(string.Create(Inv, $"| figure (median of {rounds.Select(r => r.Round).Distinct().Count()} interleaved rounds) | KillToken | Portkey {info.PortkeyVersion} | ratio KillToken ÷ Portkey |"));
        sb.AppendLine("|---|---:|---:|---:|");
        if (Level(1) is { Count: > 0 } sequential)
        {
            AddedRow(sb, "added latency, 1 connection, p50 / p99", sequential, l => l.P50Ms, l => l.P99Ms);
        }

        if (n != 1 && Level(n) is { Count: > 0 } loaded)
        {
            var offered = options.Rate is { } rate ? string.Create(Inv, $" at {rate:0} req/s offered") : "";
            AddedRow(sb, $"added latency, {n} connections{offered}, p50 / p99", loaded, l => l.P50Ms, l => l.P99Ms);
        }

        var top = Level(n);
        var k = Median(top.Select(r => r.KillToken.Load.Rps));
        var p = Median(top.Select(r => r.Peer!.Load.Rps));
        sb.AppendLine(string.Create(Inv, $"| throughput, {n} connection{(n == 1 ? "" : "s")}{(options.Rate is { } r2 ? $" ({r2:0} req/s offered)" : "")} | {k:N0} req/s | {p:N0} req/s | {Ratio(k, p)} |"));
        k = Median(top.Select(r => r.KillToken.GatewayCpuUsPerRequest));
        p = Median(top.Select(r => r.Peer!.GatewayCpuUsPerRequest));
        sb.AppendLine(string.Create(Inv, $"| gateway CPU per request, {n} connection{(n == 1 ? "" : "s")} | {k:N0} µs | {p:N0} µs | {Ratio(k, p)} |"));
        sb.AppendLine(string.Create(Inv, $"| peak memory (VmHWM) | {killTokenEnd.VmHwmKb / 1024.0:N0} MB | {portkeyEnd.VmHwmKb / 1024.0:N0} MB | {Ratio(killTokenEnd.VmHwmKb, portkeyEnd.VmHwmKb)} |"));
        if (options.Stream && Level(1) is { Count: > 0 } streamed)
        {
            k = Median(streamed.Select(r => r.KillToken.Load.FirstByteP50Ms - r.Direct.Load.FirstByteP50Ms));
            p = Median(streamed.Select(r => r.Peer!.Load.FirstByteP50Ms - r.Direct.Load.FirstByteP50Ms));
            sb.AppendLine(string.Create(Inv, $"| streaming: time to first byte added, 1 connection, p50 | {Ms(k)} | {Ms(p)} | {Ratio(k, p)} |"));
        }

        var kErrors = rounds.Sum(r => r.KillToken.Load.Errors);
        var pErrors = rounds.Sum(r => r.Peer!.Load.Errors);
        sb.AppendLine(string.Create(Inv, $"| errors in the measured windows (all rounds) | {kErrors} | {pErrors} | |"));
        return sb.ToString();
    }

    /// <summary>Writes <c>&lt;folder&gt;/&lt;utc&gt;-gateway-vs-portkey.md</c> and returns its path.</summary>
    public string Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, _utc.ToString("yyyyMMdd'T'HHmmss'Z'", Inv) + "-gateway-vs-portkey.md");
        File.WriteAllText(path, Markdown());
        return path;
    }

    private string Markdown()
    {
        var sb = new StringBuilder();
        var n = options.Concurrency;
        sb.AppendLine(string.Create(Inv, $"# KillToken vs Portkey — {_utc:yyyy-MM-dd HH:mm} UTC"));
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"Same in-process fake OpenAI upstream, same load generator and request bytes ({(options.Stream ? "streamed" : "plain")} chat completion), {options.Rounds} interleaved round(s) of direct → KillToken → Portkey at each concurrency, {options.WarmupSeconds:0.#} s warm-up + {options.Seconds:0.#} s measured per phase{(options.SequentialSeconds is { } seq ? $" ({seq:0.#} s at C=1)" : "")}."));
        sb.AppendLine();
        sb.Append(Table());
        sb.AppendLine();
        if (Level(1) is { Count: > 0 } sequential)
        {
            sb.AppendLine(string.Create(Inv, $"Direct to the fake (the floor), 1 connection: p50 {Median(sequential.Select(r => r.Direct.Load.P50Ms)):0.000} ms, p99 {Median(sequential.Select(r => r.Direct.Load.P99Ms)):0.000} ms."));
        }

        sb.AppendLine(string.Create(Inv, $"Direct, {n} connections: {Median(Level(n).Select(r => r.Direct.Load.Rps)):N0} req/s."));
        sb.AppendLine();
        sb.AppendLine("Reading it: added latency = the gateway's percentile minus the direct percentile of the same round; each figure is the median over the rounds. " +
            "Ratio = KillToken ÷ Portkey: below 1 is better for KillToken except for throughput, where above 1 is. " +
            "CPU per request = the gateway process's utime+stime over the phase (warm-up included, and until it is idle again after the load) ÷ its requests; peak memory = the process's VmHWM at the end of the run. " +
            "KillToken persists a trace and rollups per call (SQLite, default logging); Portkey persists nothing. See bench/README.md.");
        sb.AppendLine();
        sb.AppendLine("## Run");
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine("dotnet run -c Release --project bench/KillToken.Bench --" + string.Concat(options.Arguments.Select(a => " " + Quote(a))));
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"- machine: {Environment.ProcessorCount} logical CPUs ({info.Cpu}), Linux {info.Kernel}; CPU {backgroundBusy:0}% busy in the 2 s before the load"));
        sb.AppendLine(string.Create(Inv, $"- KillToken: git {info.KillTokenRevision}, self-host Release build, .NET {Environment.Version}{(options.GatewayDll is { } dll ? $", --gateway-dll {dll}" : "")}"));
        foreach (var (key, value) in options.GatewayEnvironment)
        {
            sb.AppendLine($"  - gateway env {key}={value}");
        }

        sb.AppendLine(string.Create(Inv, $"- Portkey: @portkey-ai/gateway {info.PortkeyVersion} from npm (bench/portkey, lock file), node {info.NodeVersion}, `--headless`, NODE_ENV=production, OpenAI provider with custom host = the fake"));
        sb.AppendLine();
        sb.AppendLine("## Per round");
        sb.AppendLine();
        sb.AppendLine("Sent counts warm-up and stragglers too; upstream calls are the fake's count over the same time (every gateway call must reach it).");
        sb.AppendLine();
        sb.AppendLine("| round | C | target | p50 ms | p99 ms | first byte p50 ms | req/s | ok | errors | sent | upstream calls | gateway CPU µs/req | settled after ms | machine busy | VmHWM after |");
        sb.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rounds)
        {
            RawRow(sb, r, "direct", r.Direct, null);
            RawRow(sb, r, "KillToken", r.KillToken, r.KillTokenAfter);
            RawRow(sb, r, "Portkey", r.Peer!, r.PeerAfter);
        }

        return sb.ToString();
    }

    private static void RawRow(StringBuilder sb, RoundLevel r, string target, Phase phase, ProcMemory? after)
    {
        var l = phase.Load;
        var direct = target == "direct";
        sb.AppendLine(string.Create(Inv,
            $"| {r.Round} | {r.Concurrency} | {target} | {l.P50Ms:0.000} | {l.P99Ms:0.000} | {l.FirstByteP50Ms:0.000} | {l.Rps:N0} | {l.Ok} | {l.Errors} | {l.Sent} | {(direct ? "" : phase.UpstreamCalls.ToString(Inv))} | {(direct ? "" : phase.GatewayCpuUsPerRequest.ToString("N0", Inv))} | {(direct ? "" : phase.SettleMs.ToString("0", Inv))} | {phase.MachineBusyPercent:0}% | {(after is null ? "" : Program.Mb(after.VmHwmKb) + " MB")} |"));
    }

    private List<RoundLevel> Level(int concurrency) => [.. rounds.Where(r => r.Concurrency == concurrency)];

    private static void AddedRow(StringBuilder sb, string label, List<RoundLevel> level, Func<LoadResult, double> p50, Func<LoadResult, double> p99)
    {
        var k50 = Median(level.Select(r => p50(r.KillToken.Load) - p50(r.Direct.Load)));
        var k99 = Median(level.Select(r => p99(r.KillToken.Load) - p99(r.Direct.Load)));
        var p50s = Median(level.Select(r => p50(r.Peer!.Load) - p50(r.Direct.Load)));
        var p99s = Median(level.Select(r => p99(r.Peer!.Load) - p99(r.Direct.Load)));
        sb.AppendLine($"| {label} | {Ms(k50)} / {Ms(k99)} | {Ms(p50s)} / {Ms(p99s)} | {Ratio(k50, p50s)} / {Ratio(k99, p99s)} |");
    }

    /// <summary>The median; the mean of the middle two for an even count.</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string Ms(double ms) =>
        double.IsFinite(ms) ? (ms >= 0 ? "+" : "−") + Math.Abs(ms).ToString(Math.Abs(ms) < 10 ? "0.00" : "0.0", Inv) + " ms" : "n/a";

    private static string Ratio(double killToken, double portkey) =>
        double.IsFinite(killToken) && double.IsFinite(portkey) && portkey > 0 && killToken >= 0 ? (killToken / portkey).ToString("0.00", Inv) + "×" : "–";

    private static string Quote(string arg) => arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_=./:,".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
