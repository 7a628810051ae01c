using System.Globalization;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static KillToken.Tests.Analytics.AnalyticsExpectations;

namespace KillToken.Tests.Analytics;

/// <summary>
/// Two sign-ups on one gateway, both with traffic, each with names and numbers of its own (B: a distinctive project name,
/// model, feature tag and costs). Every analytics route and every export of one shows nothing of the other — not its ids,
/// names, models, tags, nor a cent of its spend — and its numbers are its own calls' alone.
/// </summary>
[TestClass]
public sealed class AnalyticsIsolationTests
{
    private static readonly DateOnly Today = new(2026, 4, 15);
    private static readonly string[] Routes = ["overview", "trends", "providers", "models", "projects", "features"];

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;
    private static Side _a = null!;
    private static Side _b = null!;

    /// <summary>One tenant: its session, a project key, what it sent, and the strings only it may ever see.</summary>
    private sealed record Side(Tenant Owner, Tenant Key, SeededWorkspace Workspace, IReadOnlyList<string> Secrets);

    [ClassInitialize]
    public static async Task SeedAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _anthropic = await FakeUpstream.StartAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 4, 15, 9, 0, 0, TimeSpan.Zero));
        _host = await GatewayHost.StartAsync(AnalyticsTraffic.Settings(_openai, _anthropic), services => services.AddSingleton<TimeProvider>(clock));

        _a = await SideAsync(clock, "alpha app", "alpha-feature",
        [
            new CallSpec { Model = "gpt-4o-mini", Feature = "alpha-feature", PromptTokens = 1200, CompletionTokens = 300, UpstreamLatencyMs = 40 },
            new CallSpec { Model = "gpt-4o-mini", Feature = "alpha-feature", PromptTokens = 800, CompletionTokens = 100, UpstreamLatencyMs = 60 },
            new CallSpec { Provider = "anthropic", Model = "claude-3-5-haiku-latest", PromptTokens = 400, CompletionTokens = 90, UpstreamLatencyMs = 70 },
        ]);
        _b = await SideAsync(clock, "bravo-secret-project", "bravo-secret-feature",
        [
            new CallSpec { Model = "gpt-4.1-nano", Feature = "bravo-secret-feature", PromptTokens = 77_777, CompletionTokens = 33_333, UpstreamLatencyMs = 900 },
            new CallSpec { Model = "gpt-4.1-nano", Feature = "bravo-secret-feature", PromptTokens = 11_111, CompletionTokens = 22_222, UpstreamLatencyMs = 800 },
            new CallSpec { Model = "gpt-4.1-nano", Feature = "bravo-secret-feature", UpstreamStatus = 400, ExpectStatus = 400 },
        ]);
    }

    private static async Task<Side> SideAsync(FakeTimeProvider clock, string projectName, string feature, CallSpec[] calls)
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var owner = new Tenant(_host, token, workspaceId, "", "");
        foreach (var (provider, secret) in new[] { ("openai", "sk-test-isolation-0123456789"), ("anthropic", "sk-ant-test-isolation-0123456789") })
        {
            await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", new { provider, apiKey = secret }, session: true), 201);
        }

        var (projectId, apiKey) = await _host.CreateProjectAsync(token, workspaceId, new { name = projectName, dailyBudgetUsd = 100m });
        var key = owner with { ProjectId = projectId, ApiKey = apiKey };
        var traffic = new AnalyticsTraffic(_host, _openai, _anthropic, clock);
        foreach (var call in calls)
        {
            await traffic.SendAsync(key, call);
            traffic.Advance(TimeSpan.FromMinutes(1));
        }

        await traffic.CompleteFromTracesAsync(key);
        var workspace = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}", session: true), 200);
        var seeded = new SeededWorkspace(workspaceId, workspace["name"]!.GetValue<string>(), [new SeededProject(projectId, projectName, 100m, null)], traffic.Calls, Today);
        var models = traffic.Calls.Select(c => c.Model).Distinct();
        return new Side(owner, key, seeded, [workspaceId, projectId, projectName, feature, .. traffic.Calls.Select(c => c.RequestId), .. models]);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private static AnalyticsFilter Range => new() { From = Today.AddDays(-6), To = Today };

    [TestMethod]
    [DataRow("A", DisplayName = "A sees only A")]
    [DataRow("B", DisplayName = "B sees only B")]
    public async Task EveryRoute_ShowsOnlyTheCallersWorkspace(string who)
    {
        var (me, other) = who == "A" ? (_a, _b) : (_b, _a);
        foreach (var filter in new[] { Range, Range with { DefaultRange = true, From = Today.AddDays(-29) } })
        {
            foreach (var route in Routes)
            {
                var response = await me.Owner.SendAsync(HttpMethod.Get, $"api/analytics/{route}?{filter.Query(me.Workspace.WorkspaceId)}", session: true);
                var body = await GatewayHost.ReadJsonAsync(response, 200);
                AssertNothingOf(other, body.ToJsonString(), route);
                switch (route)
                {
                    case "overview": CheckOverview(body, me.Workspace, filter); break;
                    case "trends": CheckTrends(body, me.Workspace, filter); break;
                    case "providers": CheckProviders(body, me.Workspace, filter); break;
                    case "models": CheckModels(body, me.Workspace, filter); break;
                    case "projects": CheckProjects(body, me.Workspace, filter); break;
                    default: CheckFeatures(body, me.Workspace, filter); break;
                }
            }
        }
    }

    [TestMethod]
    [DataRow("A", DisplayName = "A's exports hold only A")]
    [DataRow("B", DisplayName = "B's exports hold only B")]
    public async Task EveryExport_HoldsOnlyTheCallersWorkspace(string who)
    {
        var (me, other) = who == "A" ? (_a, _b) : (_b, _a);
        var query = Range.Query(null);

        var session = await AnalyticsCsv.ReadAsync(await me.Owner.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?{Range.Query(me.Workspace.WorkspaceId)}", session: true), AnalyticsCsv.SessionHeader);
        var requests = await AnalyticsCsv.ReadAsync(await me.Key.SendAsync(HttpMethod.Get, "v1/exports/requests.csv"), AnalyticsCsv.RequestsHeader);
        var json = await GatewayHost.ReadJsonAsync(await me.Key.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?" + query), 200);

        AssertNothingOf(other, session.Text, "export.csv");
        AssertNothingOf(other, requests.Text, "requests.csv");
        AssertNothingOf(other, json.ToJsonString(), "analytics.json");
        Assert.AreEqual(me.Workspace.Calls.Count, session.Rows.Count);
        CollectionAssert.AreEquivalent(me.Workspace.Calls.Select(c => c.RequestId).ToList(), requests.Values("requestId").ToList());
        Assert.AreEqual(me.Workspace.WorkspaceId, json["workspaceId"]!.GetValue<string>());
        Count(me.Workspace.Calls.Count, json["totals"]!["requests"], "totals.requests");
        Money(me.Workspace.Calls.Sum(c => c.Spend), json["totals"]!["spendUsd"], "totals.spendUsd");
        ProjectRows(json["projects"]!.AsArray(), me.Workspace, Range);
    }

    [TestMethod]
    public async Task TheOthersWorkspaceOrProject_Is404_ForEachSide()
    {
        foreach (var (me, other) in new[] { (_a, _b), (_b, _a) })
        {
            foreach (var route in Routes.Append("export.csv"))
            {
                var foreign = await me.Owner.SendAsync(HttpMethod.Get, $"api/analytics/{route}?workspaceId={other.Workspace.WorkspaceId}", session: true);
                Assert.AreEqual("not_found", (await GatewayHost.ReadJsonAsync(foreign, 404))["error"]!["code"]!.GetValue<string>());
                var foreignProject = await me.Owner.SendAsync(HttpMethod.Get, $"api/analytics/{route}?workspaceId={me.Workspace.WorkspaceId}&projectId={other.Key.ProjectId}", session: true);
                Assert.AreEqual("not_found", (await GatewayHost.ReadJsonAsync(foreignProject, 404))["error"]!["code"]!.GetValue<string>());
            }

            // The key routes take the key's workspace: naming the other's project selects nothing of it.
            // (a 404 would do as well: the spec names no code for it).
            var response = await me.Key.SendAsync(HttpMethod.Get, $"v1/exports/requests.csv?projectId={other.Key.ProjectId}");
            if ((int)response.StatusCode != 404)
            {
                var requests = await AnalyticsCsv.ReadAsync(response, AnalyticsCsv.RequestsHeader);
                Assert.AreEqual(0, requests.Rows.Count);
            }
        }
    }

    /// <summary>None of the other side's ids, names, models or tags, and not its spend as a number either.</summary>
    private static void AssertNothingOf(Side other, string text, string where)
    {
        foreach (var secret in other.Secrets)
        {
            Assert.IsFalse(text.Contains(secret, StringComparison.Ordinal), $"{where} shows the other workspace's '{secret}'");
        }

        var otherSpend = other.Workspace.Calls.Sum(c => c.Spend);
        var spelled = otherSpend.ToString("0.############################", CultureInfo.InvariantCulture);
        Assert.IsFalse(spelled.Length > 4 && text.Contains(spelled, StringComparison.Ordinal), $"{where} shows the other workspace's spend {spelled}");
    }
}
