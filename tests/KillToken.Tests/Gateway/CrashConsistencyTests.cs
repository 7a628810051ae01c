using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

/// <summary>
/// Issue 10, items 3 and 4, and issue 18's write-behind on the embedded store: the gateway is stopped in the middle of a
/// load — killed (SIGKILL), or stopped cleanly (SIGTERM) — then started again on the same data folder. The reports count
/// exactly the traces and the project's budget spend is exactly the traced cost, with no reservation left held. A clean
/// stop loses no answered call's trace; a kill loses at most the trace writes still under way when it landed (calls
/// answered in its last moments).
/// </summary>
[TestClass]
public sealed class CrashConsistencyTests
{
    /// <summary>How old an answered call whose trace a kill lost may be: writes are committed within milliseconds.</summary>
    private static readonly TimeSpan CrashWindow = TimeSpan.FromSeconds(2);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task KilledMidLoad_LosesOnlyTheLastMomentsWrites_AndReportsAndBudgetSpendAgreeWithTheTraces_AfterRestart()
    {
        var (answered, stoppedAt, traced) = await LoadStopAndRestartAsync(gateway => gateway.KillAsync());
        var missing = answered.Where(call => !traced.Contains(call.Key)).ToList();
        var oldestMissing = missing.Count == 0 ? TimeSpan.Zero : missing.Max(call => Stopwatch.GetElapsedTime(call.Value, stoppedAt));
        TestContext.WriteLine($"answered before the kill: {answered.Count}; not traced: {missing.Count}, answered at most {oldestMissing.TotalMilliseconds:0} ms before it");
        Assert.IsTrue(oldestMissing <= CrashWindow,
            $"a call answered {oldestMissing.TotalMilliseconds:0} ms before the kill lost its trace: {string.Join(", ", missing.Take(5).Select(m => m.Key))}");
    }

    [TestMethod]
    public async Task StoppedCleanlyMidLoad_EveryAnsweredCallIsTraced_AndReportsAndBudgetSpendAgreeWithTheTraces_AfterRestart()
    {
        var (answered, _, traced) = await LoadStopAndRestartAsync(gateway => gateway.StopAsync());
        var missing = answered.Keys.Where(id => !traced.Contains(id)).ToList();
        TestContext.WriteLine($"answered before the stop: {answered.Count}; not traced: {missing.Count}");
        Assert.AreEqual(0, missing.Count, $"answered before a clean stop but not traced: {string.Join(", ", missing.Take(5))}");
    }

    /// <summary>
    /// Loads a gateway process with 16 callers, stops it with <paramref name="stop"/> once 150 calls were answered, starts
    /// it again on the same folder and checks that reports and budget spend agree with the traces. Returns each answered
    /// call (its request id and when its answer arrived), when the stop began, and the ids traced after the restart.
    /// </summary>
    private async Task<(ConcurrentDictionary<string, long> Answered, long StoppedAt, HashSet<string> Traced)> LoadStopAndRestartAsync(
        Func<GatewayProcess, Task> stop)
    {
        await using var upstream = await FakeUpstream.StartAsync(async (context, request) =>
        {
            await Task.Delay(Random.Shared.Next(0, 15)); // calls are in flight when the stop lands
            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1200, completion: 300))(context, request);
        });
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var environment = new Dictionary<string, string> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(upstream.BaseAddress, "v1").ToString() };
        try
        {
            var answered = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            long stoppedAt;
            string token, projectId, apiKey;
            await using (var first = await GatewayProcess.StartAsync(dataDirectory, environment))
            {
                (token, projectId, apiKey) = await SetUpAsync(first.Client);
                using var load = new CancellationTokenSource();
                var workers = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
                {
                    while (!load.IsCancellationRequested)
                    {
                        try
                        {
                            using var response = await SendAsync(first.Client, HttpMethod.Post, "v1/chat", apiKey, new
                            {
                                provider = "openai",
                                model = "gpt-4o-mini",
                                messages = new[] { new { role = "user", content = "crash test" } },
                                metadata = new { feature = "crash" },
                            });
                            if ((int)response.StatusCode == 200)
                            {
                                var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                                answered[body!["metrics"]!["requestId"]!.GetValue<string>()] = Stopwatch.GetTimestamp();
                            }
                        }
                        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                        {
                            return; // the gateway is gone
                        }
                    }
                })).ToList();

                while (answered.Count < 150)
                {
                    await Task.Delay(10);
                }

                stoppedAt = Stopwatch.GetTimestamp();
                await stop(first);
                await load.CancelAsync();
                await Task.WhenAll(workers);
            }

            await using var second = await GatewayProcess.StartAsync(dataDirectory, environment);
            var traces = await AllTracesAsync(second.Client, apiKey);
            var tracedCost = traces.Sum(t => t["costUsd"]?.GetValue<decimal>() ?? 0m);
            TestContext.WriteLine($"traced after the restart: {traces.Count} (${tracedCost})");
            Assert.IsTrue(tracedCost > 0m);

            using var summaryResponse = await SendAsync(second.Client, HttpMethod.Get, "v1/summary", apiKey);
            var summary = (await GatewayHost.ReadJsonAsync(summaryResponse, 200))["totals"]!;
            Assert.AreEqual(traces.Count, summary["requests"]!.GetValue<long>(), "the report counts every trace, once");
            Assert.AreEqual(Math.Round(tracedCost, 10), summary["costUsd"]!.GetValue<decimal>(), "the report's cost is the traces' cost");
            Assert.AreEqual(traces.Sum(t => t["inputTokens"]!.GetValue<long>()), summary["inputTokens"]!.GetValue<long>());

            using var projectResponse = await SendAsync(second.Client, HttpMethod.Get, $"api/projects/{projectId}", token);
            var today = (await GatewayHost.ReadJsonAsync(projectResponse, 200))["spend"]!["today"]!;
            // The ledger keeps whole nano-dollars, rounding each call's cost up; the view shows six decimals.
            var spent = today["spentUsd"]!.GetValue<decimal>();
            Assert.IsTrue(Math.Abs(spent - tracedCost) <= (traces.Count * 0.000000001m) + 0.000001m,
                $"budget spend {spent} is the traced cost {tracedCost}");
            Assert.AreEqual(0m, today["reservedUsd"]!.GetValue<decimal>(), "no reservation is left held by the stopped process");
            return (answered, stoppedAt, traces.Select(t => t["id"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal));
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

    private static async Task<(string Token, string ProjectId, string ApiKey)> SetUpAsync(HttpClient client)
    {
        using var signUp = await client.PostAsJsonAsync("api/auth/signup", new { email = $"crash-{Guid.NewGuid():N}@example.com", password = "correct horse battery" });
        var account = await GatewayHost.ReadJsonAsync(signUp, 201);
        var token = account["token"]!.GetValue<string>();
        var workspaceId = account["workspace"]!["id"]!.GetValue<string>();
        // A budget, so every call reserves and settles.
        using var created = await SendAsync(client, HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", token, new { name = "crash", dailyBudgetUsd = 1000m });
        var project = await GatewayHost.ReadJsonAsync(created, 201);
        using var credential = await SendAsync(client, HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", token, new { provider = "openai", apiKey = "sk-crash-test-0123456789" });
        await GatewayHost.ReadJsonAsync(credential, 201);
        return (token, project["project"]!["id"]!.GetValue<string>(), project["apiKey"]!.GetValue<string>());
    }

    private static async Task<List<JsonObject>> AllTracesAsync(HttpClient client, string apiKey)
    {
        var all = new List<JsonObject>();
        string? cursor = null;
        do
        {
            using var response = await SendAsync(client, HttpMethod.Get, "v1/requests?limit=200" + (cursor is null ? string.Empty : "&cursor=" + Uri.EscapeDataString(cursor)), apiKey);
            var page = await GatewayHost.ReadJsonAsync(response, 200);
            all.AddRange(page["data"]!.AsArray().Select(t => t!.AsObject()));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return all;
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string bearer, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client.SendAsync(request);
    }
}
