using System.Diagnostics;
using System.Globalization;
using System.Text;
using KillToken.Soak;

namespace KillToken.Bench;

/// <summary>Command line of <c>--soak</c>.</summary>
internal sealed record SoakOptions
{
    public double Minutes { get; init; } = 30;
    public string Store { get; init; } = "sqlite";
    /// <summary>Operations of the mix per second (a twin is two calls, a later replay a third).</summary>
    public double Rate { get; init; } = 60;
    public double SampleSeconds { get; init; } = 10;
    public double WarmUpSeconds { get; init; } = 60;
    /// <summary>The reference sample the end is compared with (5 minutes, or halfway through a shorter run).</summary>
    public double ReferenceSeconds { get; init; } = 300;
    public double ManagementSeconds { get; init; } = 3;
    public bool Build { get; init; }
    public bool KeepData { get; init; }
    public string? GatewayDll { get; init; }
    public List<KeyValuePair<string, string>> GatewayEnvironment { get; } = [];
    public IReadOnlyList<string> Arguments { get; init; } = [];

    public const string Usage = """
        KillToken.Bench --soak: a long run of steady mixed traffic against one self-host process, checking that its memory,
        threads, file handles and SQLite files stay flat and that every answered call has exactly one trace and its
        cost in the rollups. Writes bench/results/<utc>-soak-<store>.md.

          --soak                   this mode
          --minutes M              length of the load (default 30)
          --store sqlite|cosmos    the gateway's store (default sqlite; cosmos starts the npm Cosmos DB emulator and Azurite)
          --rate R                 operations of the mix per second (default 60; ~64 calls/s with twins and replays)
          --sample-seconds S       sampling interval of /proc (default 10)
          --warmup-seconds W       not judged for flatness (default 60)
          --management-seconds S   one management write every S seconds (default 3)
          --gateway-env KEY=VALUE  extra environment for the gateway (repeatable)
          --gateway-dll PATH       gateway to run (default the Release build of src/SelfHost)
          --build                  rebuild src/SelfHost in Release first
          --keep-data              keep the temp folder (data, gateway.log)
        """;

    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions { Arguments = [.. args] };
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            double Positive() => double.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0
                ? d : throw new ArgumentException($"{arg} must be a positive number.");
            switch (arg)
            {
                case "--soak":
                    break;
                case "--minutes":
                    options = options with { Minutes = Positive() };
                    break;
                case "--store":
                    options = options with
                    {
                        Store = Next() is "sqlite" or "cosmos" ? args[i] : throw new ArgumentException("--store takes sqlite or cosmos."),
                    };
                    break;
                case "--rate":
                    options = options with { Rate = Positive() };
                    break;
                case "--sample-seconds":
                    options = options with { SampleSeconds = Positive() };
                    break;
                case "--warmup-seconds":
                    options = options with { WarmUpSeconds = Positive() };
                    break;
                case "--management-seconds":
                    options = options with { ManagementSeconds = Positive() };
                    break;
                case "--build":
                    options = options with { Build = true };
                    break;
                case "--keep-data":
                    options = options with { KeepData = true };
                    break;
                case "--gateway-dll":
                    options = options with { GatewayDll = Next() };
                    break;
                case "--gateway-env":
                    var pair = Next();
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    options.GatewayEnvironment.Add(eq > 0 ? new(pair[..eq], pair[(eq + 1)..]) : throw new ArgumentException("--gateway-env takes KEY=VALUE."));
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{arg}'.");
            }
        }

        return options;
    }
}

/// <summary>
/// The soak: the self-host as a child process on SQLite (a temp data folder) or Cosmos (the npm emulator), a failing
/// fake upstream, <see cref="SoakTraffic"/> at a fixed rate plus management writes, /proc sampled throughout, then the
/// load stopped, the writes drained and the run reconciled with the traces and rollups.
/// </summary>
internal static class SoakCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The gateway's provider timeout in the soak: short, so the calls that hang upstream end in seconds.</summary>
    private const int ProviderTimeoutSeconds = 2;

    public static async Task<int> RunAsync(SoakOptions options, CancellationToken cancellationToken)
    {
        var repo = Program.FindRepoRoot();
        var dll = options.GatewayDll ?? await Program.EnsureGatewayBuiltAsync(options.Build, cancellationToken);
        Log($"soak: {options.Minutes} min on {options.Store}, {options.Rate} ops/s, gateway {dll}");
        using var emulators = options.Store == "cosmos" ? await SoakEmulators.StartAsync(repo, cancellationToken) : null;
        await using var upstream = await SoakUpstream.StartAsync(TimeSpan.FromSeconds(ProviderTimeoutSeconds * 3));

        var environment = new List<KeyValuePair<string, string>> { new("KILLTOKEN_PROVIDER_TIMEOUT_SECONDS", ProviderTimeoutSeconds.ToString(Inv)) };
        var cosmosDatabase = "soak-" + Guid.NewGuid().ToString("N");
        if (emulators is not null)
        {
            environment.AddRange(emulators.GatewaySettings(cosmosDatabase));
        }

        environment.AddRange(options.GatewayEnvironment);
        await using var gateway = await GatewayProcess.StartAsync(dll, upstream.BaseAddress, environment, cancellationToken);
        gateway.KeepData = options.KeepData;
        var database = emulators is null ? Path.Combine(gateway.RootDirectory, "data", "killtoken.db") : null;
        Log($"gateway pid {gateway.Pid} on {gateway.BaseAddress}, folder {gateway.RootDirectory}");

        // At most 64 connections: the gateway's inbound sockets then follow the load, not the client's peak backlog.
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), MaxConnectionsPerServer = 64 })
        {
            BaseAddress = gateway.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        var tenant = await SoakTenant.SetUpAsync(client, cancellationToken);
        var traffic = new SoakTraffic(client, tenant);
        await traffic.ProbeAsync();

        var samples = new List<SoakSample>();
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromMinutes(options.Minutes));
        var load = traffic.RunLoadAsync(options.Rate, stop.Token);
        var management = traffic.RunManagementAsync(TimeSpan.FromSeconds(options.ManagementSeconds), stop.Token);
        SoakSample Sample() => SoakSample.Read(gateway.Pid, Stopwatch.GetElapsedTime(started).TotalSeconds, database, traffic.Calls.Count);
        samples.Add(Sample());
        using (var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.SampleSeconds)))
        {
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    if (gateway.HasExited)
                    {
                        throw new InvalidOperationException("The gateway exited during the soak:\n" + gateway.LogTail(40));
                    }

                    var sample = Sample();
                    samples.Add(sample);
                    Log(string.Format(Inv, "{0,6:0}s calls {1,7} rss {2,6:0.0} MB threads {3,3} fds {4,4} (sockets {7}){5} in flight {6}",
                        sample.ElapsedSeconds, sample.Calls, sample.RssKb / 1024.0, sample.Threads, sample.Handles,
                        database is null ? "" : string.Format(Inv, " db {0:0.0} MB wal {1:0.0} MB", sample.DataBytes / 1048576.0, sample.WalBytes / 1048576.0),
                        traffic.InFlight, sample.Sockets));
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The soak's time is up.
            }
        }

        await Task.WhenAll(load, management);
        var loadSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        samples.Add(Sample());
        Log($"load stopped after {loadSeconds:0} s; draining and reconciling {traffic.Calls.Count} calls …");
        Func<CancellationToken, Task<List<SoakTrace>>>? listTraces = emulators is null ? null
            : token => SoakCosmosTraces.ListAsync(emulators.CosmosEndpoint, cosmosDatabase, tenant.WorkspaceId, token);
        var reconciliation = await SoakReconciliation.RunAsync(client, tenant, traffic.Calls, TimeSpan.FromSeconds(120), listTraces, cancellationToken);
        var afterDrain = Sample();
        var flatness = SoakFlatness.Evaluate(samples, options.WarmUpSeconds, options.ReferenceSeconds, SoakLimits.Bench);

        var report = Report(options, dll, loadSeconds, samples, afterDrain, flatness, reconciliation, traffic, upstream.Calls);
        Console.WriteLine(report);
        var directory = Path.Combine(repo, "bench", "results");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-soak-{options.Store}.md");
        await File.WriteAllTextAsync(path, report, cancellationToken);
        Log($"written to {path}");
        return flatness.Passed && reconciliation.Passed && traffic.ManagementFailures.Count == 0 ? 0 : 1;
    }

    private static string Report(SoakOptions options, string dll, double loadSeconds, List<SoakSample> samples, SoakSample afterDrain,
        SoakFlatness flatness, SoakReconciliation r, SoakTraffic traffic, long upstreamCalls)
    {
        var sb = new StringBuilder();
        void Line(string text = "") => sb.Append(text).Append('\n');
        var verdict = flatness.Passed && r.Passed && traffic.ManagementFailures.Count == 0 ? "PASS" : "FAIL";
        var steady = traffic.Shed == 0;
        Line(string.Create(Inv, $"# Soak on {options.Store}: {loadSeconds / 60:0.0} minutes — {verdict}"));
        Line();
        Line(string.Create(Inv, $"`dotnet run -c Release --project bench/KillToken.Bench -- {string.Join(' ', options.Arguments)}` at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, "
            + $"{Environment.ProcessorCount} CPUs, .NET {Environment.Version}, gateway {dll} ({Revision()})."));
        Line(string.Create(Inv, $"{options.Rate} operations/s of the mix ({r.Calls / loadSeconds:0.0} calls/s), a management write every {options.ManagementSeconds} s, "
            + $"samples every {options.SampleSeconds} s, warm-up {options.WarmUpSeconds} s (not judged)."));
        if (!steady)
        {
            Line();
            Line(string.Create(Inv, $"**Not a steady run:** {traffic.Shed} operations were shed because {traffic.MaxInFlight} were still in flight — the gateway "
                + $"(or this machine) fell behind the rate, so the resource figures include a backlog. Rerun on a quiet machine or at a lower --rate."));
        }

        Line();
        Line("## Resources of the gateway process");
        Line();
        Line("| sample | at | calls | VmRSS MB | VmHWM MB | threads | handles (sockets) | data file MB | WAL MB |");
        Line("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        string Mb(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("0.0", Inv) : "—";
        void Row(string name, SoakSample s) => Line(string.Create(Inv,
            $"| {name} | {s.ElapsedSeconds:0} s | {s.Calls} | {s.RssKb / 1024.0:0.0} | {s.HwmKb / 1024.0:0.0} | {s.Threads} | {s.Handles} ({s.Sockets}) | {Mb(s.DataBytes)} | {Mb(s.WalBytes)} |"));
        Row("start (after warm-up)", flatness.Start);
        Row(flatness.Reference.ElapsedSeconds >= options.ReferenceSeconds - options.SampleSeconds ? "5 min" : "reference (halfway)", flatness.Reference);
        Row("end of load", flatness.End);
        Row("after drain", afterDrain);
        var after = flatness.AfterWarmUp;
        Line(string.Create(Inv,
            $"| min after warm-up | | | {after.Min(s => s.RssKb) / 1024.0:0.0} | | {after.Min(s => s.Threads)} | {after.Min(s => s.Handles)} ({after.Min(s => s.Sockets)}) | {Mb(after.Min(s => s.DataBytes))} | {Mb(after.Min(s => s.WalBytes))} |"));
        Line(string.Create(Inv,
            $"| max after warm-up | | | {after.Max(s => s.RssKb) / 1024.0:0.0} | {after.Max(s => s.HwmKb) / 1024.0:0.0} | {after.Max(s => s.Threads)} | {after.Max(s => s.Handles)} ({after.Max(s => s.Sockets)}) | {Mb(after.Max(s => s.DataBytes))} | {Mb(after.Max(s => s.WalBytes))} |"));
        Line();
        var l = SoakLimits.Bench;
        Line(string.Create(Inv, $"Flatness: **{(flatness.Passed ? "PASS" : "FAIL")}** — between the reference and the end of load: VmRSS growth ≤ {l.RssGrowthMb} MB; "
            + $"threads, handles other than sockets and sockets — their floor over the last tenth of the samples — at most +{l.ThreadDelta} / +{l.HandleDelta} / +{l.SocketDelta} "
            + $"over the most seen from warm-up to the reference; "
            + $"WAL ≤ {l.WalMaxMb} MB after warm-up; the data file's growth per call after the reference ≤ {l.DataGrowthRatio}× its growth per call before it (+1 MB slack)."));
        foreach (var failure in flatness.Failures)
        {
            Line($"- {failure}");
        }

        Line();
        Line("## Accounting");
        Line();
        Line(string.Create(Inv, $"Reconciliation: **{(r.Passed ? "PASS" : "FAIL")}** (writes drained in {r.DrainSeconds:0.0} s)."));
        Line();
        Line("| figure | value |");
        Line("|---|---:|");
        Line(string.Create(Inv, $"| calls sent | {r.Calls} |"));
        Line(string.Create(Inv, $"| answered (an `x-request-id` came back) | {r.Answered} |"));
        Line(string.Create(Inv, $"| lost (no answer at all) | {r.Lost} |"));
        Line(string.Create(Inv, $"| 401 `invalid_api_key` (a key regenerated while the call was under way; no project, no trace) | {r.InvalidKey} |"));
        Line(string.Create(Inv, $"| answered calls that must have a trace | {r.ExpectedTraces} |"));
        Line(string.Create(Inv, $"| traces listed | {r.Traces} |"));
        Line(string.Create(Inv, $"| trace ids listed twice | {r.DuplicateTraceIds} |"));
        Line(string.Create(Inv, $"| answered calls without a trace | {r.MissingTraces.Count} |"));
        Line(string.Create(Inv, $"| traces of no answered call | {r.UnexpectedTraces.Count} |"));
        Line(string.Create(Inv, $"| traces whose cost is not the call's | {r.CostMismatches.Count} |"));
        Line(string.Create(Inv, $"| cost the calls reported (USD) | {r.CallsCostUsd} |"));
        Line(string.Create(Inv, $"| cost in the traces (USD) | {r.TracesCostUsd} |"));
        Line(string.Create(Inv, $"| rollups (`/v1/summary`): requests / cost (USD) | {r.SummaryRequests} / {r.SummaryCostUsd} |"));
        Line(string.Create(Inv, $"| upstream calls (retries included) | {upstreamCalls} |"));
        Line(string.Create(Inv, $"| operations shed by the load generator (≥ {traffic.MaxInFlight} in flight) | {traffic.Shed} |"));
        Line(string.Create(Inv, $"| management writes / failed | {traffic.ManagementWrites} / {traffic.ManagementFailures.Count} |"));
        foreach (var failure in r.Failures.Concat(traffic.ManagementFailures.Take(5)))
        {
            Line($"- {failure}");
        }

        Line();
        Line("Calls by kind and outcome:");
        Line();
        Line("| kind, status, code | calls | cost reported (USD) |");
        Line("|---|---:|---:|");
        foreach (var (outcome, (count, cost)) in r.ByOutcome)
        {
            Line(string.Create(Inv, $"| {outcome} | {count} | {cost} |"));
        }

        Line();
        Line("## Every sample (one a minute)");
        Line();
        Line("| at | calls | VmRSS MB | threads | handles (sockets) | data MB | WAL MB |");
        Line("|---:|---:|---:|---:|---:|---:|---:|");
        var lastMinute = -1;
        foreach (var s in samples)
        {
            var minute = (int)(s.ElapsedSeconds / 60);
            if (minute != lastMinute || s == samples[^1])
            {
                lastMinute = minute;
                Line(string.Create(Inv, $"| {s.ElapsedSeconds:0} s | {s.Calls} | {s.RssKb / 1024.0:0.0} | {s.Threads} | {s.Handles} ({s.Sockets}) | {Mb(s.DataBytes)} | {Mb(s.WalBytes)} |"));
            }
        }

        return sb.ToString();
    }

    private static string Revision()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, UseShellExecute = false });
            var text = git?.StandardOutput.ReadToEnd().Trim();
            git?.WaitForExit();
            return string.IsNullOrEmpty(text) ? "unknown revision" : text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown revision";
        }
    }

    private static void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
