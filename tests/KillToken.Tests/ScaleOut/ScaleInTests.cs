using System.Diagnostics;
using System.Globalization;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.ScaleOut;

/// <summary>
/// Instances come and go: when the platform scales in, it stops an instance (SIGTERM) right after it served calls. On
/// Cosmos DB an instance holds the rollups and the spend of projects without limits in memory for up to a second
/// (<c>CosmosDeferredCounters</c>); a clean stop writes them before the process exits (issue 18: a clean stop loses
/// nothing), so the instances that stay report every call at once — nothing waits for the next day's reconciliation.
/// </summary>
[TestClass]
public sealed class ScaleInTests
{
    private static FakeUpstream _openai = null!;
    private static SharedStoreCluster _cluster = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _openai = await FakeUpstream.StartAsync(Usage(prompt: 0, completion: 100_000)); // gpt-4o-mini: $0.06 a call
        _cluster = await SharedStoreCluster.StartAsync(_openai, selfHosts: 1, functionsWorker: false, processes: 1);
        context.WriteLine($"{_cluster.Instances.Count} instances on database {_cluster.Database} started together in {_cluster.Startup.TotalSeconds:0.0} s");
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _cluster.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestMethod]
    public async Task InstanceStoppedRightAfterItsCalls_TheOthersReportEveryCallAndItsSpend_AtOnce()
    {
        var (stays, leaves) = (_cluster.Instances[0], _cluster.Instances[1]);
        var tenant = await SharedStoreCluster.CreateTenantAsync(stays); // no limits: its spend is held in memory between flushes

        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => leaves.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", "scale in"))));
        foreach (var answer in answers)
        {
            await leaves.ReadAsync(answer, 200);
        }

        await stays.ReadAsync(await stays.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", "scale in")), 200);

        var clock = Stopwatch.StartNew();
        await leaves.StopProcessAsync();
        TestContext.WriteLine($"{leaves.Name} stopped (SIGTERM) {clock.ElapsedMilliseconds} ms after its 30 answers");

        // No waiting: what the stopped instance held was written before it exited.
        var totals = (await stays.JsonAsync(HttpMethod.Get, "v1/summary", tenant.ApiKey, null, 200))["totals"]!;
        Assert.AreEqual(31, totals["requests"]!.GetValue<long>(), $"{stays.Name}'s report counts the stopped instance's calls: {totals.ToJsonString()}");
        Assert.AreEqual(1.86m, totals["costUsd"]!.GetValue<decimal>(), totals.ToJsonString());

        var project = await stays.JsonAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", tenant.Token, null, 200);
        Assert.AreEqual(1.86m, project["spend"]!["today"]!["spentUsd"]!.GetValue<decimal>(), $"spend without a limit, held in memory by {leaves.Name} until it stopped");
        Assert.AreEqual(1.86m, project["spend"]!["month"]!["spentUsd"]!.GetValue<decimal>());

        var traces = (await stays.JsonAsync(HttpMethod.Get, "v1/requests?limit=200", tenant.ApiKey, null, 200))["data"]!.AsArray();
        Assert.HasCount(31, traces, "a clean stop loses no trace");
        Assert.AreEqual(1.86m, traces.Sum(t => t!["costUsd"]!.GetValue<decimal>()), "traces, rollups and spend agree");
        TestContext.WriteLine($"after the stop: {totals["requests"]} requests, {totals["costUsd"]!.GetValue<decimal>().ToString(CultureInfo.InvariantCulture)} USD in the report, spend and traces");
    }
}
