using System.Globalization;
using KillToken.Soak;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Soak;

/// <summary>
/// Issue 19, item 4: the CI cut of the 30-minute soak (bench/KillToken.Bench <c>--soak</c>, the same traffic code). About
/// half a minute of steady mixed traffic — plain, streamed, cached, idempotent twins and replays, calls failing upstream
/// (500s, cut streams, timeouts), budget refusals — with management writes every second, against the self-host as a
/// child process, on each store. Afterwards every answered call has exactly one trace and the rollups hold their count
/// and cost; the process's threads, file handles, memory and the SQLite WAL do not grow without bound across the second
/// half. The bounds are generous (no timing, no performance figures): the bench's 30-minute run judges flatness.
/// This namespace runs in CI's default pass only, so each test picks its store itself.
/// </summary>
[TestClass]
public sealed class SoakTests
{
    private static readonly TimeSpan Load = TimeSpan.FromSeconds(30);
    private const double OperationsPerSecond = 15;

    /// <summary>Loose on purpose: a shared CI machine; these catch a leak per call, not a few MB of drift.</summary>
    private static readonly SoakLimits Generous = new(RssGrowthMb: 150, ThreadDelta: 24, HandleDelta: 32, SocketDelta: 128, WalMaxMb: 256, DataGrowthRatio: 10);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Sqlite_MixedTraffic_EveryAnsweredCallHasOneTraceAndItsCostInTheRollups_AndResourcesStayBounded()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        try
        {
            await SoakAsync(dataDirectory, Path.Combine(dataDirectory, "killtoken.db"), [], listTraces: null);
        }
        finally
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

    [TestMethod]
    public async Task Cosmos_MixedTraffic_EveryAnsweredCallHasOneTraceAndItsCostInTheRollups_AndResourcesStayBounded()
    {
        var emulator = CosmosEmulator.Shared;
        var database = CosmosEmulator.NewDatabaseName("soak");
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        try
        {
            await SoakAsync(dataDirectory, databasePath: null, new Dictionary<string, string>
            {
                ["KILLTOKEN_STORE"] = "cosmos",
                ["COSMOS_CONNECTION_STRING"] = emulator.ConnectionString,
                ["COSMOS_DATABASE"] = database,
                ["AzureWebJobsStorage"] = AzuriteEmulator.Shared.ConnectionString,
                ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
            },
            // The container itself, not the gateway's trace list: an independent read.
            listTraces: tenant => token => SoakCosmosTraces.ListAsync(emulator.Endpoint, database, tenant.WorkspaceId, token));
        }
        finally
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

    private async Task SoakAsync(string dataDirectory, string? databasePath, Dictionary<string, string> storeSettings,
        Func<SoakTenant, Func<CancellationToken, Task<List<SoakTrace>>>>? listTraces)
    {
        await using var upstream = await SoakUpstream.StartAsync(slowFor: TimeSpan.FromSeconds(6));
        var environment = new Dictionary<string, string>(storeSettings)
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(upstream.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "2",
        };
        // Explicit, whatever the test run's own environment says (the Cosmos pass sets KILLTOKEN_TEST_STORE, not this).
        environment.TryAdd("KILLTOKEN_STORE", "sqlite");

        await using var gateway = await GatewayProcess.StartAsync(dataDirectory, environment);
        var tenant = await SoakTenant.SetUpAsync(gateway.Client, CancellationToken.None);
        var traffic = new SoakTraffic(gateway.Client, tenant);
        await traffic.ProbeAsync();

        var samples = new List<SoakSample>();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        SoakSample Sample() => SoakSample.Read(gateway.Pid, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, databasePath, traffic.Calls.Count);
        using (var stop = new CancellationTokenSource(Load))
        {
            var load = traffic.RunLoadAsync(OperationsPerSecond, stop.Token);
            var management = traffic.RunManagementAsync(TimeSpan.FromSeconds(1), stop.Token);
            samples.Add(Sample());
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None);
                samples.Add(Sample());
            }

            await Task.WhenAll(load, management);
        }

        samples.Add(Sample());
        var reconciliation = await SoakReconciliation.RunAsync(gateway.Client, tenant, traffic.Calls, TimeSpan.FromSeconds(30),
            listTraces?.Invoke(tenant), CancellationToken.None);
        // Judged from 10 s in (JIT, pools, the first pages of the file), the end against the halfway sample.
        var flatness = SoakFlatness.Evaluate(samples, warmUpSeconds: 10, referenceSeconds: double.MaxValue, Generous);

        foreach (var (outcome, (count, cost)) in reconciliation.ByOutcome)
        {
            TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{outcome}: {count} calls, {cost} USD"));
        }

        foreach (var s in new[] { flatness.Start, flatness.Reference, flatness.End })
        {
            TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.ElapsedSeconds:0} s: {s.Calls} calls, rss {s.RssKb / 1024.0:0.0} MB, {s.Threads} threads, {s.Handles} handles ({s.Sockets} sockets), db {s.DataBytes} B, wal {s.WalBytes} B"));
        }

        Assert.IsTrue(traffic.Calls.Count > Load.TotalSeconds * OperationsPerSecond / 2, $"only {traffic.Calls.Count} calls were made");
        Assert.AreEqual(0, reconciliation.Lost, "calls the gateway never answered");
        Assert.IsEmpty(traffic.ManagementFailures, string.Join("\n", traffic.ManagementFailures));
        Assert.IsTrue(reconciliation.Passed, string.Join("\n", reconciliation.Failures));
        Assert.IsTrue(flatness.Passed, string.Join("\n", flatness.Failures));
        // Every part of the mix really happened: the accounting above covered each path.
        foreach (var expected in new[] { "cached 200 cache-hit", "twin 200 replayed", "replay 200 replayed", "fail-500 502 provider_error", "fail-slow 504 provider_timeout", "budget 429 budget_exceeded", "stream 200" })
        {
            Assert.IsTrue(reconciliation.ByOutcome.ContainsKey(expected), $"no '{expected}' in the mix: {string.Join(", ", reconciliation.ByOutcome.Keys)}");
        }
    }
}
