using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Optimization;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace KillToken.Tests.Budgets;

[TestClass]
public sealed class BudgetTests
{
    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static SmtpTestServer _smtp = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _anthropic = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.AnthropicMessage()));
        _smtp = await SmtpTestServer.StartAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _openai.DisposeAsync();
        await _anthropic.DisposeAsync();
        _smtp.Dispose();
    }

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Answers every call with usage that costs exactly <paramref name="completionTokens"/> × the model's output price.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> Usage(int prompt, int completion) => (context, request) =>
        FakeUpstream.Json(Fixtures.OpenAIChatCompletion(request.Json["model"]!.GetValue<string>(), prompt, completion))(context, request);

    private static async Task<Tenant> TenantWithBudgetAsync(GatewayHost host, object budget)
    {
        var tenant = await host.CreateTenantAsync();
        var patched = await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", budget, session: true);
        await GatewayHost.ReadJsonAsync(patched, 200);
        return tenant;
    }

    private static object Chat(string model, int? maxTokens = null, string content = "hi", string? cache = null) => new
    {
        provider = "openai",
        model,
        messages = new[] { new { role = "user", content } },
        providerOptions = maxTokens is null ? null : new { max_tokens = maxTokens },
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    [TestMethod]
    public async Task TwoHundredConcurrentCalls_NeverOverspend_AndAreRefusedOnlyWhenSettledSpendLeavesNoRoom()
    {
        await using var host = await GatewayHost.StartAsync(Settings());
        await GatewayScenarios.TwoHundredConcurrentCalls_NeverOverspendAsync(host, _openai);
    }

    [TestMethod]
    public async Task Crossing80Percent_SwitchesToFallback_100PercentBlocks_NextUtcDayUnblocks()
    {
        var now = DateTimeOffset.UtcNow;
        var clock = new FakeTimeProvider(new DateTimeOffset(now.Year, now.Month, now.Day, 23, 0, 0, TimeSpan.Zero));
        await using var host = await GatewayHost.StartAsync(Settings(), services => services.AddSingleton<TimeProvider>(clock));
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m, fallbackModel = "gpt-4.1-mini" });

        // gpt-4.1 output at $8/M: 50,000 tokens = $0.40.
        _openai.Handler = Usage(prompt: 0, completion: 50_000);
        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 50_000)), 200);
        var second = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 50_000)), 200);
        Assert.IsFalse(second["metrics"]!["wasFallback"]!.GetValue<bool>(), "at 40% the requested model is used");

        // Spend is now $0.80 = 80%: the next request goes to the fallback. gpt-4.1-mini at $1.60/M: 125,000 tokens = $0.20.
        _openai.Handler = Usage(prompt: 0, completion: 125_000);
        var before = _openai.Count;
        var fallback = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.AreEqual("gpt-4.1-mini", _openai.Requests[before].Json["model"]!.GetValue<string>());
        Assert.IsTrue(fallback["metrics"]!["wasFallback"]!.GetValue<bool>());
        Assert.AreEqual("gpt-4.1", fallback["metrics"]!["originalModel"]!.GetValue<string>());
        Assert.AreEqual("gpt-4.1-mini", fallback["metrics"]!["finalModel"]!.GetValue<string>());
        Assert.AreEqual(0.20m, fallback["metrics"]!["costUsd"]!.GetValue<decimal>());

        // $1.00 = 100%: blocked, without calling the provider.
        before = _openai.Count;
        var blocked = await tenant.ChatAsync(Chat("gpt-4.1"));
        var error = (await GatewayHost.ReadJsonAsync(blocked, 429))["error"]!;
        Assert.AreEqual(before, _openai.Count);
        Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>());
        Assert.AreEqual(1.00m, error["spentUsd"]!.GetValue<decimal>());
        var midnight = clock.GetUtcNow().Date.AddDays(1);
        Assert.AreEqual(new DateTimeOffset(midnight, TimeSpan.Zero), DateTimeOffset.Parse(error["resetsAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.AreEqual(3600, (int)blocked.Headers.RetryAfter!.Delta!.Value.TotalSeconds);

        var state = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        Assert.AreEqual("blocked", state["spend"]!["state"]!.GetValue<string>());

        // The next UTC day: no job ran, yet the new day's counters start at zero.
        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        _openai.Handler = Usage(prompt: 10, completion: 10);
        var nextDay = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.IsFalse(nextDay["metrics"]!["wasFallback"]!.GetValue<bool>());
        state = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        Assert.AreEqual("normal", state["spend"]!["state"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CacheHitsAndReplays_AreServedEvenWhenTheBudgetIsSpent()
    {
        await using var host = await GatewayHost.StartAsync(Settings());
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 0.80m });
        _openai.Handler = Usage(prompt: 0, completion: 50_000); // $0.40 each on gpt-4.1
        var keyed = new { provider = "openai", model = "gpt-4.1", messages = new[] { new { role = "user", content = "keyed" } }, idempotencyKey = "job-7", providerOptions = new { max_tokens = 40_000 } };
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 40_000, "cached question", cache: "read_write")), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(keyed), 200);

        var fresh = await tenant.ChatAsync(Chat("gpt-4.1", 10, "a new question"));
        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 40_000, "cached question", cache: "read_write")), 200);
        var replay = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(keyed), 200);

        Assert.AreEqual(429, (int)fresh.StatusCode, "the budget is spent");
        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("replayed", replay["metrics"]!["idempotency"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CrossProviderFallback_NeedsThatProvidersCredential_AndSaysSoWhenMissing()
    {
        await using var host = await GatewayHost.StartAsync(Settings());
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m, fallbackModel = "claude-3-5-haiku-latest", fallbackProvider = "anthropic" });
        _openai.Handler = Usage(prompt: 0, completion: 100_000); // $0.80 on gpt-4.1
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 100_000)), 200);

        _openai.Handler = Usage(prompt: 1, completion: 1);
        var withoutCredential = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.IsFalse(withoutCredential["metrics"]!["wasFallback"]!.GetValue<bool>());
        StringAssert.Contains(withoutCredential["metrics"]!["fallbackSkipped"]!.GetValue<string>(), "anthropic");

        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials",
            new { provider = "anthropic", apiKey = "sk-ant-fallback-key-123456" }, session: true), 201);
        var before = _anthropic.Count;
        var crossed = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 200);

        Assert.AreEqual(before + 1, _anthropic.Count, "the fallback went to Anthropic");
        Assert.AreEqual("claude-3-5-haiku-latest", _anthropic.Requests[^1].Json["model"]!.GetValue<string>());
        Assert.AreEqual("anthropic", crossed["metrics"]!["finalProvider"]!.GetValue<string>());
        Assert.IsTrue(crossed["metrics"]!["wasFallback"]!.GetValue<bool>());
    }

    [TestMethod]
    public async Task Alerts_OneEmailPerThresholdPerPeriod_WithTheRightNumbers()
    {
        await using var host = await GatewayHost.StartAsync(Settings(("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", _smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("SMTP_FROM", "alerts@killtoken.test"),
            ("SMTP_SECURE", "none"))); // the plain emulator offers no STARTTLS
        var alertEmail = $"ops-{Guid.NewGuid():N}@example.com";
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m, alertEmail });
        _openai.Handler = Usage(prompt: 0, completion: 50_000); // $0.40 each on gpt-4.1

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 50_000)), 200); // 40%
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 50_000)), 200); // 80%
        _openai.Handler = Usage(prompt: 0, completion: 25_000); // $0.20
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1", 5_000)), 200);  // 100%
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4.1")), 429);          // blocked: no new spend, no mail

        var mails = (await _smtp.WaitForAsync(2)).Where(m => m.To.Contains(alertEmail)).ToList();
        await Task.Delay(500); // give a (wrong) third mail the chance to show up
        mails = [.. _smtp.Messages.Where(m => m.To.Contains(alertEmail))];

        Assert.AreEqual(2, mails.Count, string.Join(" | ", mails.Select(m => m.Subject)));
        var eighty = mails.Single(m => m.Subject.Contains("80%", StringComparison.Ordinal));
        var hundred = mails.Single(m => m.Subject.Contains("reached", StringComparison.Ordinal));
        StringAssert.Contains(eighty.Data, "Spent: $0.8 of $1");
        StringAssert.Contains(hundred.Data, "Spent: $1 of $1");
        Assert.AreEqual("alerts@killtoken.test", eighty.From);
    }
}
