using System.Net.Http.Headers;
using System.Net.Http.Json;
using KillToken.Api.Hosting;
using KillToken.Tests.Functions;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Observability;

/// <summary>
/// With an OTLP endpoint set, both hosts — the self-host and the Functions worker under a host — export the gateway's
/// spans to the collector; the worker's carry the Functions resource (its OpenTelemetry defaults are on).
/// </summary>
[TestClass]
public sealed class TelemetryOnBothHostsTests
{
    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task OtlpEndpoint_TheGatewaysSpansReachTheCollector(HostKind kind)
    {
        await using var collector = await FakeUpstream.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            return Task.CompletedTask;
        });
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
            [SettingNames.OtlpEndpoint] = collector.BaseAddress.ToString().TrimEnd('/'),
            [SettingNames.OtlpProtocol] = "http/protobuf",
            // What the platform sets in Azure; the worker's resource detector names the service after it.
            ["WEBSITE_SITE_NAME"] = kind == HostKind.Functions ? "func-killtoken-otel-test" : null,
        });
        try
        {
            var (token, workspaceId) = await GatewayHost.SignUpAsync(host.Client);
            var (_, apiKey) = await GatewayHost.CreateProjectAsync(host.Client, token, workspaceId);
            await GatewayHost.ReadJsonAsync(await SendAsync(host.Client, token, $"api/workspaces/{workspaceId}/provider-credentials",
                new { provider = "openai", apiKey = "sk-test-tenant-key-0123456789" }), 201);
            await GatewayHost.ReadJsonAsync(await SendAsync(host.Client, apiKey, "v1/chat", GatewayScenarios.Chat("gpt-4o-mini")), 200);
        }
        finally
        {
            // Stopping the host (the worker on WorkerTerminate) shuts the SDK down, which exports what it still holds.
            await host.DisposeAsync();
        }

        var traces = collector.Requests.Where(r => r.Path == "/v1/traces").ToList();
        Assert.IsTrue(traces.Any(r => r.Body.Contains("killtoken chat", StringComparison.Ordinal) && r.Body.Contains("chat gpt-4o-mini", StringComparison.Ordinal)),
            $"the gateway's spans were exported ({traces.Count} trace posts)");
        if (kind == HostKind.Functions)
        {
            Assert.IsTrue(traces.Any(r => r.Body.Contains("func-killtoken-otel-test", StringComparison.Ordinal) && r.Body.Contains("azure_functions", StringComparison.Ordinal)),
                "the worker's spans carry the Functions resource: the site's name, cloud.platform azure_functions");
            Assert.AreEqual(0, host.WorkerExitCode, string.Join(Environment.NewLine, host.Logs.TakeLast(40)));
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string bearer, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await client.SendAsync(request);
    }
}
