using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Bench;
using KillToken.Core.Budgets;
using KillToken.Core.Ports;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.AnalyticsBench;

/// <summary>One timed route and range: sequential requests after a warm-up.</summary>
internal sealed record RouteResult(string Route, string Range, string? Filter, int Requests, double P50Ms, double P95Ms, double MaxMs, long Bytes);

/// <summary>One export download, streamed and counted by the client, with the process's memory meanwhile.</summary>
internal sealed record ExportResult(string Filter, double TotalMs, double FirstByteMs, double FirstRowMs, long Records, long Bytes, string Header, long PeakHeapIncrease,
    long PeakPostGcHeapIncrease, long PeakWorkingSetIncrease, long Allocated, int Gen0Collections, int Gen2Collections, int Samples);

/// <summary>Everything measured on the seeded gateway, printed once the rebuild phase (on a restarted gateway) is done too.</summary>
internal sealed record Measured(string Cardinality, Workload Workload, string Token, Program.Seeding Seeding, long Backlog, long DbBytes, long WalBytes,
    double CatchUpMs, List<RouteResult> Results, List<Step> Steps, List<ExportResult> Exports, List<Step> Scans, long Reference, List<(string Check, bool Ok)> Checks);

/// <summary>
/// The rows rebuilt from every trace, as after an upgrade from the older rollup shape: the restarted gateway's time to
/// its first answered report, what live appends (one every 20 ms) waited meanwhile, and the memory it took.
/// </summary>
internal sealed record RebuildResult(double StartToAnswerMs, double FirstQueryMs, long Counted, int LiveAppends, double LiveP50Ms, double LiveP99Ms,
    double LiveMaxMs, long PeakHeapIncrease, long PeakRssIncrease);

internal static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>How busy the machine was before the bench started: other work skews every figure.</summary>
    private static double IdleBusyPercent { get; set; }

    /// <summary>Machine CPU busy % and this process's CPU (% of one core) per phase.</summary>
    private static readonly List<(string Phase, double MachineBusy, double ProcessCpu)> Cpu = [];

    private const string UsageLogHeader = "createdAt,workspace,project,provider,model,status,inputTokens,outputTokens,totalTokens,estimatedCostUsd,latencyMs,errorCode";

    /// <summary>The issue's target for every aggregate route.</summary>
    private const double TargetP95Ms = 50;

    private static readonly string[] SessionRoutes =
        ["api/analytics/overview", "api/analytics/trends", "api/analytics/providers", "api/analytics/models", "api/analytics/projects", "api/analytics/features"];

    private const string KeyRoute = "v1/exports/analytics.json";
    private const string Filter = "provider=openai&model=mini";

    /// <summary>A filter that few traces match (Data pipeline's translate calls on gemini, ~0.7%): the export reads far to find its rows.</summary>
    private const string RareFilter = "feature=translate&provider=gemini";

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

        var dataDirectory = Directory.CreateTempSubdirectory("killtoken-abench-").FullName;
        try
        {
            return await RunAsync(options, dataDirectory, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("Cancelled.");
            return 130;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            if (options.KeepData)
            {
                Log($"data kept in {dataDirectory}");
            }
            else
            {
                try
                {
                    Directory.Delete(dataDirectory, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static async Task<int> RunAsync(Options options, string dataDirectory, CancellationToken cancellationToken)
    {
        Log($"machine: {Environment.ProcessorCount} logical CPUs, {Environment.OSVersion}, .NET {Environment.Version}, GC server={System.Runtime.GCSettings.IsServerGC}");
        Log($"data folder: {dataDirectory}");
        var quiet = MachineCpu.Read();
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        IdleBusyPercent = MachineCpu.Read().BusyPercentSince(quiet);
        Log(string.Create(Inv, $"machine CPU busy before start (2 s, nothing of ours running): {IdleBusyPercent:0}%"));
        var dbPath = Path.Combine(dataDirectory, "killtoken.db");
        Measured measured;
        var (app, http) = await StartGatewayAsync(dataDirectory, cancellationToken);
        try
        {
            measured = await BenchAsync(options, app, http, dbPath, cancellationToken);
        }
        finally
        {
            await StopGatewayAsync(app, http);
        }

        RebuildResult? rebuild = null;
        if (!options.NoRebuild)
        {
            rebuild = await RebuildAsync(options, measured, dataDirectory, cancellationToken);
        }

        Print(options, measured, rebuild);
        Console.WriteLine(Json(options, measured, rebuild).ToJsonString());
        return measured.Checks.All(c => c.Ok) ? 0 : 1;
    }

    private static async Task<(WebApplication App, HttpClient Http)> StartGatewayAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        var app = KillToken.SelfHost.Program.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["KILLTOKEN_DATA_DIR"] = dataDirectory });
            // The bench prints its own lines; the gateway's start-up summary and per-request logs would bury them.
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Log($"gateway (in process) on {address}");
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri(address.TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromMinutes(10),
        };
        return (app, http);
    }

    private static async Task StopGatewayAsync(WebApplication app, HttpClient http)
    {
        http.Dispose();
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    private static async Task<Measured> BenchAsync(Options options, WebApplication app, HttpClient http, string dbPath, CancellationToken cancellationToken)
    {
        // ---- Tenant over HTTP ------------------------------------------------------------------------------------
        var signup = await SendJsonAsync(http, HttpMethod.Post, "api/auth/signup", null,
            new { email = $"bench-{Guid.NewGuid():N}@example.com", password = "correct horse battery staple", name = "Bench" }, 201, cancellationToken);
        var token = signup["token"]!.GetValue<string>();
        var workspaceId = signup["workspace"]!["id"]!.GetValue<string>();
        var now = DateTimeOffset.UtcNow;
        var workload = new Workload(workspaceId, options.Traces, options.Days, now, options.Seed);
        string? projectKey = null;
        foreach (var project in workload.Projects)
        {
            var created = await SendJsonAsync(http, HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", token,
                new { name = project.Name, dailyBudgetUsd = project.DailyBudgetUsd, monthlyBudgetUsd = project.MonthlyBudgetUsd }, 201, cancellationToken);
            project.Id = created["project"]!["id"]!.GetValue<string>();
            projectKey ??= created["apiKey"]!.GetValue<string>();
        }

        Log($"tenant: workspace {workspaceId}, {workload.Projects.Count} projects ({string.Join(", ", workload.Projects.Select(p => p.Name))})");
        var cardinality = string.Create(Inv,
            $"{workload.Projects.Count} projects, {workload.Providers} providers, {workload.Models} models, {workload.Features} feature tags, {workload.Cells} cells (project × model × tag), {Workload.Templates} templates on {Workload.TemplateShare:P0} of calls; ~{Workload.BlockedShare:P0} blocked, ~{Workload.ErrorShare:P0} provider errors, ~{Workload.CacheHitShare:P0} cache hits");
        Log("workload: " + cardinality);
        Log(string.Create(Inv, $"range: {options.Days} UTC days {workload.FirstDay:yyyy-MM-dd} .. {now:yyyy-MM-dd}, ~{options.Traces / (double)options.Days:0} traces/day"));

        // ---- Seeding straight through the store ------------------------------------------------------------------
        var store = app.Services.GetRequiredService<ITraceStore>();
        var phase = new PhaseCpu();
        var seeding = await SeedAsync(store, workload, options, dbPath, cancellationToken);
        Record("seeding", phase);
        var backlog = RollupBacklog(dbPath);
        var dbBytes = FileBytes(dbPath);
        var walBytes = FileBytes(dbPath + "-wal");
        Log(string.Create(Inv, $"seeded {options.Traces:N0} traces in {seeding.Seconds:0.0} s = {options.Traces / seeding.Seconds:N0} traces/s ({options.Concurrency} in flight); rollups behind by {backlog:N0} traces; database {Mb(dbBytes)} MB + WAL {Mb(walBytes)} MB"));

        // ---- Catch-up: the first query waits for whatever the background catch-up has not counted yet -------------
        var today = BudgetPeriods.At(now).Day;
        var fromLong = workload.FirstDay.ToString("yyyy-MM-dd", Inv);
        var fromShort = BudgetPeriods.At(now.AddDays(-29)).Day;
        var catchUpStart = Stopwatch.GetTimestamp();
        var first = await SendJsonAsync(http, HttpMethod.Get, $"api/analytics/overview?workspaceId={workspaceId}&from={fromLong}&to={today}", token, null, 200, cancellationToken);
        var catchUpMs = Stats.Ms(catchUpStart, Stopwatch.GetTimestamp());
        var counted = first["range"]!["requests"]!.GetValue<long>();
        var checks = new List<(string Check, bool Ok)>
        {
            ($"overview over {options.Days} days counts every seeded trace ({counted:N0} = {options.Traces:N0})", counted == options.Traces),
            ("rollups fully caught up after the first query", RollupBacklog(dbPath) == 0),
        };
        var risks = first["budgetRisk"]!.AsArray();
        Log(string.Create(Inv, $"catch-up: first query (overview, {options.Days} d) {catchUpMs:0.0} ms with {backlog:N0} traces still to count; range.requests {counted:N0}"));
        Log($"overview budgetRisk: {risks.ToJsonString()}");
        checks.Add(("overview lists the two projects sized to be at risk", risks.Count >= 2));

        // ---- Aggregate routes ------------------------------------------------------------------------------------
        var ranges = new (string Name, string From, string? Filter)[]
        {
            ("30 d", fromShort, null),
            ($"{options.Days} d", fromLong, null),
            ("30 d", fromShort, Filter),
            ($"{options.Days} d", fromLong, Filter),
        };

        // JIT and tiering first: every route and range a few times before any is measured.
        for (var round = 0; round < 3; round++)
        {
            foreach (var (_, from, filter) in ranges)
            {
                foreach (var route in SessionRoutes.Append(KeyRoute))
                {
                    await TimeOnceAsync(http, Url(route, workspaceId, from, today, filter), route == KeyRoute ? projectKey! : token, cancellationToken);
                }
            }
        }

        var results = new List<RouteResult>();
        phase = new PhaseCpu();
        foreach (var (name, from, filter) in ranges)
        {
            foreach (var route in SessionRoutes.Append(KeyRoute))
            {
                var url = Url(route, workspaceId, from, today, filter);
                var bearer = route == KeyRoute ? projectKey! : token;
                for (var i = 0; i < options.Warmup; i++)
                {
                    await TimeOnceAsync(http, url, bearer, cancellationToken);
                }

                var times = new double[options.Iterations];
                long bytes = 0;
                for (var i = 0; i < options.Iterations; i++)
                {
                    (times[i], bytes) = await TimeOnceAsync(http, url, bearer, cancellationToken);
                }

                Array.Sort(times);
                var result = new RouteResult("/" + route, name, filter, times.Length, Stats.Percentile(times, 0.5), Stats.Percentile(times, 0.95), times[^1], bytes);
                results.Add(result);
                Log(string.Create(Inv, $"{result.Route,-28} {name,-6} {filter ?? "",-27} p50 {result.P50Ms,7:0.00} ms  p95 {result.P95Ms,7:0.00} ms  max {result.MaxMs,7:0.00} ms  {bytes,8:N0} B"));
            }
        }

        Record("aggregate routes", phase);
        var trends = await SendJsonAsync(http, HttpMethod.Get, Url("api/analytics/trends", workspaceId, fromLong, today, null), token, null, 200, cancellationToken);

        // ---- Where the long range's time goes, in process -----------------------------------------------------------
        phase = new PhaseCpu();
        var steps = await Breakdown.MeasureAsync(app.Services, dbPath, workspaceId, fromLong, today, options.Iterations, cancellationToken);
        Record("in-process breakdown", phase);
        foreach (var step in steps)
        {
            Log(string.Create(Inv, $"{step.Name,-100} p50 {step.P50Ms,7:0.00} ms  p95 {step.P95Ms,7:0.00} ms  ({step.Rows:N0})"));
        }
        checks.Add(($"trends over {options.Days} days has {options.Days} rows", trends["days"]!.AsArray().Count == options.Days));

        // ---- CSV export --------------------------------------------------------------------------------------
        var exportUrl = $"api/analytics/export.csv?workspaceId={workspaceId}&from={fromLong}&to={today}";
        var reference = await HeldTracesBytesAsync(store, workspaceId, workload, cancellationToken);
        Log(string.Create(Inv, $"reference: 10,000 newest traces held as objects = {reference / 1048576.0:0.0} MB of heap"));
        phase = new PhaseCpu();
        await ExportAsync(http, exportUrl, token, "", cancellationToken); // warm-up (JIT), not reported
        var exports = new List<ExportResult>();
        for (var i = 0; i < 3; i++)
        {
            exports.Add(await ExportAsync(http, exportUrl, token, "", cancellationToken));
        }

        for (var i = 0; i < 3; i++)
        {
            exports.Add(await ExportAsync(http, exportUrl + "&" + Filter, token, Filter, cancellationToken));
        }

        exports.Add(await ExportAsync(http, exportUrl + "&" + RareFilter, token, RareFilter, cancellationToken));

        Record("exports", phase);
        var scans = ExportScan.Measure(dbPath, workspaceId, workload.FirstDay, workload.Now.AddDays(1), "translate", "gemini");
        foreach (var scan in scans)
        {
            Log(string.Create(Inv, $"{scan.Name,-110} median {scan.P50Ms,8:0.0} ms  max {scan.P95Ms,8:0.0} ms  ({scan.Rows:N0} rows)"));
        }

        foreach (var e in exports)
        {
            Log(string.Create(Inv, $"export.csv {(e.Filter.Length == 0 ? "(no filter)" : e.Filter),-27} {e.TotalMs,7:0.0} ms, first byte {e.FirstByteMs,6:0.0} ms, first data row {e.FirstRowMs,6:0.0} ms, {e.Records - 1:N0} rows, {e.Bytes:N0} B; peak heap +{Mb(e.PeakHeapIncrease)} MB (post-GC +{Mb(e.PeakPostGcHeapIncrease)} MB), RSS +{Mb(e.PeakWorkingSetIncrease)} MB, allocated {Mb(e.Allocated)} MB, GCs gen0 {e.Gen0Collections} gen2 {e.Gen2Collections}"));
        }

        var expectedRows = Math.Min(10_000, options.Traces);
        checks.Add(("export.csv header is the spec's", exports.All(e => e.Header == UsageLogHeader)));
        checks.Add(($"export.csv (no filter) has {expectedRows:N0} data rows + header, each ended by CRLF", exports.Where(e => e.Filter.Length == 0).All(e => e.Records == expectedRows + 1)));

        return new Measured(cardinality, workload, token, seeding, backlog, dbBytes, walBytes, catchUpMs, results, steps, exports, scans, reference, checks);
    }

    internal sealed record Seeding(double Seconds, double PeakBacklog);

    /// <summary>
    /// Marks the file's rollups as the older shape (the one mark the store checks), restarts the gateway on it, and
    /// times the recount of every trace: from the start to the first answered report, with one live append every 20 ms
    /// meanwhile (what a /v1/chat's trace write would wait) and this process's memory sampled every 10 ms.
    /// </summary>
    private static async Task<RebuildResult> RebuildAsync(Options options, Measured measured, string dataDirectory, CancellationToken cancellationToken)
    {
        var dbPath = Path.Combine(dataDirectory, "killtoken.db");
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE marks SET value = 1 WHERE name = 'rollups_shape'";
            if (command.ExecuteNonQuery() != 1)
            {
                throw new InvalidOperationException("The store has no 'rollups_shape' mark to set back.");
            }
        }

        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var baseline = MemorySample.Take();
        var phase = new PhaseCpu();
        using var sampler = new MemorySampler(baseline);
        var started = Stopwatch.GetTimestamp();
        var (app, http) = await StartGatewayAsync(dataDirectory, cancellationToken);
        try
        {
            var store = app.Services.GetRequiredService<ITraceStore>();
            using var stop = new CancellationTokenSource();
            var live = new List<double>();
            var appender = Task.Run(async () =>
            {
                var rng = new Random(options.Seed + 1);
                while (!stop.IsCancellationRequested)
                {
                    var (trace, _) = measured.Workload.Make(options.Traces - 1, rng);
                    var t0 = Stopwatch.GetTimestamp();
                    await store.AppendAsync(trace with { CreatedAt = DateTimeOffset.UtcNow }, null, CancellationToken.None);
                    live.Add(Stats.Ms(t0, Stopwatch.GetTimestamp()));
                    try
                    {
                        await Task.Delay(20, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }, CancellationToken.None);

            var today = BudgetPeriods.At(DateTimeOffset.UtcNow).Day;
            var from = measured.Workload.FirstDay.ToString("yyyy-MM-dd", Inv);
            var url = $"api/analytics/overview?workspaceId={measured.Workload.WorkspaceId}&from={from}&to={today}";
            var asked = Stopwatch.GetTimestamp();
            var first = await SendJsonAsync(http, HttpMethod.Get, url, measured.Token, null, 200, cancellationToken);
            var answered = Stopwatch.GetTimestamp();
            await Task.Delay(1000, cancellationToken);
            await stop.CancelAsync();
            await appender;
            sampler.Dispose();
            Record("rebuild", phase);
            var counted = first["range"]!["requests"]!.GetValue<long>();
            var after = (await SendJsonAsync(http, HttpMethod.Get, url, measured.Token, null, 200, cancellationToken))["range"]!["requests"]!.GetValue<long>();
            measured.Checks.Add(($"after the rebuild the overview counts every trace again ({after:N0} = {options.Traces:N0} seeded + {live.Count:N0} live)", after == options.Traces + live.Count));
            var sorted = live.Order().ToArray();
            var result = new RebuildResult(Stats.Ms(started, answered), Stats.Ms(asked, answered), counted, sorted.Length, Stats.Percentile(sorted, 0.5),
                Stats.Percentile(sorted, 0.99), sorted.Length == 0 ? double.NaN : sorted[^1], sampler.PeakHeapBytes - baseline.HeapBytes,
                sampler.PeakWorkingSetBytes - baseline.WorkingSetBytes);
            Log(string.Create(Inv, $"rebuild: start to first answer {result.StartToAnswerMs:0} ms (the query itself {result.FirstQueryMs:0} ms), counted {counted:N0}; {result.LiveAppends} live appends p50 {result.LiveP50Ms:0.0} ms p99 {result.LiveP99Ms:0.0} ms max {result.LiveMaxMs:0.0} ms; peak heap +{Mb(result.PeakHeapIncrease)} MB, RSS +{Mb(result.PeakRssIncrease)} MB"));
            return result;
        }
        finally
        {
            await StopGatewayAsync(app, http);
        }
    }

    private static void Record(string name, PhaseCpu phase)
    {
        var (machine, process) = phase.Stop();
        Cpu.Add((name, machine, process));
        Log(string.Create(Inv, $"{name}: machine CPU {machine:0}% busy, this process {process:0}% of one core"));
    }

    /// <summary>Appends every trace with <see cref="Options.Concurrency"/> in flight, printing progress every 5 s.</summary>
    private static async Task<Seeding> SeedAsync(ITraceStore store, Workload workload, Options options, string dbPath, CancellationToken cancellationToken)
    {
        long next = -1;
        long done = 0;
        var started = Stopwatch.GetTimestamp();
        using var finished = new CancellationTokenSource();
        double peakBacklog = 0;
        var progress = Task.Run(async () =>
        {
            var (lastDone, lastAt) = (0L, started);
            while (!finished.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), finished.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                var (n, at) = (Interlocked.Read(ref done), Stopwatch.GetTimestamp());
                var backlog = RollupBacklog(dbPath);
                peakBacklog = Math.Max(peakBacklog, backlog);
                var rate = (n - lastDone) / (Stats.Ms(lastAt, at) / 1000);
                var overall = n / (Stats.Ms(started, at) / 1000);
                var eta = overall > 0 ? (options.Traces - n) / overall : double.NaN;
                Log(string.Create(Inv, $"  seeding: {n,10:N0} / {options.Traces:N0}  {rate,8:N0}/s now, {overall,8:N0}/s overall, ETA {eta,5:0} s; rollups behind by {backlog:N0}; GC heap {Mb(GC.GetTotalMemory(false))} MB"));
                (lastDone, lastAt) = (n, at);
            }
        }, CancellationToken.None);

        var workers = Enumerable.Range(0, options.Concurrency).Select(w => Task.Run(async () =>
        {
            var rng = new Random(HashCode.Combine(options.Seed, w));
            long i;
            while ((i = Interlocked.Increment(ref next)) < options.Traces)
            {
                var (trace, settlement) = workload.Make(i, rng);
                await store.AppendAsync(trace, settlement, cancellationToken);
                Interlocked.Increment(ref done);
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(workers);
        var seconds = Stats.Ms(started, Stopwatch.GetTimestamp()) / 1000;
        await finished.CancelAsync();
        await progress;
        return new Seeding(seconds, peakBacklog);
    }

    /// <summary>How many committed traces the rollups have not counted yet (read-only look at the store's file).</summary>
    private static long RollupBacklog(string dbPath)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT IFNULL((SELECT MAX(seq) FROM traces), 0) - IFNULL((SELECT value FROM marks WHERE name = 'rollups'), 0)";
        return (long)command.ExecuteScalar()!;
    }

    private static long FileBytes(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static string Url(string route, string workspaceId, string from, string to, string? filter)
    {
        var url = new StringBuilder(route).Append('?');
        if (route != KeyRoute)
        {
            url.Append("workspaceId=").Append(workspaceId).Append('&');
        }

        url.Append("from=").Append(from).Append("&to=").Append(to);
        if (filter is not null)
        {
            url.Append('&').Append(filter);
        }

        return url.ToString();
    }

    /// <summary>One GET to the last body byte: milliseconds and body size. Anything but 200 stops the bench.</summary>
    private static async Task<(double Ms, long Bytes)> TimeOnceAsync(HttpClient http, string url, string bearer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        var start = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var ms = Stats.Ms(start, Stopwatch.GetTimestamp());
        if ((int)response.StatusCode != 200)
        {
            throw new InvalidOperationException($"GET {url} -> {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
        }

        return (ms, body.Length);
    }

    /// <summary>
    /// The export, streamed: time to the response headers and to the first body bytes, rows counted as they arrive
    /// (the client keeps none of the body), and this process's memory sampled every 10 ms meanwhile.
    /// </summary>
    private static async Task<ExportResult> ExportAsync(HttpClient http, string url, string token, string filter, CancellationToken cancellationToken)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var baseline = MemorySample.Take();
        var (gen0, gen2) = (GC.CollectionCount(0), GC.CollectionCount(2));
        var counter = new CsvCounter();
        double firstByte = double.NaN;
        double firstRow = double.NaN;
        double total;
        MemorySampler sampler;
        using (sampler = new MemorySampler(baseline))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var start = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if ((int)response.StatusCode != 200)
            {
                throw new InvalidOperationException($"GET {url} -> {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                if (double.IsNaN(firstByte))
                {
                    firstByte = Stats.Ms(start, Stopwatch.GetTimestamp());
                }

                counter.Add(buffer.AsSpan(0, read));
                if (double.IsNaN(firstRow) && counter.Records >= 2)
                {
                    firstRow = Stats.Ms(start, Stopwatch.GetTimestamp());
                }
            }

            total = Stats.Ms(start, Stopwatch.GetTimestamp());
        }

        var after = MemorySample.Take();
        if (counter.Trailing != 0)
        {
            throw new InvalidOperationException($"The export ended in the middle of a record ({counter.Trailing} bytes after the last CRLF).");
        }

        return new ExportResult(filter, total, firstByte, firstRow, counter.Records, counter.Bytes, counter.Header,
            sampler.PeakHeapBytes - baseline.HeapBytes, sampler.PeakLastGcHeapBytes - baseline.LastGcHeapBytes, sampler.PeakWorkingSetBytes - baseline.WorkingSetBytes,
            after.AllocatedBytes - baseline.AllocatedBytes, GC.CollectionCount(0) - gen0, GC.CollectionCount(2) - gen2, sampler.Samples);
    }

    /// <summary>What holding the export's 10,000 traces at once would cost: read through the store, kept, heap measured.</summary>
    private static async Task<long> HeldTracesBytesAsync(ITraceStore store, string workspaceId, Workload workload, CancellationToken cancellationToken)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var held = new List<KillToken.Core.Domain.RequestTrace>(10_000);
        var query = new TraceQuery { From = workload.FirstDay, Limit = 500 };
        while (held.Count < 10_000)
        {
            var page = await store.QueryAsync(workspaceId, query, cancellationToken);
            held.AddRange(page.Items);
            if (page.NextCursor is null)
            {
                break;
            }

            query = query with { Cursor = page.NextCursor };
        }

        var bytes = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(held);
        return bytes;
    }

    private static async Task<JsonObject> SendJsonAsync(HttpClient http, HttpMethod method, string path, string? bearer, object? body, int expected, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if ((int)response.StatusCode != expected)
        {
            throw new InvalidOperationException($"{method} {path} -> {(int)response.StatusCode} (expected {expected}): {text}");
        }

        return JsonNode.Parse(text)!.AsObject();
    }

    private static void Print(Options options, Measured m, RebuildResult? rebuild)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"## KillToken analytics: {options.Traces:N0} traces over {options.Days} UTC days, one workspace (embedded SQLite store, in process, {Environment.ProcessorCount} CPUs)"));
        sb.AppendLine();
        sb.AppendLine("Workload: " + m.Cardinality + ".");
        sb.AppendLine();
        sb.AppendLine("| seeding and catch-up | value |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(string.Create(Inv, $"| traces appended through ITraceStore.AppendAsync ({options.Concurrency} in flight) | {options.Traces:N0} in {m.Seeding.Seconds:0.0} s = **{options.Traces / m.Seeding.Seconds:N0} traces/s** |"));
        sb.AppendLine(string.Create(Inv, $"| rollups behind the traces: at most (5 s samples) / at the end | {m.Seeding.PeakBacklog:N0} / {m.Backlog:N0} traces |"));
        sb.AppendLine(string.Create(Inv, $"| catch-up: first query after seeding (overview, {options.Days} d) | **{m.CatchUpMs:0.0} ms** |"));
        sb.AppendLine(string.Create(Inv, $"| database file / WAL after seeding | {Mb(m.DbBytes)} MB / {Mb(m.WalBytes)} MB |"));
        if (rebuild is { } rb)
        {
            sb.AppendLine(string.Create(Inv, $"| rebuild of every rollup row from the traces (older shape → current, on restart): start to first answered report | **{rb.StartToAnswerMs:N0} ms** (the report itself waited {rb.FirstQueryMs:N0} ms) |"));
            sb.AppendLine(string.Create(Inv, $"| live trace appends meanwhile (one per 20 ms): p50 / p99 / max | {rb.LiveP50Ms:0.0} / {rb.LiveP99Ms:0.0} / {rb.LiveMaxMs:0.0} ms ({rb.LiveAppends} appends) |"));
            sb.AppendLine(string.Create(Inv, $"| rebuild memory: peak heap Δ / peak RSS Δ | {Mb(rb.PeakHeapIncrease)} MB / {Mb(rb.PeakRssIncrease)} MB |"));
        }

        sb.AppendLine(string.Create(Inv, $"| machine CPU busy before start (2 s idle sample) | {IdleBusyPercent:0}% |"));
        foreach (var (name, machine, process) in Cpu)
        {
            sb.AppendLine(string.Create(Inv, $"| machine CPU busy during {name} / this process (% of one core) | {machine:0}% / {process:0}% |"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"Aggregate routes over loopback HTTP, {options.Iterations} sequential requests each after {options.Warmup} warm-up (target p95 ≤ {TargetP95Ms:0} ms):"));
        sb.AppendLine();
        sb.AppendLine("| route | range | filter | p50 ms | p95 ms | max ms | body bytes | p95 ≤ 50 ms |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|:---:|");
        foreach (var r in m.Results)
        {
            sb.AppendLine(string.Create(Inv, $"| {r.Route} | {r.Range} | {r.Filter ?? "—"} | {r.P50Ms:0.0} | {r.P95Ms:0.0} | {r.MaxMs:0.0} | {r.Bytes:N0} | {(r.P95Ms <= TargetP95Ms ? "yes" : "**no**")} |"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"Where the {options.Days}-day report's time goes, in process (no HTTP), {options.Iterations} runs each:"));
        sb.AppendLine();
        sb.AppendLine("| step | p50 ms | p95 ms | rows / result |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var step in m.Steps)
        {
            sb.AppendLine(string.Create(Inv, $"| {step.Name} | {step.P50Ms:0.00} | {step.P95Ms:0.00} | {step.Rows:N0} |"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"CSV export (`/api/analytics/export.csv`, {options.Days} d, cap 10,000 rows), streamed by the client; memory of this process (gateway + client) sampled every 10 ms against a baseline taken after a full GC:"));
        sb.AppendLine();
        sb.AppendLine("| filter | total ms | first byte ms | first data row ms | data rows | body | peak heap Δ | peak post-GC heap Δ | peak RSS Δ | allocated | GCs (gen0/gen2) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in m.Exports)
        {
            sb.AppendLine(string.Create(Inv, $"| {(e.Filter.Length == 0 ? "—" : e.Filter)} | {e.TotalMs:0.0} | {e.FirstByteMs:0.0} | {e.FirstRowMs:0.0} | {e.Records - 1:N0} | {Mb(e.Bytes)} MB | {Mb(e.PeakHeapIncrease)} MB | {Mb(e.PeakPostGcHeapIncrease)} MB | {Mb(e.PeakWorkingSetIncrease)} MB | {Mb(e.Allocated)} MB | {e.Gen0Collections}/{e.Gen2Collections} |"));
        }

        sb.AppendLine();
        sb.AppendLine(string.Create(Inv, $"For scale: the 10,000 newest traces held as objects take {Mb(m.Reference)} MB of heap; the CSV body is {Mb(m.Exports[0].Bytes)} MB."));
        sb.AppendLine();
        sb.AppendLine("The rare filter's trace scan in SQL alone (bench's own read-only connection, 3 runs):");
        sb.AppendLine();
        sb.AppendLine("| statement | median ms | max ms | rows |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var scan in m.Scans)
        {
            sb.AppendLine(string.Create(Inv, $"| {scan.Name} | {scan.P50Ms:0.0} | {scan.P95Ms:0.0} | {scan.Rows:N0} |"));
        }
        sb.AppendLine();
        foreach (var (check, ok) in m.Checks)
        {
            sb.AppendLine($"- [{(ok ? "x" : " ")}] {check}");
        }

        var missed = m.Results.Where(r => r.P95Ms > TargetP95Ms).ToList();
        sb.AppendLine(missed.Count == 0
            ? $"- [x] every aggregate route at p95 ≤ {TargetP95Ms:0} ms"
            : string.Create(Inv, $"- [ ] p95 ≤ {TargetP95Ms:0} ms missed by {missed.Count} of {m.Results.Count} route/range pairs (worst {missed.Max(r => r.P95Ms):0.0} ms)"));
        Console.Write(sb.ToString());
    }

    private static JsonObject Json(Options options, Measured m, RebuildResult? rebuild)
    {
        static double R(double value) => double.IsFinite(value) ? Math.Round(value, 3) : -1;
        var routes = new JsonArray();
        foreach (var r in m.Results)
        {
            routes.Add(new JsonObject
            {
                ["route"] = r.Route,
                ["range"] = r.Range,
                ["filter"] = r.Filter,
                ["requests"] = r.Requests,
                ["p50Ms"] = R(r.P50Ms),
                ["p95Ms"] = R(r.P95Ms),
                ["maxMs"] = R(r.MaxMs),
                ["bytes"] = r.Bytes,
            });
        }

        var exported = new JsonArray();
        foreach (var e in m.Exports)
        {
            exported.Add(new JsonObject
            {
                ["filter"] = e.Filter,
                ["totalMs"] = R(e.TotalMs),
                ["firstByteMs"] = R(e.FirstByteMs),
                ["firstRowMs"] = R(e.FirstRowMs),
                ["dataRows"] = e.Records - 1,
                ["bytes"] = e.Bytes,
                ["peakHeapIncreaseBytes"] = e.PeakHeapIncrease,
                ["peakPostGcHeapIncreaseBytes"] = e.PeakPostGcHeapIncrease,
                ["peakRssIncreaseBytes"] = e.PeakWorkingSetIncrease,
                ["allocatedBytes"] = e.Allocated,
                ["gen0"] = e.Gen0Collections,
                ["gen2"] = e.Gen2Collections,
            });
        }

        return new JsonObject
        {
            ["bench"] = "killtoken-analytics",
            ["utc"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv),
            ["cpus"] = Environment.ProcessorCount,
            ["traces"] = options.Traces,
            ["days"] = options.Days,
            ["cells"] = m.Workload.Cells,
            ["seedingSeconds"] = R(m.Seeding.Seconds),
            ["seedingPerSecond"] = R(options.Traces / m.Seeding.Seconds),
            ["rollupBacklogPeak"] = m.Seeding.PeakBacklog,
            ["rollupBacklogEnd"] = m.Backlog,
            ["catchUpMs"] = R(m.CatchUpMs),
            ["databaseBytes"] = m.DbBytes,
            ["walBytes"] = m.WalBytes,
            ["machineBusyBeforePct"] = R(IdleBusyPercent),
            ["cpu"] = new JsonArray([.. Cpu.Select(c => (JsonNode)new JsonObject { ["phase"] = c.Phase, ["machineBusyPct"] = R(c.MachineBusy), ["processPctOfOneCore"] = R(c.ProcessCpu) })]),
            ["routes"] = routes,
            ["targetP95Ms"] = TargetP95Ms,
            ["targetMet"] = m.Results.All(r => r.P95Ms <= TargetP95Ms),
            ["worstP95Ms"] = R(m.Results.Max(r => r.P95Ms)),
            ["breakdown"] = new JsonArray([.. m.Steps.Select(st => (JsonNode)new JsonObject { ["step"] = st.Name, ["p50Ms"] = R(st.P50Ms), ["p95Ms"] = R(st.P95Ms), ["rows"] = st.Rows })]),
            ["exports"] = exported,
            ["heldTracesReferenceBytes"] = m.Reference,
            ["exportScans"] = new JsonArray([.. m.Scans.Select(st => (JsonNode)new JsonObject { ["statement"] = st.Name, ["medianMs"] = R(st.P50Ms), ["maxMs"] = R(st.P95Ms), ["rows"] = st.Rows })]),
            ["rebuild"] = rebuild is not { } rb ? null : new JsonObject
            {
                ["startToAnswerMs"] = R(rb.StartToAnswerMs),
                ["firstQueryMs"] = R(rb.FirstQueryMs),
                ["counted"] = rb.Counted,
                ["liveAppends"] = rb.LiveAppends,
                ["liveP50Ms"] = R(rb.LiveP50Ms),
                ["liveP99Ms"] = R(rb.LiveP99Ms),
                ["liveMaxMs"] = R(rb.LiveMaxMs),
                ["peakHeapIncreaseBytes"] = rb.PeakHeapIncrease,
                ["peakRssIncreaseBytes"] = rb.PeakRssIncrease,
            },
            ["checksOk"] = m.Checks.All(c => c.Ok),
            ["peakRssBytes"] = MemorySample.ReadPeakRssBytes(),
        };
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", Inv);

    private static void Log(string message) => Console.WriteLine("# " + message);
}
