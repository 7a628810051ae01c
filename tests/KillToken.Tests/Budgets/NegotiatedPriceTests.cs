using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Budgets;

[TestClass]
public sealed class NegotiatedPriceTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4o-mini", prompt: 1_000_000, completion: 1_000_000)));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString() });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    private static readonly object Chat = new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } };

    [TestMethod]
    public async Task WorkspaceOverride_ReplacesTheTablePrice_ForThatWorkspaceOnly()
    {
        var negotiated = await _host.CreateTenantAsync();
        var listPrice = await _host.CreateTenantAsync();
        var put = await negotiated.SendAsync(HttpMethod.Put, $"api/workspaces/{negotiated.WorkspaceId}/pricing",
            new { models = new[] { new { provider = "openai", model = "gpt-4o-mini", input = 0.10m, output = 0.40m } } }, session: true);
        await GatewayHost.ReadJsonAsync(put, 200);

        var cheap = await GatewayHost.ReadJsonAsync(await negotiated.ChatAsync(Chat), 200);
        var list = await GatewayHost.ReadJsonAsync(await listPrice.ChatAsync(Chat), 200);
        var read = await GatewayHost.ReadJsonAsync(await negotiated.SendAsync(HttpMethod.Get, $"api/workspaces/{negotiated.WorkspaceId}/pricing", session: true), 200);

        Assert.AreEqual(0.50m, cheap["metrics"]!["costUsd"]!.GetValue<decimal>(), "1M in × $0.10 + 1M out × $0.40");
        Assert.AreEqual(0.75m, list["metrics"]!["costUsd"]!.GetValue<decimal>(), "the table's $0.15 + $0.60 for everyone else");
        Assert.AreEqual("gpt-4o-mini", read["models"]![0]!["model"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task InvalidOverrides_Are400_AndMembersCannotSetThem()
    {
        var tenant = await _host.CreateTenantAsync();
        var negative = await tenant.SendAsync(HttpMethod.Put, $"api/workspaces/{tenant.WorkspaceId}/pricing",
            new { models = new[] { new { provider = "openai", model = "gpt-4o", input = -1m, output = 1m } } }, session: true);
        var unknown = await tenant.SendAsync(HttpMethod.Put, $"api/workspaces/{tenant.WorkspaceId}/pricing",
            new { models = new[] { new { provider = "nope", model = "x", input = 1m, output = 1m } } }, session: true);
        var stranger = await _host.CreateTenantAsync();
        var notMember = await stranger.SendAsync(HttpMethod.Put, $"api/workspaces/{tenant.WorkspaceId}/pricing", new { models = Array.Empty<object>() }, session: true);

        Assert.AreEqual(400, (int)negative.StatusCode);
        Assert.AreEqual(400, (int)unknown.StatusCode);
        Assert.AreEqual(404, (int)notMember.StatusCode);
    }
}
