using KillToken.Api.Hosting;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace KillToken.Tests.Observability;

/// <summary>
/// Where telemetry goes: nowhere (and no OpenTelemetry SDK at all) by default, to an OTLP collector when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set, to Application Insights when its connection string is — and the start-up summary
/// says which, naming hosts only.
/// </summary>
[TestClass]
public sealed class TelemetryExportTests
{
    [TestMethod]
    public async Task NoExporterConfigured_TheAppStartsWithoutAnOpenTelemetrySdk_AndSaysTelemetryIsOff()
    {
        await using var host = await GatewayHost.StartAsync();

        Assert.AreEqual(200, (int)(await host.Client.GetAsync("health")).StatusCode);
        Assert.IsNull(host.Services.GetService<TracerProvider>(), "no tracer: nothing samples, nothing is exported, no collector is dialled");
        Assert.IsNull(host.Services.GetService<MeterProvider>(), "no meter provider: the instruments stay disabled");
        StringAssert.Contains(Summary(host), "telemetry:     off");
    }

    [TestMethod]
    public async Task OtlpEndpoint_SpansAndMetricsReachTheCollector_AsProtobufOverHttp()
    {
        await using var collector = await FakeUpstream.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            return Task.CompletedTask;
        });
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 321, completion: 123)));
        var endpoint = collector.BaseAddress.ToString().TrimEnd('/');
        var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
            [SettingNames.OtlpEndpoint] = endpoint,
            [SettingNames.OtlpProtocol] = "http/protobuf",
        });
        Tenant tenant;
        try
        {
            StringAssert.Contains(Summary(host), $"telemetry:     traces and metrics to OTLP to {endpoint} (http/protobuf)");
            tenant = await host.CreateTenantAsync();
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini")), 200);
        }
        finally
        {
            // Stopping the host shuts the SDK down, which exports what its batch still holds: no waiting on a timer.
            await host.DisposeAsync();
        }

        var traces = collector.Requests.Where(r => r.Path == "/v1/traces").ToList();
        Assert.IsNotEmpty(traces, "spans were exported to {endpoint}/v1/traces; got: " + string.Join(", ", collector.Requests.Select(r => r.Path)));
        Assert.IsTrue(traces.All(r => r.Method == "POST" && r.Header("content-type") == "application/x-protobuf"));
        Assert.IsTrue(traces.Any(r => r.Body.Contains("killtoken chat", StringComparison.Ordinal) && r.Body.Contains("gen_ai.provider.name", StringComparison.Ordinal)),
            "the gateway's own spans are among them");
        var metrics = collector.Requests.Where(r => r.Path == "/v1/metrics").ToList();
        Assert.IsTrue(metrics.Any(r => r.Body.Contains("gen_ai.client.token.usage", StringComparison.Ordinal)), "the GenAI metrics are exported too");
        Assert.IsFalse(collector.Requests.Any(r => r.Body.Contains(tenant.ApiKey, StringComparison.Ordinal) || r.Body.Contains(tenant.Token, StringComparison.Ordinal)));
    }

    [TestMethod]
    public void ApplicationInsights_SummaryNamesTheIngestionHost_NeverTheKey()
    {
        const string key = "4b1f0c2e-SECRET-KEY-9d8e7f6a5b4c";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [SettingNames.DataDir] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
            [SettingNames.ApplicationInsightsConnectionString] =
                $"InstrumentationKey={key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/",
            [SettingNames.ApplicationInsightsAuthenticationString] = "Authorization=AAD",
        }).Build();
        var settings = KillTokenSettings.Read(configuration);

        var summary = StartupSummary.Describe(settings, configuration, []);
        StringAssert.Contains(summary, "telemetry:     traces and metrics to Application Insights via https://westeurope-5.in.applicationinsights.azure.com (Entra ID)");
        Assert.DoesNotContain(key, summary);
        Assert.IsTrue(new ServiceCollection().AddKillTokenTelemetry(settings.Telemetry).Any(d => d.ServiceType == typeof(TracerProvider)),
            "a connection string wires the SDK");
        Assert.IsFalse(new ServiceCollection().AddKillTokenTelemetry(TelemetryExport.None).Any(d => d.ServiceType == typeof(TracerProvider)),
            "no setting, no SDK");
    }

    [TestMethod]
    public void OtlpEndpoint_ThatIsNotAUrl_StopsTheStartWithTheSettingsName()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [SettingNames.OtlpEndpoint] = "collector:4317" }).Build();
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => KillTokenSettings.Read(configuration));
        StringAssert.Contains(error.Message, SettingNames.OtlpEndpoint);
    }

    [TestMethod]
    [DataRow("/api/invites/abcDEF123_-xyz", "/api/invites/{token}")]
    [DataRow("/api/invites/abcDEF123_-xyz/accept", "/api/invites/{token}/accept")]
    [DataRow("/invites/abcDEF123_-xyz", "/invites/{token}")]
    [DataRow("/api/workspaces/ws_1/invites/inv_1", null)]
    [DataRow("/v1/chat", null)]
    [DataRow("/api/invites/{token}", null)]
    public void InviteTokens_AreCutOutOfHttpPaths(string path, string? expected) =>
        Assert.AreEqual(expected, TelemetryRedaction.RedactPath(path));

    private static string Summary(GatewayHost host) =>
        host.Logs.Lines.SingleOrDefault(l => l.Contains("KillToken is ready.", StringComparison.Ordinal)) ?? throw new AssertFailedException("no start-up summary");
}
