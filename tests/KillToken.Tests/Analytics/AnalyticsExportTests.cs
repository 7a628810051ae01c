using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static KillToken.Tests.Analytics.AnalyticsCsv;
using static KillToken.Tests.Analytics.AnalyticsExpectations;

namespace KillToken.Tests.Analytics;

/// <summary>
/// The exports: the dashboard's <c>GET /api/analytics/export.csv</c> (session) and the project key's
/// <c>GET /v1/exports/requests.csv</c> and <c>/v1/exports/analytics.json</c>. Every CSV is read back with CsvHelper (a real
/// RFC 4180 reader) and compared, row by row, with the calls the test sent: a workspace and a project whose names a
/// spreadsheet would run, feature tags and a model name with commas, quotes, newlines and formula characters, blocked and
/// failed calls, a cache hit, two UTC days. Exports never hold prompt or completion text, and stop at 10,000 rows.
/// </summary>
[TestClass]
public sealed class AnalyticsExportTests
{
    private const string PromptCanary = "PROMPT-CANARY-zebra-7731 please summarise the quarterly numbers";
    private const string CompletionCanary = "COMPLETION-CANARY-okapi-4402 here are the numbers";
    private const string HostileProjectName = "=HYPERLINK(\"x\"),\"a\"\nb";
    private const string HostileWorkspaceName = "+Ops, \"EU\" team";
    private const string HostileModel = "@evil,\"m\"";
    private const string QuotedFeature = "a,b \"c\"\nd";

    private static readonly DateOnly Yesterday = new(2026, 6, 10);
    private static readonly DateOnly Today = new(2026, 6, 11);

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;
    private static Tenant _owner = null!;
    private static Tenant _hostileKey = null!;
    private static Tenant _chatOnlyKey = null!;
    private static SeededWorkspace _ws = null!;
    private static SeededProject _hostile = null!;
    private static SeededProject _plain = null!;

    [ClassInitialize]
    public static async Task SeedAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _anthropic = await FakeUpstream.StartAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 6, 10, 9, 0, 0, TimeSpan.Zero));
        _host = await GatewayHost.StartAsync(AnalyticsTraffic.Settings(_openai, _anthropic), services => services.AddSingleton<TimeProvider>(clock));

        var email = $"exports-{Guid.NewGuid():N}@example.com";
        var (token, workspaceId) = await _host.SignUpAsync(email);
        var owner = new Tenant(_host, token, workspaceId, "", "");
        var renamed = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}", new { name = HostileWorkspaceName }, session: true), 200);
        Assert.AreEqual(HostileWorkspaceName, renamed["name"]!.GetValue<string>());
        foreach (var (provider, key) in new[] { ("openai", "sk-test-exports-0123456789"), ("anthropic", "sk-ant-test-exports-0123456789") })
        {
            await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", new { provider, apiKey = key }, session: true), 201);
        }

        var (hostileId, hostileKey) = await _host.CreateProjectAsync(token, workspaceId, new { name = HostileProjectName });
        var (plainId, plainKey) = await _host.CreateProjectAsync(token, workspaceId, new { name = "plain", dailyBudgetUsd = 0.12m });
        var (chatOnlyId, chatOnlyKey) = await _host.CreateProjectAsync(token, workspaceId, new { name = "chat only" });
        var scoped = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Patch, $"api/projects/{chatOnlyId}", new { scopes = new[] { "chat" } }, session: true), 200);
        CollectionAssert.AreEqual(new[] { "chat" }, scoped["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).ToArray());
        var hostileProject = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Get, $"api/projects/{hostileId}", session: true), 200);
        Assert.AreEqual(HostileProjectName, hostileProject["name"]!.GetValue<string>(), "the API keeps the name as given");

        _hostile = new SeededProject(hostileId, HostileProjectName, null, null);
        _plain = new SeededProject(plainId, "plain", 0.12m, null);
        _hostileKey = owner with { ProjectId = hostileId, ApiKey = hostileKey };
        var plain = owner with { ProjectId = plainId, ApiKey = plainKey };
        _chatOnlyKey = owner with { ProjectId = chatOnlyId, ApiKey = chatOnlyKey };

        var t = new AnalyticsTraffic(_host, _openai, _anthropic, clock);
        async Task SendAsync(Tenant key, CallSpec spec)
        {
            await t.SendAsync(key, spec);
            t.Advance(TimeSpan.FromMinutes(1));
        }

        clock.Advance(TimeSpan.FromHours(1)); // 2026-06-10 10:00
        await SendAsync(_hostileKey, new CallSpec { Model = "gpt-4o-mini", Feature = QuotedFeature, Content = PromptCanary, Completion = CompletionCanary, PromptTokens = 1000, CompletionTokens = 200, UpstreamLatencyMs = 80 });
        await SendAsync(_hostileKey, new CallSpec { Provider = "anthropic", Model = "claude-3-5-haiku-latest", Feature = "=1+2", Content = PromptCanary, Completion = CompletionCanary, PromptTokens = 500, CompletionTokens = 100, UpstreamLatencyMs = 120 });
        await SendAsync(_hostileKey, new CallSpec { Model = HostileModel, Feature = "@SUM(A1)", Content = PromptCanary, Completion = CompletionCanary, UpstreamLatencyMs = 30 });
        await SendAsync(_hostileKey, new CallSpec { Model = "gpt-4.1", Feature = "-2+3", Content = PromptCanary, UpstreamStatus = 400, UpstreamLatencyMs = 20, ExpectStatus = 400 });
        await SendAsync(plain, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 100 });

        clock.Advance(new DateTimeOffset(2026, 6, 11, 10, 0, 0, TimeSpan.Zero) - clock.GetUtcNow());
        await SendAsync(plain, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 100 });
        await SendAsync(plain, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", PromptTokens = 0, CompletionTokens = 100_000, UpstreamLatencyMs = 110 });
        await SendAsync(plain, new CallSpec { Model = "gpt-4o-mini", Feature = "checkout", ExpectStatus = 429 });
        await SendAsync(_hostileKey, new CallSpec { Model = "gpt-4o-mini", Feature = QuotedFeature, Content = "cache me", Cache = "read_write", PromptTokens = 300, CompletionTokens = 30, UpstreamLatencyMs = 40 });
        await SendAsync(_hostileKey, new CallSpec { Model = "gpt-4o-mini", Feature = QuotedFeature, Content = "cache me", Cache = "read_write" });
        await SendAsync(_hostileKey, new CallSpec { Model = "gpt-4.1", Mode = "safe", Content = PromptCanary, Completion = CompletionCanary, PromptTokens = 2000, CompletionTokens = 500, UpstreamLatencyMs = 200 });

        await t.CompleteFromTracesAsync(_hostileKey);
        _owner = await AnalyticsTraffic.SignInAgainAsync(owner, email);
        _ws = new SeededWorkspace(workspaceId, HostileWorkspaceName,
            [_hostile, _plain, new SeededProject(chatOnlyId, "chat only", null, null)], t.Calls, Today);

        Assert.AreEqual(11, t.Calls.Count);
        Assert.AreEqual(1, t.Calls.Count(c => c.IsBlocked));
        Assert.AreEqual(1, t.Calls.Count(c => c.IsError));
        Assert.AreEqual(1, t.Calls.Count(c => c.IsCacheHit));
        Assert.AreEqual("unpriced", t.Calls.Single(c => c.Model == HostileModel).CostStatus);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private static AnalyticsFilter BothDays => new() { From = Yesterday, To = Today };

    private static async Task<CsvExport> SessionCsvAsync(AnalyticsFilter filter) =>
        await ReadAsync(await _owner.SendAsync(HttpMethod.Get, "api/analytics/export.csv?" + filter.Query(_ws.WorkspaceId), session: true), SessionHeader);

    private static async Task<CsvExport> RequestsCsvAsync(string query = "") =>
        await ReadAsync(await _hostileKey.SendAsync(HttpMethod.Get, "v1/exports/requests.csv" + (query.Length == 0 ? "" : "?" + query)), RequestsHeader);

    private static string ProjectName(string projectId) => _ws.Projects.Single(p => p.Id == projectId).Name;

    /// <summary>Each row is the call it stands for, in order: newest first.</summary>
    private static void AssertSessionRows(CsvExport csv, IEnumerable<RecordedCall> selected)
    {
        var expected = selected.OrderByDescending(c => c.CreatedAt).ToList();
        Assert.AreEqual(expected.Count, csv.Rows.Count, "one row per call in the range");
        for (var i = 0; i < expected.Count; i++)
        {
            var call = expected[i];
            var row = csv.Rows[i];
            string Cell(string column) => row[csv.Column(column)];
            var what = $"row {i + 1} ({call.Model}, {call.Outcome})";
            Assert.IsTrue((Instant(Cell("createdAt")) - call.CreatedAt).Duration() < TimeSpan.FromSeconds(1), $"{what}: createdAt {Cell("createdAt")} vs {call.CreatedAt:O}");
            Assert.AreEqual(Neutralised(_ws.WorkspaceName), Cell("workspace"), what);
            Assert.AreEqual(Neutralised(ProjectName(call.ProjectId)), Cell("project"), what);
            Assert.AreEqual(Neutralised(call.Provider), Cell("provider"), what);
            Assert.AreEqual(Neutralised(call.Model), Cell("model"), what);
            Assert.AreEqual(call.Outcome, Cell("status"), what);
            Assert.AreEqual(call.InputTokens.ToString(CultureInfo.InvariantCulture), Cell("inputTokens"), what);
            Assert.AreEqual(call.OutputTokens.ToString(CultureInfo.InvariantCulture), Cell("outputTokens"), what);
            Assert.AreEqual((call.InputTokens + call.OutputTokens).ToString(CultureInfo.InvariantCulture), Cell("totalTokens"), what);
            var cost = Cell("estimatedCostUsd");
            if (call.CostStatus == "unpriced")
            {
                Assert.AreEqual("", cost, what + ": estimatedCostUsd is empty when unpriced");
            }
            else if (!(call.CostUsd is null && cost.Length == 0))
            {
                Assert.IsTrue(Math.Abs(Money(cost) - call.Spend) <= MoneyTolerance, $"{what}: estimatedCostUsd {cost} vs {call.Spend}");
            }

            Assert.IsTrue(Math.Abs(Number(Cell("latencyMs")) - call.LatencyMs) <= 0.01, $"{what}: latencyMs {Cell("latencyMs")} vs {call.LatencyMs}");
            Assert.AreEqual(call.Outcome == "success" ? "" : call.ErrorCode, Cell("errorCode"), what);
        }
    }

    [TestMethod]
    public async Task ExportCsv_ExactHeader_OneRowPerCallNewestFirst_EveryColumnAsRecorded()
    {
        var response = await _owner.SendAsync(HttpMethod.Get, "api/analytics/export.csv?" + BothDays.Query(_ws.WorkspaceId), session: true);

        var csv = await ReadAsync(response, SessionHeader);

        AssertSessionRows(csv, _ws.Calls);
        var blocked = csv.Rows.Single(r => r[csv.Column("status")] == "blocked");
        Assert.AreEqual("budget_exceeded", blocked[csv.Column("errorCode")]);
        Assert.AreEqual("plain", blocked[csv.Column("project")]);
        var failed = csv.Rows.Single(r => r[csv.Column("status")] == "error");
        Assert.AreEqual("provider_rejected", failed[csv.Column("errorCode")]);
        Assert.AreEqual(9, csv.Values("errorCode").Count(e => e.Length == 0), "errorCode is empty on success");
        Assert.AreEqual("", csv.Rows.Single(r => r[csv.Column("model")] == "'" + HostileModel)[csv.Column("estimatedCostUsd")]);
    }

    [TestMethod]
    public async Task ExportCsv_HostileWorkspaceProjectAndModelNames_RoundTripWithALeadingApostrophe()
    {
        var csv = await SessionCsvAsync(BothDays);

        CollectionAssert.Contains(csv.Values("project").ToList(), "'" + HostileProjectName, "comma, quotes and newline survive; '=' is neutralised");
        Assert.IsTrue(csv.Values("workspace").All(w => w == "'" + HostileWorkspaceName), "a leading '+' is neutralised");
        CollectionAssert.Contains(csv.Values("model").ToList(), "'" + HostileModel);
        StringAssert.Contains(csv.Text, "\"'=HYPERLINK(\"\"x\"\"),\"\"a\"\"\nb\"", "quoted, quotes doubled");
        Assert.IsFalse(csv.Text.Contains("\r\n=", StringComparison.Ordinal) || csv.Text.Contains(",=", StringComparison.Ordinal), "no cell starts with '='");
    }

    [TestMethod]
    [DataRow("provider", DisplayName = "provider")]
    [DataRow("model", DisplayName = "model, a part of the name")]
    [DataRow("projectId", DisplayName = "projectId")]
    [DataRow("day", DisplayName = "from = to: one day")]
    [DataRow("combined", DisplayName = "project + model + one day")]
    public async Task ExportCsv_Filters_SelectTheSameCallsAsTheRoutes(string which)
    {
        var filter = which switch
        {
            "provider" => BothDays with { Provider = "anthropic" },
            "model" => BothDays with { Model = "MINI" },
            "projectId" => BothDays with { ProjectId = _plain.Id },
            "day" => new AnalyticsFilter { From = Yesterday, To = Yesterday },
            "combined" => new AnalyticsFilter { From = Today, To = Today, ProjectId = _hostile.Id, Model = "gpt-4" },
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        Assert.IsTrue(_ws.Calls.Any(filter.Matches) && _ws.Calls.Any(c => !filter.Matches(c)));

        var csv = await SessionCsvAsync(filter);

        AssertSessionRows(csv, _ws.Calls.Where(filter.Matches));
    }

    [TestMethod]
    public async Task RequestsCsv_ExactHeader_RowsAreTheTracesNewestFirst_FieldByField()
    {
        var traces = await AnalyticsTraffic.TracesAsync(_hostileKey);

        var csv = await RequestsCsvAsync();

        Assert.AreEqual(traces.Count, csv.Rows.Count);
        Assert.AreEqual(_ws.Calls.Count, csv.Rows.Count, "every call of the workspace, all projects");
        for (var i = 0; i < traces.Count; i++)
        {
            AssertRowIsTheTrace(csv, csv.Rows[i], traces[i]);
        }

        CollectionAssert.AreEqual(
            _ws.Calls.OrderByDescending(c => c.CreatedAt).Select(c => c.RequestId).ToList(),
            csv.Values("requestId").ToList(), "newest first");
        Assert.AreEqual("429", csv.Rows.Single(r => r[csv.Column("errorCode")] == "budget_exceeded")[csv.Column("status")], "status is the HTTP status");
    }

    /// <summary>Every column of requests.csv holds the trace's field of the same name (requestId = id), neutralised where a spreadsheet would run it.</summary>
    private static void AssertRowIsTheTrace(CsvExport csv, string[] row, JsonObject trace)
    {
        foreach (var column in csv.Header)
        {
            var cell = row[csv.Column(column)];
            var value = trace[column == "requestId" ? "id" : column];
            var what = $"{trace["id"]}.{column}";
            switch (value?.GetValueKind())
            {
                case null or JsonValueKind.Null:
                    Assert.AreEqual("", cell, what + " is empty when the trace has none");
                    break;
                case JsonValueKind.String when column == "createdAt":
                    var at = DateTimeOffset.Parse(cell, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                    Assert.IsTrue((at - DateTimeOffset.Parse(value.GetValue<string>(), CultureInfo.InvariantCulture)).Duration() < TimeSpan.FromSeconds(1), $"{what}: {cell}");
                    break;
                case JsonValueKind.String:
                    Assert.AreEqual(Neutralised(value.GetValue<string>()), cell, what);
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    Assert.AreEqual(value.GetValue<bool>(), Flag(cell), what);
                    break;
                case JsonValueKind.Number when column is "costUsd" or "savedUsd":
                    Assert.IsTrue(Math.Abs(Money(cell) - value.GetValue<decimal>()) <= MoneyTolerance, $"{what}: {cell} vs {value}");
                    break;
                case JsonValueKind.Number:
                    Assert.IsTrue(Math.Abs(Number(cell) - value.GetValue<double>()) <= 0.01, $"{what}: {cell} vs {value}");
                    break;
                default:
                    Assert.Fail($"{what}: unexpected {value.ToJsonString()}");
                    break;
            }
        }
    }

    [TestMethod]
    public async Task RequestsCsv_HostileFeatureTags_RoundTrip_AndNoExportHoldsPromptOrCompletionText()
    {
        var csv = await RequestsCsvAsync();

        var features = csv.Values("feature").ToList();
        Assert.AreEqual(3, features.Count(f => f == QuotedFeature), "comma, quotes and newline round-trip unchanged");
        CollectionAssert.Contains(features, "'=1+2");
        CollectionAssert.Contains(features, "'@SUM(A1)");
        CollectionAssert.Contains(features, "'-2+3");
        CollectionAssert.Contains(features, "(untagged)");
        CollectionAssert.Contains(csv.Values("model").ToList(), "'" + HostileModel);

        var exports = new Dictionary<string, byte[]>
        {
            ["requests.csv"] = csv.Bytes,
            ["export.csv"] = (await SessionCsvAsync(BothDays)).Bytes,
            ["analytics.json"] = await (await _hostileKey.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?" + BothDays.Query(null))).Content.ReadAsByteArrayAsync(),
        };
        foreach (var (name, bytes) in exports)
        {
            var text = Encoding.UTF8.GetString(bytes);
            foreach (var canary in new[] { "PROMPT-CANARY", "zebra-7731", "COMPLETION-CANARY", "okapi-4402", "cache me" })
            {
                Assert.IsFalse(text.Contains(canary, StringComparison.Ordinal), $"{name} holds message text ({canary})");
            }
        }
    }

    [TestMethod]
    [DataRow("provider=anthropic")]
    [DataRow("model=gpt-4o-mini")]
    [DataRow("feature=a%2Cb%20%22c%22%0Ad")]
    [DataRow("feature=%3D1%2B2")]
    [DataRow("cacheStatus=hit")]
    [DataRow("mode=measure_only")]
    [DataRow("projectId=PLAIN")]
    [DataRow("project=PLAIN")]
    [DataRow("from=2026-06-10T10:01:30Z&to=2026-06-11T10:00:30Z")]
    public async Task RequestsCsv_Filters_AreThoseOfV1Requests(string query)
    {
        query = query.Replace("PLAIN", _plain.Id, StringComparison.Ordinal);
        var expected = (await AnalyticsTraffic.TracesAsync(_hostileKey, "&" + query)).Select(t => t["id"]!.GetValue<string>()).ToList();
        Assert.IsTrue(expected.Count > 0 && expected.Count < _ws.Calls.Count, $"{query} selects some traces: {expected.Count}");

        var csv = await RequestsCsvAsync(query);

        CollectionAssert.AreEqual(expected, csv.Values("requestId").ToList(), query);
    }

    [TestMethod]
    public async Task Exports_NeedTheAnalyticsReadScope_AndAKey()
    {
        foreach (var route in new[] { "v1/exports/requests.csv", "v1/exports/analytics.json" })
        {
            var denied = await GatewayHost.ReadJsonAsync(await _chatOnlyKey.SendAsync(HttpMethod.Get, route), 403);
            var code = denied["error"]!["code"]!.GetValue<string>();
            Assert.IsTrue(code is "forbidden" or "insufficient_scope", route + ": " + code);
            Assert.IsNotNull(denied["error"]!["requestId"]);

            var anonymous = await GatewayHost.ReadJsonAsync(await _host.Client.GetAsync(route), 401);
            Assert.AreEqual("invalid_api_key", anonymous["error"]!["code"]!.GetValue<string>());
        }
    }

    [TestMethod]
    [DataRow("", DisplayName = "both days")]
    [DataRow("provider", DisplayName = "provider")]
    [DataRow("model", DisplayName = "model, a part of the name")]
    [DataRow("projectId", DisplayName = "projectId")]
    [DataRow("project", DisplayName = "project (the /v1/requests spelling)")]
    [DataRow("feature", DisplayName = "feature")]
    [DataRow("day", DisplayName = "one day")]
    public async Task AnalyticsJson_TotalsAndEverySection_MatchTheRecordedCalls(string which)
    {
        var filter = which switch
        {
            "" => BothDays,
            "provider" => BothDays with { Provider = "anthropic" },
            "model" => BothDays with { Model = "mini" },
            "projectId" or "project" => BothDays with { ProjectId = _hostile.Id },
            "feature" => BothDays with { Feature = QuotedFeature },
            "day" => new AnalyticsFilter { From = Today, To = Today },
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        var query = filter.Query(null);
        if (which == "project")
        {
            query = query.Replace("projectId=", "project=", StringComparison.Ordinal);
        }

        var body = await GatewayHost.ReadJsonAsync(await _hostileKey.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?" + query), 200);

        Assert.IsTrue(DateTimeOffset.TryParse(Text(body["generatedAt"], "generatedAt"), CultureInfo.InvariantCulture, out _));
        Envelope(body, _ws, filter);
        var selected = _ws.Calls.Where(filter.Matches).ToList();
        var expected = Totals.Of(selected);
        RangeTotals(expected, body["totals"], "totals");

        var days = body["days"]!.AsArray();
        Assert.AreEqual(filter.To.DayNumber - filter.From.DayNumber + 1, days.Count);
        for (var i = 0; i < days.Count; i++)
        {
            var day = filter.From.AddDays(i);
            DayRow(days[i]!.AsObject(), Totals.Of(selected.Where(c => c.Day == day)), AnalyticsFilter.Day(day));
        }

        ProviderRows(body["providers"]!.AsArray(), selected);
        ModelRows(body["models"]!.AsArray(), selected);
        ProjectRows(body["projects"]!.AsArray(), _ws, filter);
        FeatureRows(body["features"]!.AsArray(), selected);
    }

    [TestMethod]
    public async Task AnalyticsJson_TotalsWithoutFilters_AreTheSumsOfWhatEachCallCost()
    {
        var body = await GatewayHost.ReadJsonAsync(await _hostileKey.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?from=2026-06-10&to=2026-06-11"), 200);

        // $0.06 × 3 for "plain", gpt-4o-mini 1000/200 + claude 500/100 + gpt-4o-mini 300/30 + gpt-4.1 2000/500 for the other.
        var spend = 0.18m + ((1000 * 0.15m) + (200 * 0.60m) + (500 * 0.80m) + (100 * 4.00m) + (300 * 0.15m) + (30 * 0.60m) + (2000 * 2.00m) + (500 * 8.00m)) / 1_000_000m;
        Money(spend, body["totals"]!["spendUsd"], "totals.spendUsd");
        Assert.AreEqual(_ws.Calls.Sum(c => c.Spend), spend, "the recorded costs are the price table's");
        Assert.AreEqual(11, body["totals"]!["requests"]!.GetValue<long>());
        Assert.AreEqual(1, body["totals"]!["cacheHits"]!.GetValue<long>());
        Money(((300 * 0.15m) + (30 * 0.60m)) / 1_000_000m, body["totals"]!["savedUsd"], "the cache hit saved what its miss cost");
    }

    [TestMethod]
    [DataRow("mode=safe")]
    [DataRow("cacheStatus=miss")]
    public async Task AnalyticsJson_ModeOrCacheStatus_Is400_AggregatesAreNotKeptThatWay(string query)
    {
        var body = await GatewayHost.ReadJsonAsync(await _hostileKey.SendAsync(HttpMethod.Get, "v1/exports/analytics.json?" + query), 400);

        Assert.AreEqual("validation_failed", body["error"]!["code"]!.GetValue<string>());
    }

    /// <summary>
    /// 10,001 calls (about 15 s on SQLite with 4 callers at a time): both CSV exports stop at the newest 10,000, after the header.
    /// </summary>
    [TestMethod]
    public async Task CsvExports_StopAtTenThousandRows_TheNewest()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString() });
        var tenant = await host.CreateTenantAsync();
        var body = new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } };
        const int Calls = 10_001;
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= Calls)
            {
                using var response = await tenant.ChatAsync(body);
                Assert.AreEqual(200, (int)response.StatusCode);
            }
        }));
        var traces = await AnalyticsTraffic.TracesAsync(tenant);
        Assert.AreEqual(Calls, traces.Count);
        var oldest = traces.Min(t => DateTimeOffset.Parse(t["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture));

        var session = await ReadAsync(await tenant.SendAsync(HttpMethod.Get, $"api/analytics/export.csv?workspaceId={tenant.WorkspaceId}", session: true), SessionHeader);
        var requests = await ReadAsync(await tenant.SendAsync(HttpMethod.Get, "v1/exports/requests.csv"), RequestsHeader);

        Assert.AreEqual(10_000, session.Rows.Count, "export.csv: at most 10,000 data rows");
        Assert.AreEqual(10_000, requests.Rows.Count, "requests.csv: at most 10,000 data rows");
        var left = traces.Select(t => t["id"]!.GetValue<string>()).Except(requests.Values("requestId")).ToList();
        Assert.AreEqual(1, left.Count, "the rows are 10,000 different calls");
        var leftAt = DateTimeOffset.Parse(traces.Single(t => t["id"]!.GetValue<string>() == left[0])["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.AreEqual(oldest, leftAt, "the one left out is the oldest");
        var newest = traces.Max(t => DateTimeOffset.Parse(t["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture));
        Assert.IsTrue((Instant(session.Rows[0][0]) - newest).Duration() < TimeSpan.FromSeconds(1), "export.csv starts with the newest call");
    }
}
