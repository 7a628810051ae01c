using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static KillToken.Tests.Analytics.AnalyticsExpectations;

namespace KillToken.Tests.Analytics;

/// <summary>
/// The session analytics routes (<c>/api/analytics/overview|trends|providers|models|projects|features</c>) over one workspace
/// whose traffic went through the real gateway on a test clock: five projects (one blocked by its daily budget, one falling
/// back near its limits, one falling back to another provider's model, one never used), two providers, 22 models, tagged/untagged/hostile feature tags, five UTC days with
/// traffic and gaps between them, provider failures, a cache hit, an idempotent replay and a safe-mode saving. Every number
/// is computed from what the gateway answered to each call, unfiltered and under each filter.
/// </summary>
[TestClass]
public sealed class AnalyticsRoutesTests
{
    private const string SearchBeta = "search,\"beta\"";

    /// <summary>The test clock's "today" when the routes are read (a Thursday; 2026-03-04 has no traffic).</summary>
    private static readonly DateOnly Today = new(2026, 3, 5);

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;
    private static Tenant _owner = null!;
    private static SeededWorkspace _ws = null!;
    private static SeededProject _main = null!;
    private static SeededProject _checkout = null!;
    private static SeededProject _batch = null!;
    private static SeededProject _idle = null!;
    private static SeededProject _nightly = null!;

    [ClassInitialize]
    public static async Task SeedAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _anthropic = await FakeUpstream.StartAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 2, 27, 9, 0, 0, TimeSpan.Zero));
        _host = await GatewayHost.StartAsync(AnalyticsTraffic.Settings(_openai, _anthropic), services => services.AddSingleton<TimeProvider>(clock));

        var email = $"analytics-{Guid.NewGuid():N}@example.com";
        var (token, workspaceId) = await _host.SignUpAsync(email);
        var owner = new Tenant(_host, token, workspaceId, "", "");
        foreach (var (provider, key) in new[] { ("openai", "sk-test-analytics-0123456789"), ("anthropic", "sk-ant-test-analytics-0123456789") })
        {
            await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", new { provider, apiKey = key }, session: true), 201);
        }

        async Task<(SeededProject Project, Tenant Key)> ProjectAsync(string name, decimal? daily, decimal? monthly, string? fallbackModel, string? fallbackProvider = null)
        {
            var (id, apiKey) = await _host.CreateProjectAsync(token, workspaceId, new { name, dailyBudgetUsd = daily, monthlyBudgetUsd = monthly, fallbackModel, fallbackProvider });
            return (new SeededProject(id, name, daily, monthly), owner with { ProjectId = id, ApiKey = apiKey });
        }

        var (main, mainKey) = await ProjectAsync("Main app", null, null, null);
        var (checkout, checkoutKey) = await ProjectAsync("Checkout", 0.18m, null, null);
        var (batch, batchKey) = await ProjectAsync("Batch jobs", 1.00m, 2.00m, "gpt-4o-mini");
        var (idle, _) = await ProjectAsync("Idle", null, 50m, null);
        var (nightly, nightlyKey) = await ProjectAsync("Nightly", 0.50m, null, "claude-3-5-haiku-latest", "anthropic");
        (_main, _checkout, _batch, _idle, _nightly) = (main, checkout, batch, idle, nightly);

        var t = new AnalyticsTraffic(_host, _openai, _anthropic, clock);
        async Task AtAsync(int month, int day, Func<Task> calls)
        {
            var at = new DateTimeOffset(2026, month, day, 10, 0, 0, TimeSpan.Zero);
            clock.Advance(at - clock.GetUtcNow());
            await calls();
        }

        async Task SendAsync(Tenant key, CallSpec spec)
        {
            await t.SendAsync(key, spec);
            t.Advance(TimeSpan.FromMinutes(1)); // every trace its own time: newest-first is well defined
        }

        // Last month: counted in the range, not in "month".
        await AtAsync(2, 27, async () =>
        {
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4.1", Feature = "support", PromptTokens = 1000, CompletionTokens = 2000, UpstreamLatencyMs = 240 });
            await SendAsync(mainKey, new CallSpec { Provider = "anthropic", Model = "claude-3-5-haiku-latest", FeatureHeader = "digest", PromptTokens = 3000, CompletionTokens = 500, UpstreamLatencyMs = 310 });
        });

        await AtAsync(3, 2, async () =>
        {
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o-mini", PromptTokens = 10_000, CompletionTokens = 2000, UpstreamLatencyMs = 95 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o-mini", Feature = SearchBeta, Content = "cache me", Cache = "read_write", PromptTokens = 2000, CompletionTokens = 400, UpstreamLatencyMs = 130 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o-mini", Feature = SearchBeta, Content = "cache me", Cache = "read_write" }); // a hit
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4.1-mini", Feature = SearchBeta, PromptTokens = 5000, CompletionTokens = 1000, UpstreamLatencyMs = 170 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4.1", Feature = "support", UpstreamStatus = 400, UpstreamLatencyMs = 60, ExpectStatus = 400 });
            await SendAsync(mainKey, new CallSpec { Provider = "anthropic", Model = "claude-3-5-haiku-latest", Feature = "support", FeatureHeader = "not-this-one", PromptTokens = 1000, CompletionTokens = 1000, UpstreamLatencyMs = 220 });
            for (var i = 1; i <= 17; i++)
            {
                // Unpriced (no cost, never $0 billed): 17 models that tie at $0 and 1 request, ordered by name.
                await SendAsync(mainKey, new CallSpec { Model = $"zz-model-{i:00}", Feature = "bulk", UpstreamLatencyMs = 10 + i });
            }

            await SendAsync(batchKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 400 }); // $0.80: 80% of the day
            await SendAsync(batchKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", PromptTokens = 1000, CompletionTokens = 1000, UpstreamLatencyMs = 90 });  // → gpt-4o-mini
        });

        await AtAsync(3, 3, async () =>
        {
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o", Feature = "support", Mode = "safe", Content = "Please   summarise   this.\n\n\n\n\nThanks   a   lot.", PromptTokens = 2000, CompletionTokens = 300, UpstreamLatencyMs = 260 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o-mini", Content = "job one", IdempotencyKey = "job-1", UpstreamLatencyMs = 50 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o-mini", Content = "job one", IdempotencyKey = "job-1" }); // replayed
            await SendAsync(mainKey, new CallSpec { Provider = "anthropic", Model = "claude-3-5-haiku-latest", FeatureHeader = "digest", UpstreamStatus = 400, UpstreamLatencyMs = 45, ExpectStatus = 400 });
            await SendAsync(batchKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 380 }); // month at 80% of $2
            await SendAsync(nightlyKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", PromptTokens = 0, CompletionTokens = 50_000, UpstreamLatencyMs = 330 }); // $0.40: 80% of the day
            await SendAsync(nightlyKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", PromptTokens = 1500, CompletionTokens = 400, UpstreamLatencyMs = 140 }); // served by Anthropic
        });

        // 2026-03-04: nothing. Today:
        await AtAsync(3, 5, async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                await SendAsync(checkoutKey, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 100 + (10 * i) }); // $0.06
            }

            await SendAsync(checkoutKey, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", ExpectStatus = 429 });
            await SendAsync(checkoutKey, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", ExpectStatus = 429 });
            await SendAsync(mainKey, new CallSpec { Model = "gpt-4o", PromptTokens = 1000, CompletionTokens = 100, UpstreamLatencyMs = 75 });
            await SendAsync(batchKey, new CallSpec { Model = "gpt-4.1", Feature = "batch", UpstreamLatencyMs = 85 }); // monthly 80%: → gpt-4o-mini
        });

        await t.CompleteFromTracesAsync(mainKey);
        _owner = await AnalyticsTraffic.SignInAgainAsync(owner, email); // the sign-up session expired days ago on the test clock
        var workspace = await GatewayHost.ReadJsonAsync(await _owner.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}", session: true), 200);
        _ws = new SeededWorkspace(workspaceId, workspace["name"]!.GetValue<string>(), [main, checkout, batch, idle, nightly], t.Calls, Today);
        AssertTheTrafficIsWhatTheTestsAssume(t.Calls);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    /// <summary>The seeded traffic has every case the checks rely on (so a change in the gateway cannot quietly thin it out).</summary>
    private static void AssertTheTrafficIsWhatTheTestsAssume(IReadOnlyList<RecordedCall> calls)
    {
        Assert.AreEqual(41, calls.Count);
        Assert.AreEqual(2, calls.Count(c => c.IsBlocked && c.ProjectId == _checkout.Id && c.Day == Today));
        Assert.AreEqual(2, calls.Count(c => c.IsError && c.ErrorCode != "budget_exceeded"));
        Assert.AreEqual(1, calls.Count(c => c.IsCacheHit));
        Assert.AreEqual(2, calls.Count(c => c.WasFallback && c.Model == "gpt-4o-mini" && c.ProjectId == _batch.Id));
        var crossed = calls.Single(c => c.ProjectId == _nightly.Id && c.WasFallback);
        Assert.AreEqual(("openai", "gpt-4.1", "anthropic", "claude-3-5-haiku-latest"), (crossed.RequestedProvider, crossed.RequestedModel, crossed.Provider, crossed.Model),
            "a fallback to another provider: the one that served it counts");
        Assert.IsTrue(calls.Any(c => c.SavedTokens > 0), "the safe-mode call saved tokens");
        Assert.IsTrue(calls.Any(c => c.CostUsd is null && c.Outcome == "success"), "unpriced calls");
        Assert.AreEqual("support", calls.Single(c => c.Provider == "anthropic" && c.Day == new DateOnly(2026, 3, 2)).Feature, "metadata.feature beats the header");
        CollectionAssert.AreEquivalent(new[] { "openai", "anthropic" }, calls.Select(c => c.Provider).Distinct().ToArray());
        CollectionAssert.AreEquivalent(
            new[] { new DateOnly(2026, 2, 27), new DateOnly(2026, 3, 2), new DateOnly(2026, 3, 3), Today },
            calls.Select(c => c.Day).Distinct().ToArray());
        Assert.AreEqual(0.06m, calls.First(c => c.ProjectId == _checkout.Id).CostUsd);
        Assert.AreEqual(0.80m, calls.First(c => c.ProjectId == _batch.Id).CostUsd);
    }

    private static AnalyticsFilter Range(DateOnly from, DateOnly to) => new() { From = from, To = to };

    /// <summary>The whole seeded period and the empty days around it.</summary>
    private static AnalyticsFilter Everything => Range(new DateOnly(2026, 2, 26), Today);

    private static async Task<JsonObject> GetAsync(string route, AnalyticsFilter filter)
    {
        var response = await _owner.SendAsync(HttpMethod.Get, $"api/analytics/{route}?{filter.Query(_ws.WorkspaceId)}", session: true);
        return await GatewayHost.ReadJsonAsync(response, 200);
    }

    private static async Task CheckEveryRouteAsync(AnalyticsFilter filter)
    {
        CheckOverview(await GetAsync("overview", filter), _ws, filter);
        CheckTrends(await GetAsync("trends", filter), _ws, filter);
        CheckProviders(await GetAsync("providers", filter), _ws, filter);
        CheckModels(await GetAsync("models", filter), _ws, filter);
        CheckProjects(await GetAsync("projects", filter), _ws, filter);
        CheckFeatures(await GetAsync("features", filter), _ws, filter);
    }

    [TestMethod]
    public async Task Overview_TodayMonthRangeTopsBudgetRiskAndBlocked_MatchTheRecordedCalls()
    {
        var body = await GetAsync("overview", Everything);

        CheckOverview(body, _ws, Everything);
        // The same numbers spelled out, so a failure above is easy to read against the traffic.
        Assert.AreEqual("openai", body["topProvider"]!["provider"]!.GetValue<string>());
        Assert.AreEqual("gpt-4.1", body["topModel"]!["model"]!.GetValue<string>(), "two $0.80 calls and one $0.018");
        Assert.AreEqual(2, body["blockedRequests"]!.GetValue<long>());
        Assert.AreEqual(7, body["today"]!["requests"]!.GetValue<long>());
        var risk = body["budgetRisk"]!.AsArray();
        Assert.AreEqual(2, risk.Count, risk.ToJsonString());
        var daily = risk.Single(r => r!["scope"]!.GetValue<string>() == "daily")!;
        Assert.AreEqual(_checkout.Id, daily["projectId"]!.GetValue<string>());
        Near(100, daily["usedPercent"], 0.01, "Checkout spent its whole $0.18 today");
        var monthly = risk.Single(r => r!["scope"]!.GetValue<string>() == "monthly")!;
        Assert.AreEqual(_batch.Id, monthly["projectId"]!.GetValue<string>());
        Assert.IsTrue(monthly["usedPercent"]!.GetValue<double>() is >= 80 and < 81, monthly.ToJsonString());
    }

    [TestMethod]
    public async Task Overview_WithoutDates_IsTheThirtyDaysEndingTodayOnTheServersClock()
    {
        var filter = new AnalyticsFilter { From = Today.AddDays(-29), To = Today, DefaultRange = true };

        var body = await GetAsync("overview", filter);

        CheckOverview(body, _ws, filter);
        Assert.AreEqual("2026-02-04", body["from"]!.GetValue<string>());
        Assert.AreEqual(_ws.Calls.Count, body["range"]!["requests"]!.GetValue<long>());
        CheckTrends(await GetAsync("trends", filter), _ws, filter);
    }

    [TestMethod]
    public async Task Overview_OfARangeWithoutTraffic_HasNoTops_ButTodayAndMonthStillCount()
    {
        var filter = Range(new DateOnly(2026, 1, 10), new DateOnly(2026, 1, 20));

        var body = await GetAsync("overview", filter);

        CheckOverview(body, _ws, filter);
        Assert.IsNull(body["topProvider"]);
        Assert.IsNull(body["topModel"]);
        Assert.AreEqual(0, body["range"]!["requests"]!.GetValue<long>());
        Assert.AreEqual(7, body["today"]!["requests"]!.GetValue<long>(), "the range does not apply to today");
    }

    [TestMethod]
    public async Task Trends_OneRowPerUtcDay_ZeroDaysIncluded_ExactCounts()
    {
        var body = await GetAsync("trends", Everything);

        CheckTrends(body, _ws, Everything);
        var days = body["days"]!.AsArray();
        Assert.AreEqual(8, days.Count);
        Assert.AreEqual("2026-03-04", days[6]!["date"]!.GetValue<string>());
        Assert.AreEqual(0, days[6]!["requests"]!.GetValue<long>());
        Assert.AreEqual(2, days[7]!["blockedRequests"]!.GetValue<long>());
    }

    [TestMethod]
    public async Task Providers_Models_Projects_Features_MatchTheRecordedCalls()
    {
        var providers = await GetAsync("providers", Everything);
        var models = await GetAsync("models", Everything);
        var projects = await GetAsync("projects", Everything);
        var features = await GetAsync("features", Everything);

        CheckProviders(providers, _ws, Everything);
        CheckModels(models, _ws, Everything);
        CheckProjects(projects, _ws, Everything);
        CheckFeatures(features, _ws, Everything);

        Assert.AreEqual(20, models["models"]!.AsArray().Count, "22 models had traffic; the answer keeps the top 20");
        Assert.AreEqual("zz-model-15", models["models"]![19]!["model"]!.GetValue<string>(), "$0 ties: by requests, then by model name");
        var idle = projects["projects"]!.AsArray().Single(p => p!["projectId"]!.GetValue<string>() == _idle.Id)!;
        Assert.AreEqual(0, idle["requests"]!.GetValue<long>(), "a project without traffic is listed");
        Assert.IsNull(idle["lastUsedAt"]);
        Assert.IsNull(idle["dailyUtilizationPercent"], "no daily limit");
        Assert.AreEqual(0d, idle["monthlyUtilizationPercent"]!.GetValue<double>());
        var checkout = projects["projects"]!.AsArray().Single(p => p!["projectId"]!.GetValue<string>() == _checkout.Id)!;
        Assert.AreEqual(100d, checkout["dailyUtilizationPercent"]!.GetValue<double>());
        var names = features["features"]!.AsArray().Select(f => f!["feature"]!.GetValue<string>()).ToList();
        CollectionAssert.Contains(names, "(untagged)");
        CollectionAssert.Contains(names, SearchBeta);
        var search = features["features"]!.AsArray().Single(f => f!["feature"]!.GetValue<string>() == SearchBeta)!;
        Assert.AreEqual(1, search["cacheHits"]!.GetValue<long>());
        Assert.IsTrue(search["savedUsd"]!.GetValue<decimal>() > 0, "the hit's avoided cost is realized savings");
    }

    [TestMethod]
    [DataRow("provider=anthropic", DisplayName = "provider")]
    [DataRow("provider=OpenAI", DisplayName = "provider, any case")]
    [DataRow("projectId=batch", DisplayName = "projectId")]
    [DataRow("projectId=idle", DisplayName = "projectId of a project without traffic")]
    [DataRow("model=mini", DisplayName = "model, a part of the name")]
    [DataRow("model=GPT-4.1", DisplayName = "model, a part in another case")]
    [DataRow("feature=search,\"beta\"", DisplayName = "feature with a comma and quotes")]
    [DataRow("day=2026-03-02", DisplayName = "from = to: one day")]
    [DataRow("timestamps", DisplayName = "from/to as full timestamps: their UTC days")]
    [DataRow("combined", DisplayName = "provider + project + model + days")]
    public async Task EveryRoute_UnderEachFilter_CountsOnlyTheSelectedCalls(string which)
    {
        var filter = which switch
        {
            "provider=anthropic" => Everything with { Provider = "anthropic" },
            "provider=OpenAI" => Everything with { Provider = "OpenAI" },
            "projectId=batch" => Everything with { ProjectId = _batch.Id },
            "projectId=idle" => Everything with { ProjectId = _idle.Id },
            "model=mini" => Everything with { Model = "mini" },
            "model=GPT-4.1" => Everything with { Model = "GPT-4.1" },
            "feature=search,\"beta\"" => Everything with { Feature = SearchBeta },
            "day=2026-03-02" => Range(new DateOnly(2026, 3, 2), new DateOnly(2026, 3, 2)),
            // 2026-03-02T23:30-05:00 is 2026-03-03T04:30Z: the range is the UTC day 2026-03-03 alone.
            "timestamps" => Range(new DateOnly(2026, 3, 3), new DateOnly(2026, 3, 3)) with { RawFrom = "2026-03-02T23:30:00-05:00", RawTo = "2026-03-03T10:00:00Z" },
            "combined" => Range(new DateOnly(2026, 2, 27), new DateOnly(2026, 3, 3)) with { Provider = "openai", ProjectId = _main.Id, Model = "gpt-4.1" },
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        Assert.IsTrue(_ws.Calls.Any(filter.Matches) || filter.ProjectId == _idle.Id, "the filter selects some traffic");
        Assert.IsTrue(_ws.Calls.Any(c => !filter.Matches(c)), "and leaves some out");

        await CheckEveryRouteAsync(filter);
    }
}
