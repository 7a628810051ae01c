using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using KillToken.Tests.Wrappers;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Budgets;

/// <summary>
/// Admission that serves up to the limit: a lowered output cap when only that fits, the fallback model when the requested
/// one cannot fit at all, a 429 only when nothing fits (saying which limit and what remains), and the workspace's own
/// monthly limit on top of the project's. Runs on SQLite and, in CI's second pass, on Cosmos DB.
/// </summary>
[TestClass]
public sealed class BudgetAdmissionTests
{
    // gpt-4o: $2.50 in / $10 out per 1M tokens, no published output limit, so a call without max_tokens reserves 4,096
    // output tokens (≈ $0.041). gpt-4o-mini: $0.15 / $0.60.
    private const decimal Gpt4oOutputPerToken = 10m / 1_000_000m;
    private const decimal Gpt4oMiniOutputPerToken = 0.60m / 1_000_000m;
    private const int MinimumOutputCap = 256;

    public TestContext TestContext { get; set; } = null!;

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _gemini = null!;
    private static SmtpTestServer _smtp = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _gemini = await FakeUpstream.StartAsync();
        _smtp = await SmtpTestServer.StartAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _openai.DisposeAsync();
        await _gemini.DisposeAsync();
        _smtp.Dispose();
    }

    private static Task<GatewayHost> StartHostAsync(bool withMail = false)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_GEMINI_BASE_URL"] = _gemini.BaseAddress.ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "60",
        };
        if (withMail)
        {
            settings["SMTP_HOST"] = "127.0.0.1";
            settings["SMTP_PORT"] = _smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["SMTP_FROM"] = "alerts@killtoken.test";
            settings["SMTP_SECURE"] = "none"; // the plain emulator offers no STARTTLS
        }

        return GatewayHost.StartAsync(settings);
    }

    /// <summary>
    /// Answers with <paramref name="completion"/> output tokens, or — when null — every token the call was allowed (the
    /// worst case); never more than the cap it was sent, as a provider does. Prompts here are a few tokens, within the estimate.
    /// </summary>
    private static Func<HttpContext, UpstreamRequest, Task> Answer(int prompt, int? completion = null) => (context, request) =>
    {
        var allowed = (request.Json["max_completion_tokens"] ?? request.Json["max_tokens"])?.GetValue<int>() ?? 4096;
        return FakeUpstream.Json(Fixtures.OpenAIChatCompletion(request.Json["model"]!.GetValue<string>(), prompt, Math.Min(completion ?? allowed, allowed)))(context, request);
    };

    private static object Chat(string model, string content = "hi", object? providerOptions = null, bool stream = false) => new
    {
        provider = "openai",
        model,
        messages = new[] { new { role = "user", content } },
        providerOptions,
        stream,
    };

    private static async Task<Tenant> TenantAsync(GatewayHost host, object settings)
    {
        var tenant = await host.CreateTenantAsync();
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", settings, session: true), 200);
        return tenant;
    }

    private static async Task<JsonNode> TodayAsync(Tenant tenant) =>
        (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200))["spend"]!["today"]!;

    private static decimal Decimal(JsonNode? node) => node!.GetValue<decimal>();

    [TestMethod]
    public async Task TwoCentsADay_OnGpt4o_IsServedWithALoweredCap_UntilSpendReachesTheLimit_NeverPast()
    {
        await using var host = await StartHostAsync();
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 0.02m });
        _openai.Handler = Answer(prompt: 1, completion: 300); // ≈ $0.003 a call
        var before = _openai.Count;

        // The reported defect: $0 spent, yet every call was refused because 4,096 output tokens (≈ $0.041) did not fit.
        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o")), 200);
        var metrics = first["metrics"]!;
        Assert.IsTrue(metrics["outputCapped"]!.GetValue<bool>(), metrics.ToJsonString());
        var cap = metrics["outputCap"]!.GetValue<long>();
        Assert.IsTrue(cap is >= MinimumOutputCap and < 4096, $"cap {cap}");
        Assert.IsTrue(cap * Gpt4oOutputPerToken <= 0.02m && (cap + 10) * Gpt4oOutputPerToken > 0.0195m, $"the cap is what $0.02 pays for: {cap}");
        Assert.AreEqual(cap, _openai.Requests[before].Json["max_completion_tokens"]!.GetValue<long>(), "the provider was sent the lowered cap");
        Assert.IsNull(_openai.Requests[before].Json["max_tokens"], "under OpenAI's current name only");

        var trace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"v1/requests/{metrics["requestId"]!.GetValue<string>()}"), 200);
        Assert.IsTrue(trace.ToJsonString().Contains("\"outputCapped\":true", StringComparison.Ordinal), trace.ToJsonString());
        Assert.AreEqual(cap, (trace["outputCap"] ?? trace["trace"]?["outputCap"])!.GetValue<long>());

        // Keep calling: served while the remainder pays for 256 output tokens, then refused with what remains.
        var served = 1;
        JsonNode? refusal = null;
        for (var i = 0; i < 20 && refusal is null; i++)
        {
            var response = await tenant.ChatAsync(Chat("gpt-4o"));
            if ((int)response.StatusCode == 200)
            {
                served++;
                continue;
            }

            refusal = (await GatewayHost.ReadJsonAsync(response, 429))["error"];
        }

        Assert.IsNotNull(refusal, "the budget ran out within 20 calls");
        var today = await TodayAsync(tenant);
        var spent = Decimal(today["spentUsd"]);
        TestContext.WriteLine($"$0.02/day gpt-4o: first cap {cap} tokens, {served} calls served, ${spent} settled, refused with {refusal!.ToJsonString()}");
        Assert.IsTrue(spent <= 0.02m, $"never past the limit: {spent}");
        Assert.AreEqual(0m, Decimal(today["reservedUsd"]));
        Assert.AreEqual(served, _openai.Count - before, "refused calls never reached the provider");
        Assert.IsTrue(served >= 6, $"$0.02 pays for six ≈$0.003 calls: {served}");

        Assert.AreEqual("budget_exceeded", refusal!["code"]!.GetValue<string>());
        Assert.AreEqual("daily", refusal["scope"]!.GetValue<string>());
        Assert.AreEqual(0.02m, Decimal(refusal["limitUsd"]));
        Assert.AreEqual(Math.Round(spent, 6), Decimal(refusal["spentUsd"]));
        Assert.AreEqual(Math.Round(0.02m - spent, 6), Decimal(refusal["remainingUsd"]));
        Assert.IsTrue(Decimal(refusal["remainingUsd"]) < Decimal(refusal["requiredUsd"]), "refused only when the remainder cannot pay for the minimum output");
        Assert.IsTrue(Decimal(refusal["requiredUsd"]) >= MinimumOutputCap * Gpt4oOutputPerToken);
        StringAssert.Contains(refusal["message"]!.GetValue<string>(), "remains");
    }

    [TestMethod]
    public async Task TwoHundredConcurrentCalls_OnASmallBudget_NeverOverspend_AndNoneIsRefusedWhileTheMinimumStillFits()
    {
        await using var host = await StartHostAsync();
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 0.05m });
        _openai.Handler = Answer(prompt: 1, completion: 300);
        var before = _openai.Count;

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => tenant.ChatAsync(Chat("gpt-4o"))));

        var ok = responses.Count(r => (int)r.StatusCode == 200);
        var today = await TodayAsync(tenant);
        var spent = Decimal(today["spentUsd"]);
        TestContext.WriteLine($"200 concurrent gpt-4o on $0.05/day: {ok} served, ${spent} settled, {200 - ok} refused");
        Assert.IsTrue(spent <= 0.05m, $"never past the limit: {spent}");
        Assert.AreEqual(0m, Decimal(today["reservedUsd"]), "every reservation was settled");
        Assert.AreEqual(ok, _openai.Count - before, "refused calls never reached the provider");
        Assert.IsTrue(ok >= 15, $"$0.05 pays for at least fifteen ≈$0.003 calls: {ok}");
        foreach (var response in responses.Where(r => (int)r.StatusCode != 200))
        {
            var error = (await GatewayHost.ReadJsonAsync(response, 429))["error"]!;
            Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>());
            Assert.IsTrue(Decimal(error["remainingUsd"]) < Decimal(error["requiredUsd"]),
                $"refused while the limit could still pay for the minimum output: {error.ToJsonString()}");
        }

        // What was left unspent is less than any admissible call: the budget was used up to its last useful cent.
        Assert.IsTrue(0.05m - spent < (MinimumOutputCap * Gpt4oOutputPerToken) + 0.0001m, $"left {0.05m - spent}");
    }

    [TestMethod]
    public async Task WhenTheRequestedModelCannotFit_TheFallbackIsTried_BelowEightyPercent()
    {
        await using var host = await StartHostAsync();
        // $0.002: gpt-4o's 256-token minimum ($0.00256) cannot fit; gpt-4o-mini (4,096 tokens ≈ $0.0025) fits with a lower cap.
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 0.002m, fallbackModel = "gpt-4o-mini" });
        _openai.Handler = Answer(prompt: 1, completion: 20);
        var before = _openai.Count;

        var answer = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o")), 200);

        var metrics = answer["metrics"]!;
        Assert.AreEqual("gpt-4o-mini", _openai.Requests[before].Json["model"]!.GetValue<string>());
        Assert.IsTrue(metrics["wasFallback"]!.GetValue<bool>());
        Assert.AreEqual("gpt-4o", metrics["originalModel"]!.GetValue<string>());
        Assert.AreEqual("gpt-4o-mini", metrics["finalModel"]!.GetValue<string>());
        Assert.IsTrue(metrics["outputCapped"]!.GetValue<bool>());
        var cap = metrics["outputCap"]!.GetValue<long>();
        Assert.AreEqual(cap, _openai.Requests[before].Json["max_completion_tokens"]!.GetValue<long>());
        Assert.IsTrue(cap * Gpt4oMiniOutputPerToken <= 0.002m && cap > 3000, $"cap {cap}");
    }

    [TestMethod]
    public async Task ACallersOwnMaxTokens_IsNeverChanged_ItIsServedAsAskedOrRefused()
    {
        await using var host = await StartHostAsync();
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 0.02m });
        _openai.Handler = Answer(prompt: 1);
        var before = _openai.Count;

        // 3,000 tokens ($0.03) cannot fit $0.02: the caller asked for them, so the call is refused rather than cut.
        var refused = (await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 3000 })), 429))["error"]!;
        Assert.AreEqual(before, _openai.Count);
        Assert.AreEqual(0m, Decimal(refused["spentUsd"]));
        Assert.AreEqual(0.02m, Decimal(refused["remainingUsd"]));
        Assert.IsTrue(Decimal(refused["requiredUsd"]) >= 0.03m, refused.ToJsonString());

        // 1,000 tokens fits: sent exactly as asked, not lowered, not raised.
        var served = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 1000 })), 200);
        Assert.AreEqual(1000, _openai.Requests[before].Json["max_tokens"]!.GetValue<int>());
        Assert.IsNull(_openai.Requests[before].Json["max_completion_tokens"]);
        Assert.IsFalse(served["metrics"]!["outputCapped"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task UnderABudget_ACallWithoutMaxTokens_IsSentWithTheCapItsReservationHolds_WithoutABudget_AsWritten()
    {
        await using var host = await StartHostAsync();
        var budgeted = await TenantAsync(host, new { dailyBudgetUsd = 5m });
        var unlimited = await host.CreateTenantAsync();
        _openai.Handler = Answer(prompt: 1, completion: 20);
        var before = _openai.Count;

        var answer = await GatewayHost.ReadJsonAsync(await budgeted.ChatAsync(Chat("gpt-4o")), 200);
        await GatewayHost.ReadJsonAsync(await unlimited.ChatAsync(Chat("gpt-4o")), 200);

        // The reservation is the most the call can cost only if the provider is held to the output it assumed.
        Assert.AreEqual(4096, _openai.Requests[before].Json["max_completion_tokens"]!.GetValue<int>());
        Assert.IsFalse(answer["metrics"]!["outputCapped"]!.GetValue<bool>(), "not lowered: the budget's own ceiling");
        Assert.IsNull(_openai.Requests[before + 1].Json["max_completion_tokens"], "no budget, nothing added");
        Assert.IsNull(_openai.Requests[before + 1].Json["max_tokens"]);
    }

    [TestMethod]
    public async Task ACallersCapInsideGenerationConfig_IsTheCallersCap_NeverRaisedByAdmission()
    {
        await using var host = await StartHostAsync();
        var tenant = await host.CreateTenantAsync("gemini", "gemini-admission-secret-0002");
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { dailyBudgetUsd = 0.001m }, session: true), 200);
        _gemini.Handler = FakeUpstream.Json(JsonNode.Parse("""
            {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"totalTokenCount":10},"modelVersion":"gemini-2.0-flash"}
            """)!);
        var before = _gemini.Count;

        var answer = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new
        {
            provider = "gemini",
            model = "gemini-2.0-flash",
            messages = new[] { new { role = "user", content = "hi" } },
            providerOptions = new { generationConfig = new { maxOutputTokens = 100 } },
        }), 200);

        Assert.AreEqual(100, _gemini.Requests[before].Json["generationConfig"]!["maxOutputTokens"]!.GetValue<int>(), _gemini.Requests[before].Body);
        Assert.IsFalse(answer["metrics"]!["outputCapped"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task AStreamedCall_IsSentWithTheLoweredCap()
    {
        await using var host = await StartHostAsync();
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 0.01m });
        var before = _openai.Count;
        _openai.Handler = async (context, request) =>
        {
            context.Response.ContentType = "text/event-stream";
            foreach (var line in Streaming.SseTestKit.OpenAIStream())
            {
                await context.Response.WriteAsync(line);
            }
        };

        using var response = await tenant.ChatAsync(Chat("gpt-4o", stream: true));
        var text = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(200, (int)response.StatusCode, text);
        var cap = _openai.Requests[before].Json["max_completion_tokens"]!.GetValue<long>();
        Assert.IsTrue(cap is >= MinimumOutputCap and < 1000, $"cap {cap}");
        StringAssert.Contains(text, "\"outputCapped\":true");
    }

    [TestMethod]
    public async Task ANativeGeminiBody_WithoutACap_IsSentWithTheLoweredCapInGenerationConfig()
    {
        await using var host = await StartHostAsync();
        var tenant = await host.CreateTenantAsync("gemini", "gemini-admission-secret-0001");
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { dailyBudgetUsd = 0.001m }, session: true), 200);
        _gemini.Handler = FakeUpstream.Json(JsonNode.Parse("""
            {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"totalTokenCount":10},"modelVersion":"gemini-2.0-flash"}
            """)!);
        var before = _gemini.Count;
        var body = JsonNode.Parse("""{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{"temperature":0.2}}""")!.AsObject();

        var response = await WrapperTestKit.PostAsync(host, "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent", body, new() { ["x-goog-api-key"] = tenant.ApiKey });

        await GatewayHost.ReadJsonAsync(response, 200);
        var sent = _gemini.Requests[before].Json["generationConfig"]!;
        Assert.AreEqual(0.2, sent["temperature"]!.GetValue<double>(), "the caller's own settings are kept");
        var cap = sent["maxOutputTokens"]!.GetValue<long>();
        // gemini-2.0-flash output is $0.40/M: $0.001 pays for just under 2,500 tokens.
        Assert.IsTrue(cap is > 2000 and < 2500, $"cap {cap}");
        Assert.IsTrue(WrapperTestKit.MetricsHeader(response)["outputCapped"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task AWorkspaceLimit_BlocksAProjectUnderItsOwnLimit_CountsEveryProject_AndIsShownOnTheWorkspace()
    {
        await using var host = await StartHostAsync();
        var tenant = await TenantAsync(host, new { dailyBudgetUsd = 10m });
        var (_, secondKey) = await host.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = "second project" });
        var second = tenant with { ApiKey = secondKey };
        _openai.Handler = Answer(prompt: 0, completion: 100); // $0.001 on gpt-4o

        // Spend before the limit exists counts once it is set.
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 100 })), 200);
        var set = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", new { monthlyBudgetUsd = 0.005m }, session: true), 200);
        Assert.AreEqual(0.005m, Decimal(set["monthlyBudgetUsd"]));
        Assert.AreEqual(0.001m, Decimal(set["month"]!["spentUsd"]), set.ToJsonString());

        var served = 1;
        JsonNode? refusal = null;
        for (var i = 0; i < 10 && refusal is null; i++)
        {
            var response = await (i % 2 == 0 ? second : tenant).ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 100 }));
            if ((int)response.StatusCode == 200)
            {
                served++;
                continue;
            }

            refusal = (await GatewayHost.ReadJsonAsync(response, 429))["error"];
        }

        Assert.IsNotNull(refusal);
        Assert.AreEqual("workspace", refusal!["scope"]!.GetValue<string>(), refusal.ToJsonString());
        Assert.AreEqual(0.005m, Decimal(refusal["limitUsd"]));
        StringAssert.Contains(refusal["message"]!.GetValue<string>(), "workspace");
        Assert.IsTrue(served is >= 3 and <= 5, $"served {served}");

        var workspace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}", session: true), 200);
        var month = workspace["month"]!;
        Assert.IsTrue(Decimal(month["spentUsd"]) <= 0.005m, month.ToJsonString());
        Assert.AreEqual(Decimal(refusal["spentUsd"]), Decimal(month["spentUsd"]));
        Assert.AreEqual(0m, Decimal(month["reservedUsd"]));
        var listed = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/workspaces", session: true), 200);
        Assert.AreEqual(0.005m, Decimal(listed["data"]!.AsArray().Single(w => w!["id"]!.GetValue<string>() == tenant.WorkspaceId)!["monthlyBudgetUsd"]));

        // Removing the limit lets the project spend again up to its own.
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", new { monthlyBudgetUsd = (decimal?)null }, session: true), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 100 })), 200);
    }

    [TestMethod]
    public async Task ConcurrentCalls_FromTwoProjects_NeverPassTheWorkspaceLimit()
    {
        await using var host = await StartHostAsync();
        var tenant = await host.CreateTenantAsync();
        var (_, secondKey) = await host.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = "second project", dailyBudgetUsd = 1m });
        var second = tenant with { ApiKey = secondKey };
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", new { monthlyBudgetUsd = 0.03m }, session: true), 200);
        _openai.Handler = Answer(prompt: 1, completion: 300);
        var before = _openai.Count;

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => (i % 2 == 0 ? tenant : second).ChatAsync(Chat("gpt-4o"))));

        var ok = responses.Count(r => (int)r.StatusCode == 200);
        var month = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}", session: true), 200))["month"]!;
        TestContext.WriteLine($"100 concurrent calls from two projects on a $0.03 workspace: {ok} served, {month.ToJsonString()}");
        Assert.IsTrue(Decimal(month["spentUsd"]) <= 0.03m, month.ToJsonString());
        Assert.AreEqual(0m, Decimal(month["reservedUsd"]), "every workspace reservation was settled or given back");
        Assert.AreEqual(ok, _openai.Count - before);
        Assert.IsTrue(ok >= 9, $"$0.03 pays for nine ≈$0.003 calls: {ok}");
        foreach (var response in responses.Where(r => (int)r.StatusCode != 200))
        {
            var error = (await GatewayHost.ReadJsonAsync(response, 429))["error"]!;
            Assert.AreEqual("workspace", error["scope"]!.GetValue<string>());
            Assert.IsTrue(Decimal(error["remainingUsd"]) < Decimal(error["requiredUsd"]), error.ToJsonString());
        }

        foreach (var project in new[] { tenant.ProjectId, (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/projects", session: true), 200))["data"]!.AsArray().Select(p => p!["id"]!.GetValue<string>()).Single(id => id != tenant.ProjectId) })
        {
            var today = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{project}", session: true), 200))["spend"]!["today"]!;
            Assert.AreEqual(0m, Decimal(today["reservedUsd"]), "no project reservation is left behind");
        }
    }

    [TestMethod]
    public async Task AWorkspaceLimit_AlertsItsOwnersOnce_WhenSpendCrosses80Percent()
    {
        await using var host = await StartHostAsync(withMail: true);
        var tenant = await host.CreateTenantAsync();
        var owner = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/me", session: true), 200))["user"]!["email"]!.GetValue<string>();
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", new { monthlyBudgetUsd = 0.01m }, session: true), 200);
        _openai.Handler = Answer(prompt: 0, completion: 450); // $0.0045 on gpt-4o

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 450 })), 200); // 45%
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 450 })), 200); // 90%
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o", providerOptions: new { max_tokens = 450 })), 429); // cannot fit: no spend, no mail

        await _smtp.WaitForAsync(_smtp.Messages.Count(m => m.To.Contains(owner)) + 1);
        await Task.Delay(500); // give a (wrong) second mail the chance to show up
        var mails = _smtp.Messages.Where(m => m.To.Contains(owner)).ToList();
        Assert.AreEqual(1, mails.Count, string.Join(" | ", mails.Select(m => m.Subject)));
        StringAssert.Contains(mails[0].Subject, "80% of the monthly workspace");
        StringAssert.Contains(mails[0].Data, "Workspace: ");
        StringAssert.Contains(mails[0].Data, "Budget: monthly workspace");
        StringAssert.Contains(mails[0].Data, "Spent: $0.009 of $0.01");
    }

    [TestMethod]
    [DataRow("{\"monthlyBudgetUsd\": -1}")]
    [DataRow("{\"monthlyBudgetUsd\": \"ten\"}")]
    [DataRow("{}")]
    [DataRow("{\"name\": \"\"}")]
    public async Task AWorkspaceLimitThatIsNotAnAmount_IsA400_AndChangesNothing(string body)
    {
        await using var host = await StartHostAsync();
        var tenant = await host.CreateTenantAsync();

        var error = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", body, session: true), 400))["error"]!;

        Assert.AreEqual("validation_failed", error["code"]!.GetValue<string>());
        var workspace = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}", session: true), 200);
        Assert.IsNull(workspace["monthlyBudgetUsd"]);
        Assert.IsFalse(string.IsNullOrEmpty(workspace["name"]!.GetValue<string>()));
    }

    [TestMethod]
    public async Task AWorkspaceStranger_CannotReadOrSetItsBudget()
    {
        await using var host = await StartHostAsync();
        var owner = await host.CreateTenantAsync();
        var stranger = await host.CreateTenantAsync();

        await GatewayHost.ReadJsonAsync(await stranger.SendAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}", session: true), 404);
        await GatewayHost.ReadJsonAsync(await stranger.SendAsync(HttpMethod.Patch, $"api/workspaces/{owner.WorkspaceId}", new { monthlyBudgetUsd = 1m }, session: true), 404);
        var workspace = await GatewayHost.ReadJsonAsync(await owner.SendAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}", session: true), 200);
        Assert.IsNull(workspace["monthlyBudgetUsd"]);
    }
}
