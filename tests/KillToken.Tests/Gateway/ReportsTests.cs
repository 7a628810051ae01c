using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

[TestClass]
public sealed class ReportsTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        // gpt-4o: $2.50 in, $10 out per 1M. 1,000 in + 100 out = $0.0035 a call.
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4o", prompt: 1000, completion: 100)));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString() });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    private static object Chat(string user, string mode = "measure_only", string? feature = null, string? cache = null) => new
    {
        provider = "openai",
        model = "gpt-4o",
        optimizationMode = mode,
        messages = new object[] { new { role = "system", content = "Summarise the ticket in one line." }, new { role = "user", content = user } },
        metadata = feature is null ? null : new { feature },
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    [TestMethod]
    public async Task Summary_CountsTotalsTemplatesAndFeatures_FromEveryRequest()
    {
        var tenant = await _host.CreateTenantAsync();
        for (var i = 0; i < 3; i++)
        {
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat($"Ticket {1000 + i}: \"printer jam\" on floor {i}", feature: "support")), 200);
        }

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("Write a haiku about invoices.", feature: "fun")), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("cache this", cache: "read_write")), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("cache this", cache: "read_write")), 200);

        var summary = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/summary"), 200);

        var totals = summary["totals"]!;
        Assert.AreEqual(6, totals["requests"]!.GetValue<long>());
        Assert.AreEqual(1, totals["cacheHits"]!.GetValue<long>());
        Assert.AreEqual(Math.Round(1 / 6.0, 4), totals["cacheHitRate"]!.GetValue<double>());
        Assert.AreEqual(0.0035m * 5, totals["costUsd"]!.GetValue<decimal>(), "the cache hit costs nothing");
        Assert.AreEqual(0.0035m, totals["savedUsd"]!.GetValue<decimal>(), "the hit's avoided cost counts as saved");

        var templates = summary["topTemplates"]!.AsArray();
        Assert.AreEqual(3, templates[0]!["requests"]!.GetValue<long>(), "the three tickets share one template and cost most");
        StringAssert.StartsWith(templates[0]!["templateId"]!.GetValue<string>(), "tpl_");

        var features = summary["byFeature"]!.AsArray().ToDictionary(f => f!["feature"]!.GetValue<string>(), f => f!);
        Assert.AreEqual(3, features["support"]["requests"]!.GetValue<long>());
        Assert.AreEqual(1, features["fun"]["requests"]!.GetValue<long>());
        Assert.AreEqual(2, features["(untagged)"]["requests"]!.GetValue<long>());
        Assert.AreEqual(1, features["(untagged)"]["cacheHits"]!.GetValue<long>());
    }

    [TestMethod]
    public async Task Roi_SeparatesEstimatedVerifiedPotentialAndCacheSavings()
    {
        var tenant = await _host.CreateTenantAsync();
        var messy = "Please   summarise   this.\n\n\n\n\nThanks   a   lot.";
        var measured = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat(messy)), 200);
        var optimized = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat(messy + " (2)", mode: "safe")), 200);

        var sent = _openai.Requests[^1].Json["messages"]![1]!["content"]!.GetValue<string>();
        Assert.AreEqual("Please summarise this.\n\nThanks a lot. (2)", sent, "safe mode sent the cleaned prompt");
        Assert.IsTrue(measured["metrics"]!["wasteTokens"]!.GetValue<long>() > 0);
        Assert.IsTrue(measured["metrics"]!["wasteByCategory"]!["whitespace"]!.GetValue<long>() > 0);
        Assert.AreEqual(0, measured["metrics"]!["savedTokens"]!.GetValue<long>());
        var savedTokens = optimized["metrics"]!["savedTokens"]!.GetValue<long>();
        Assert.IsTrue(savedTokens > 0);
        Assert.AreEqual(Math.Round(savedTokens * 2.50m / 1_000_000m, 10), optimized["metrics"]!["savedUsd"]!.GetValue<decimal>(), "saved tokens at the model's input price");

        var roi = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/reports/roi"), 200);

        var savings = roi["savings"]!;
        Assert.AreEqual(optimized["metrics"]!["savedUsd"]!.GetValue<decimal>(), savings["verifiedUsd"]!.GetValue<decimal>());
        Assert.IsTrue(savings["potentialUsd"]!.GetValue<decimal>() > 0, "measure_only waste safe mode would remove");
        Assert.IsTrue(savings["estimatedUsd"]!.GetValue<decimal>() >= savings["potentialUsd"]!.GetValue<decimal>());
        Assert.AreEqual(0m, savings["cacheUsd"]!.GetValue<decimal>());
        Assert.AreEqual(2, roi["requests"]!.GetValue<long>());

        var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + measured["metrics"]!["requestId"]!.GetValue<string>()), 200);
        Assert.IsTrue(trace["wasteByCategory"]!["whitespace"]!.GetValue<long>() > 0, "the trace keeps waste by category");
        Assert.IsNotNull(trace["templateId"]);
    }

    [TestMethod]
    public async Task Reports_AreTenantScoped_AndNeedTheAnalyticsScope()
    {
        var a = await _host.CreateTenantAsync();
        var b = await _host.CreateTenantAsync();
        await GatewayHost.ReadJsonAsync(await a.ChatAsync(Chat("only in A")), 200);

        var summaryOfB = await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Get, "v1/summary"), 200);
        Assert.AreEqual(0, summaryOfB["totals"]!["requests"]!.GetValue<long>());

        await GatewayHost.ReadJsonAsync(await b.SendAsync(HttpMethod.Patch, $"api/projects/{b.ProjectId}", new { scopes = new[] { "chat" } }, session: true), 200);
        var denied = await b.SendAsync(HttpMethod.Get, "v1/reports/roi");
        Assert.AreEqual(403, (int)denied.StatusCode);
        var bad = await a.SendAsync(HttpMethod.Get, "v1/summary?from=yesterday");
        Assert.AreEqual(400, (int)bad.StatusCode);
    }
}
