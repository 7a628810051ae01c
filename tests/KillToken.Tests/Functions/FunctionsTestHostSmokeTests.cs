using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using KillToken.Testing.FunctionsHost;

namespace KillToken.Tests.Functions;

/// <summary>
/// The built Azure Functions worker driven through <see cref="FunctionsTestHost"/> as the Functions host drives it:
/// every function loads, HTTP calls reach their functions (and the catch-all), a timer tick runs, and the worker
/// stops cleanly on WorkerTerminate.
/// </summary>
[TestClass]
public sealed class FunctionsTestHostSmokeTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task RealWorker_LoadsEveryFunction_ServesHttpAndTimer_AndExitsCleanly()
    {
        var workerDirectory = FunctionsWorkerBuild.Directory;
        var dataDirectory = Directory.CreateTempSubdirectory("killtoken-fnhost-").FullName;
        try
        {
            var clock = Stopwatch.StartNew();
            var host = await FunctionsTestHost.StartAsync(workerDirectory, new Dictionary<string, string?> { ["KILLTOKEN_DATA_DIR"] = dataDirectory });
            var loaded = clock.Elapsed;
            try
            {
                Assert.IsGreaterThan(40, host.FunctionNames.Count, string.Join(", ", host.FunctionNames));
                CollectionAssert.Contains(host.FunctionNames.ToList(), "DailyClose");
                CollectionAssert.Contains(host.FunctionNames.ToList(), "Unmatched");

                var health = await host.Client.GetAsync("health");
                var firstServed = clock.Elapsed;
                var status = await GatewayHost.ReadJsonAsync(health, 200);
                Assert.AreEqual("ok", status["status"]!.GetValue<string>());

                // No function but the catch-all takes this path: the gateway's own 404 body, not the host's empty one.
                var unknown = await GatewayHost.ReadJsonAsync(await host.Client.GetAsync("no-such-route"), 404);
                Assert.AreEqual("not_found", unknown["error"]?["code"]?.GetValue<string>(), unknown.ToJsonString());

                var email = $"fnhost-{Guid.NewGuid():N}@example.com";
                var signup = await host.Client.PostAsJsonAsync("api/auth/signup", new { email, password = "correct horse battery", name = "Fn Host" });
                var account = await GatewayHost.ReadJsonAsync(signup, 201);
                Assert.IsFalse(string.IsNullOrEmpty(account["token"]?.GetValue<string>()), account.ToJsonString());

                var close = await host.InvokeTimerAsync("DailyClose");
                Assert.IsTrue(close.Succeeded, close.ToString());

                var invocations = host.Invocations;
                Assert.HasCount(4, invocations, string.Join(Environment.NewLine, invocations));
                Assert.IsTrue(invocations.All(i => i.Succeeded), string.Join(Environment.NewLine, invocations));
                CollectionAssert.AreEqual(new[] { "Health", "Unmatched", "SignUp", "DailyClose" }, invocations.Select(i => i.FunctionName).ToArray());

                var timings = host.StartupTimings;
                TestContext.WriteLine(
                    $"from the worker's process start: StartStream {timings.StreamStarted.TotalMilliseconds:0} ms, init {timings.WorkerInitialized.TotalMilliseconds:0} ms, " +
                    $"{host.FunctionNames.Count} functions loaded {timings.FunctionsLoaded.TotalMilliseconds:0} ms, first /health served {(timings.FunctionsLoaded + firstServed - loaded).TotalMilliseconds:0} ms; " +
                    $"StartAsync took {loaded.TotalMilliseconds:0} ms in all");
            }
            finally
            {
                await host.DisposeAsync();
            }

            Assert.AreEqual(0, host.WorkerExitCode, string.Join(Environment.NewLine, host.WorkerOutput.TakeLast(40)));
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}
