using System.Text.Json;
using KillToken.Core.Ports;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Analytics;

/// <summary>
/// Every export leaves one <c>export_downloaded</c> event in its workspace's audit log — who (the user, or the project
/// of the key), which export, the filters and the rows written — and never the key or the session token.
/// </summary>
[TestClass]
public sealed class AnalyticsAuditTests
{
    [TestMethod]
    public async Task EveryExport_LeavesOneAuditEvent_WithItsActorFiltersAndRows_AndNoSecret()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 100, completion: 20)));
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString() });
        var tenant = await host.CreateTenantAsync();
        for (var i = 0; i < 2; i++)
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "audited " + i)), 200);
        }

        Assert.AreEqual(200, (int)(await tenant.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={tenant.WorkspaceId}&model=mini", session: true)).StatusCode);
        Assert.AreEqual(200, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/exports/requests.csv?provider=openai")).StatusCode);
        Assert.AreEqual(200, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/exports/analytics.json")).StatusCode);
        Assert.AreEqual(400, (int)(await tenant.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?mode=safe")).StatusCode, "a refused export is not one");

        var events = (await host.Services.GetRequiredService<IAuditLog>().ListAsync(tenant.WorkspaceId, new AuditQuery { Event = AuditEvents.ExportDownloaded, Limit = 10 })).Items;
        CollectionAssert.AreEqual(new[] { "v1/exports/analytics.json", "v1/exports/requests.csv", "api/analytics/export.csv" }, events.Select(e => e.Target).ToArray(), "newest first");
        Assert.IsTrue(events.All(e => e.Event == AuditEvents.ExportDownloaded && e.WorkspaceId == tenant.WorkspaceId && !string.IsNullOrEmpty(e.ClientAddress)));

        var csv = events[2];
        Assert.AreEqual(AuditEvents.ActorUser, csv.ActorType);
        Assert.StartsWith("usr_", csv.ActorId);
        Assert.AreEqual("2", csv.Details["rows"]);
        Assert.AreEqual("mini", csv.Details["model"]);

        var requests = events[1];
        Assert.AreEqual(AuditEvents.ActorApiKey, requests.ActorType);
        Assert.AreEqual(tenant.ProjectId, requests.ActorId);
        Assert.AreEqual("2", requests.Details["rows"]);
        Assert.AreEqual("openai", requests.Details["provider"]);

        var all = JsonSerializer.Serialize(events);
        Assert.DoesNotContain(tenant.ApiKey, all);
        Assert.DoesNotContain(tenant.Token, all);
    }
}
