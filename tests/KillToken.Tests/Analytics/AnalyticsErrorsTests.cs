using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.Analytics.AnalyticsExpectations;

namespace KillToken.Tests.Analytics;

/// <summary>
/// What the analytics routes refuse, and how: 400 <c>validation_failed</c> for bad input, 404 <c>not_found</c> for a
/// workspace or project the caller cannot see (never telling which), 401 without a session, 403/401 on the key routes —
/// always in the <c>{error:{code,message,requestId}}</c> shape, never a 500.
/// </summary>
[TestClass]
public sealed class AnalyticsErrorsTests
{
    /// <summary>Every session route that takes the common filters.</summary>
    private static readonly string[] SessionRoutes =
        ["overview", "trends", "providers", "models", "projects", "features", "export.csv"];

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;
    private static Tenant _a = null!;
    private static Tenant _b = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString() });
        _a = await _host.CreateTenantAsync();
        _b = await _host.CreateTenantAsync();
        foreach (var tenant in new[] { _a, _b })
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }), 200);
        }
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    /// <summary>The error shape of §4, with the expected code, and a request id.</summary>
    private static async Task AssertErrorAsync(HttpResponseMessage response, int status, string code, string what)
    {
        var body = await GatewayHost.ReadJsonAsync(response, status);
        var error = body["error"];
        Assert.IsNotNull(error, what + ": " + body.ToJsonString());
        Assert.AreEqual(code, Text(error["code"], "error.code"), what);
        Assert.IsFalse(string.IsNullOrWhiteSpace(Text(error["message"], "error.message")), what + ": a message");
        Assert.IsFalse(string.IsNullOrWhiteSpace(Text(error["requestId"], "error.requestId")), what + ": a requestId");
    }

    private static Task<HttpResponseMessage> SessionGetAsync(Tenant caller, string route, string query) =>
        caller.SendAsync(HttpMethod.Get, $"api/analytics/{route}{(query.Length == 0 ? "" : "?" + query)}", session: true);

    [TestMethod]
    [DataRow("", DisplayName = "workspaceId missing")]
    [DataRow("workspaceId=%20", DisplayName = "workspaceId blank")]
    [DataRow("WS&from=yesterday", DisplayName = "from not a date")]
    [DataRow("WS&to=2026-02-30", DisplayName = "to: no such day")]
    [DataRow("WS&from=2026-03-05T25:00:00Z", DisplayName = "from: no such hour")]
    [DataRow("WS&from=2026-03-05&to=2026-03-04", DisplayName = "from after to")]
    [DataRow("WS&from=2025-01-01&to=2026-01-02", DisplayName = "367 days")]
    [DataRow("WS&from=2024-01-01&to=2026-12-31", DisplayName = "three years")]
    public async Task BadInput_Is400ValidationFailed_OnEveryRoute(string query)
    {
        query = query.Replace("WS", "workspaceId=" + _a.WorkspaceId, StringComparison.Ordinal);
        foreach (var route in SessionRoutes)
        {
            await AssertErrorAsync(await SessionGetAsync(_a, route, query), 400, "validation_failed", $"{route}?{query}");
        }
    }

    [TestMethod]
    public async Task MissingWorkspaceId_SaysWhichParameter()
    {
        var body = await GatewayHost.ReadJsonAsync(await SessionGetAsync(_a, "overview", ""), 400);

        StringAssert.Contains(body["error"]!["message"]!.GetValue<string>(), "workspaceId");
    }

    [TestMethod]
    public async Task ThreeHundredSixtySixDays_IsTheLongestRange_AndAllowed()
    {
        var query = $"workspaceId={_a.WorkspaceId}&from=2025-01-02&to=2026-01-02"; // to − from + 1 = 366
        foreach (var route in SessionRoutes)
        {
            Assert.AreEqual(200, (int)(await SessionGetAsync(_a, route, query)).StatusCode, route);
        }

        var trends = await GatewayHost.ReadJsonAsync(await SessionGetAsync(_a, "trends", query), 200);
        Assert.AreEqual(366, trends["days"]!.AsArray().Count);
    }

    [TestMethod]
    public async Task UnknownProject_AndAnotherWorkspacesProject_Are404NotFound()
    {
        foreach (var projectId in new[] { "prj_doesnotexist", _b.ProjectId, "../" + _a.ProjectId })
        {
            var query = $"workspaceId={_a.WorkspaceId}&projectId={Uri.EscapeDataString(projectId)}";
            foreach (var route in SessionRoutes)
            {
                await AssertErrorAsync(await SessionGetAsync(_a, route, query), 404, "not_found", $"{route} with project {projectId}");
            }
        }
    }

    [TestMethod]
    public async Task AnotherUsersWorkspace_AndAnUnknownOne_Are404NotFound_TheSame()
    {
        foreach (var workspaceId in new[] { _b.WorkspaceId, "ws_doesnotexist" })
        {
            foreach (var route in SessionRoutes)
            {
                await AssertErrorAsync(await SessionGetAsync(_a, route, "workspaceId=" + workspaceId), 404, "not_found", $"{route} of {workspaceId}");
            }
        }

        // Its own project id does not open another workspace either.
        await AssertErrorAsync(await SessionGetAsync(_a, "overview", $"workspaceId={_b.WorkspaceId}&projectId={_a.ProjectId}"), 404, "not_found", "B's workspace, A's project");
    }

    [TestMethod]
    public async Task WithoutASession_401_AndAProjectKeyIsNoSession()
    {
        foreach (var route in SessionRoutes)
        {
            var path = $"api/analytics/{route}?workspaceId={_a.WorkspaceId}";
            await AssertErrorAsync(await _host.Client.GetAsync(path), 401, "unauthenticated", route + " anonymous");
            await AssertErrorAsync(await _a.SendAsync(HttpMethod.Get, path), 401, "unauthenticated", route + " with a project key");
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer not-a-session-token");
            await AssertErrorAsync(await _host.Client.SendAsync(request), 401, "unauthenticated", route + " with a forged token");
        }
    }

    [TestMethod]
    public async Task KeyRoutes_WithoutAKey401_BadDates400_ModeAndCacheStatusOnTheJson400()
    {
        foreach (var route in new[] { "v1/exports/requests.csv", "v1/exports/analytics.json" })
        {
            await AssertErrorAsync(await _host.Client.GetAsync(route), 401, "invalid_api_key", route + " without a key");
            await AssertErrorAsync(await (_a with { ApiKey = "kt_live_" + new string('x', 40) }).SendAsync(HttpMethod.Get, route), 401, "invalid_api_key", route + " with an unknown key");
            await AssertErrorAsync(await _a.SendAsync(HttpMethod.Get, route + "?from=yesterday"), 400, "validation_failed", route + " bad from");
        }

        foreach (var query in new[] { "mode=safe", "mode=measure_only", "cacheStatus=hit" })
        {
            await AssertErrorAsync(await _a.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?" + query), 400, "validation_failed", "analytics.json?" + query);
        }

        await AssertErrorAsync(await _a.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?from=2026-03-05&to=2026-03-04"), 400, "validation_failed", "analytics.json from after to");
        await AssertErrorAsync(await _a.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?from=2025-01-01&to=2026-01-02"), 400, "validation_failed", "analytics.json 367 days");
    }

    [TestMethod]
    [DataRow("WS&from=0001-01-01&to=0001-01-01")]
    [DataRow("WS&to=9999-12-31")]
    [DataRow("WS&from=9999-12-31&to=9999-12-31")]
    [DataRow("WS&from=-1&to=%2B1")]
    [DataRow("WS&from=%20&to=%20")]
    [DataRow("WS&from=2026-01-01&from=2026-01-02")]
    [DataRow("WS&model=%00")]
    [DataRow("WS&provider=%F0%9F%92%A5")]
    [DataRow("WS&provider=not-a-provider")]
    [DataRow("WS&feature=%0D%0A%3D1")]
    [DataRow("WS&model=%25&feature=%25")]
    [DataRow("WS&model=LONG&feature=LONG")]
    [DataRow("WS&projectId=%20")]
    [DataRow("WS&projectId=%2F..%2F")]
    [DataRow("workspaceId=ws_x%2F..")]
    [DataRow("workspaceId=%00")]
    [DataRow("workspaceId=WSID&workspaceId=ws_other")]
    public async Task OddInput_NeverA500_AndAnyRefusalHasTheErrorShape(string query)
    {
        query = query
            .Replace("WSID", _a.WorkspaceId, StringComparison.Ordinal)
            .Replace("WS&", $"workspaceId={_a.WorkspaceId}&", StringComparison.Ordinal)
            .Replace("LONG", string.Concat(Enumerable.Repeat("%3D", 500)), StringComparison.Ordinal);
        foreach (var route in SessionRoutes)
        {
            var response = await SessionGetAsync(_a, route, query);
            var status = (int)response.StatusCode;
            Assert.IsTrue(status < 500, $"{route}?{query}: {status} {await response.Content.ReadAsStringAsync()}");
            if (status >= 400)
            {
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                Assert.IsNotNull(body["error"]?["code"], $"{route}?{query}: the error shape");
                Assert.IsNotNull(body["error"]?["requestId"], $"{route}?{query}: the error shape");
            }
        }
    }
}
