using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Streaming;

/// <summary>
/// A provider that drops the connection right after its first events (Kestrel's <c>HttpContext.Abort()</c>: a TCP reset,
/// usually before the gateway has read the response's headers). The request reached the provider, which works on it and
/// bills it: the gateway must not resend it (a second billable call) nor record it as free.
/// </summary>
[TestClass]
public sealed class CutStreamBillingTests
{
    private static ProviderTrio _trio = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _trio = await ProviderTrio.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _trio.DisposeAsync();

    /// <summary>Writes the first <paramref name="events"/> of a stream, flushing each, then resets the connection.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> CutAfter(IReadOnlyList<string> stream, int events) => async (context, _) =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        for (var i = 0; i < events; i++)
        {
            await context.Response.WriteAsync(stream[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }

        context.Abort();
    };

    [TestMethod]
    [DataRow(2, DisplayName = "cut after the first two events (soak fail-cut)")]
    [DataRow(6, DisplayName = "cut after the usage chunk, before [DONE] (soak fail-late)")]
    public async Task OpenAI_StreamCutByTheProvider_IsSentOnce_AndBilled(int events)
    {
        var tenant = await _trio.Host.CreateTenantAsync("openai");
        _trio.OpenAI.Handler = CutAfter(SseTestKit.OpenAIStream(prompt: 1000, completion: 500), events);
        decimal traced = 0;
        for (var k = 0; k < 5; k++)
        {
            var before = _trio.OpenAI.Count;
            using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", new
            {
                provider = "openai",
                model = "gpt-4o-mini",
                stream = true,
                messages = new[] { new { role = "user", content = $"Say hello ({k})" } },
            });

            // Either the events got through (200, an error event, metrics) or the reset beat the headers (a 502 JSON error
            // with metrics): both are a failed call with a cost.
            JsonNode metrics;
            if ((int)response.StatusCode == 200)
            {
                var received = await SseTestKit.ReadAllAsync(response);
                Assert.AreEqual("provider_error", received.Single(e => e.Name == "error").Json["error"]!["code"]!.GetValue<string>());
                metrics = received[^1].Json;
            }
            else
            {
                var error = await GatewayHost.ReadJsonAsync(response, 502);
                Assert.AreEqual("provider_error", error["error"]!["code"]!.GetValue<string>());
                metrics = error["error"]!["metrics"]!;
            }

            var trace = await SseTestKit.WaitForTraceAsync(tenant, SseTestKit.RequestId(response));
            Assert.AreEqual(502, trace["status"]!.GetValue<int>());
            Assert.IsTrue(trace["inputTokens"]!.GetValue<long>() > 0, $"call {k}: the prompt it delivered is counted");
            var cost = trace["costUsd"]?.GetValue<decimal>() ?? 0;
            Assert.IsTrue(cost > 0, $"call {k}: a cut call is billed, not free: {trace.ToJsonString()}");
            Assert.AreEqual(cost, metrics["costUsd"]!.GetValue<decimal>(), "the client is told the same cost");
            Assert.AreEqual(before + 1, _trio.OpenAI.Count, $"call {k}: a request the provider received is not sent again");
            traced += cost;
        }

        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        // The project's spend is shown to the micro-dollar.
        var spent = project["spend"]!["today"]!["spentUsd"]!.GetValue<decimal>();
        Assert.IsTrue(Math.Abs(spent - traced) <= 0.000001m, $"the budget counts what the traces cost: {spent} vs {traced}");
        Assert.AreEqual(0m, project["spend"]!["today"]!["reservedUsd"]!.GetValue<decimal>());
    }
}
