using System.Text.Json.Nodes;
using KillToken.Core.Optimization;
using KillToken.Core.Providers;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Budgets;

/// <summary>
/// Issue 11, item 2: a reservation holds the input estimate, and a provider can report more than that (a tokenizer the
/// estimate does not know, a prompt the estimator under-counts). The call is then charged what the provider reported —
/// never capped at the reservation — and that spend is what the next admission reads, so a limit can be passed only by
/// the overage (reported cost − reservation) of the last call admitted plus those of the calls in flight beside it, and
/// every call after that is refused until the period resets.
/// </summary>
[TestClass]
public sealed class BudgetOverageTests
{
    // gpt-4.1 in the pricing table: $2 per 1M input tokens, $8 per 1M output tokens.
    private const decimal InputPrice = 2.00m;
    private const decimal OutputPrice = 8.00m;
    private const decimal DailyLimit = 1.00m;
    private const int OutputCap = 1_000;

    // A Chinese prompt: the kind the old estimate under-counted by 72%.
    private const string Prompt = "请用三句话总结这份合同中关于终止、续约和违约金的条款。";

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    /// <summary>What a call with <see cref="Prompt"/> and <see cref="OutputCap"/> reserves: the prompt's gpt-4.1 tokens + output cap at gpt-4.1's prices.</summary>
    private static decimal Reservation { get; } =
        ((TokenCounter.For(ProviderId.OpenAI, "gpt-4.1").CountMessages([new JsonObject { ["role"] = "user", ["content"] = Prompt }]) * InputPrice) + (OutputCap * OutputPrice)) / 1_000_000m;

    private static decimal Cost(int prompt, int completion) => ((prompt * InputPrice) + (completion * OutputPrice)) / 1_000_000m;

    private static object Chat(int maxTokens = OutputCap, string content = Prompt) => new
    {
        provider = "openai",
        model = "gpt-4.1",
        messages = new[] { new { role = "user", content } },
        providerOptions = new { max_tokens = maxTokens },
    };

    private static Func<HttpContext, UpstreamRequest, Task> Usage(int prompt, int completion) =>
        FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4.1", prompt, completion));

    /// <summary>A project with a $1.00 daily limit that has already spent $0.97 (121,250 output tokens at $8/M).</summary>
    private static async Task<Tenant> NearlySpentProjectAsync()
    {
        var tenant = await _host.CreateTenantAsync();
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { dailyBudgetUsd = DailyLimit }, session: true), 200);
        _openai.Handler = Usage(prompt: 0, completion: 121_250);
        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat(maxTokens: 121_250, content: "hi")), 200);
        Assert.AreEqual(0.97m, first["metrics"]!["costUsd"]!.GetValue<decimal>());
        return tenant;
    }

    private static async Task<(decimal Spent, decimal Reserved, string State)> SpendAsync(Tenant tenant)
    {
        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        var today = project["spend"]!["today"]!;
        return (today["spentUsd"]!.GetValue<decimal>(), today["reservedUsd"]!.GetValue<decimal>(), project["spend"]!["state"]!.GetValue<string>());
    }

    private static async Task AssertRefusedAsync(Tenant tenant, decimal spent)
    {
        var before = _openai.Count;
        var refused = (await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 429))["error"]!;
        Assert.AreEqual("budget_exceeded", refused["code"]!.GetValue<string>());
        Assert.AreEqual("daily", refused["scope"]!.GetValue<string>());
        Assert.AreEqual(spent, refused["spentUsd"]!.GetValue<decimal>(), "the refusal counts the overage");
        Assert.AreEqual(before, _openai.Count, "a refused call never reaches the provider");
    }

    [TestMethod]
    public async Task ACallReportingMoreThanItReserved_IsChargedItsReportedCost_AndTheNextCallIsRefused()
    {
        var tenant = await NearlySpentProjectAsync();
        Assert.IsLessThanOrEqualTo(DailyLimit - 0.97m, Reservation, "the call's reservation fits the $0.03 left, so it is admitted");

        // The provider counts 150,000 prompt tokens: far more than the estimate the reservation holds.
        _openai.Handler = Usage(prompt: 150_000, completion: OutputCap);
        var served = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        var cost = Cost(150_000, OutputCap); // $0.308
        Assert.AreEqual("priced", served["metrics"]!["costStatus"]!.GetValue<string>());
        Assert.AreEqual(cost, served["metrics"]!["costUsd"]!.GetValue<decimal>(), "charged what the provider reported, not the reservation");
        Assert.AreEqual(150_000, served["metrics"]!["inputTokens"]!.GetValue<long>());

        var (spent, reserved, state) = await SpendAsync(tenant);
        Assert.AreEqual(0.97m + cost, spent, "the whole cost is settled and counted");
        Assert.AreEqual(0m, reserved);
        Assert.AreEqual("blocked", state);
        Assert.IsGreaterThan(DailyLimit, spent, "one call's overage passes the limit…");
        Assert.IsLessThanOrEqualTo(cost - Reservation, spent - DailyLimit, "…by no more than that overage (reported cost − reservation)");

        await AssertRefusedAsync(tenant, spent);
    }

    [TestMethod]
    public async Task CallsInFlightTogether_PassTheLimitByAtMostTheSumOfTheirOverages()
    {
        var tenant = await NearlySpentProjectAsync();
        const int Calls = 3;
        Assert.IsLessThanOrEqualTo(DailyLimit - 0.97m, Calls * Reservation, "all three reservations fit the $0.03 left");

        // The provider answers none until all three are in flight (each holding its reservation), then reports 50,000
        // prompt tokens for each: $0.108 per call, ~$0.10 above what each reserved.
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = Usage(prompt: 50_000, completion: OutputCap);
        _openai.Handler = async (context, request) =>
        {
            if (Interlocked.Increment(ref arrived) == Calls)
            {
                allArrived.TrySetResult();
            }

            await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await answer(context, request);
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, Calls).Select(_ => tenant.ChatAsync(Chat())));
        foreach (var response in responses)
        {
            await GatewayHost.ReadJsonAsync(response, 200);
        }

        var cost = Cost(50_000, OutputCap); // $0.108
        var (spent, reserved, state) = await SpendAsync(tenant);
        Assert.AreEqual(0.97m + (Calls * cost), spent, "every call's reported cost is settled");
        Assert.AreEqual(0m, reserved);
        Assert.AreEqual("blocked", state);
        Assert.IsGreaterThan(cost - Reservation, spent - DailyLimit, "more than one call's overage past the limit…");
        Assert.IsLessThanOrEqualTo(Calls * (cost - Reservation), spent - DailyLimit, "…but no more than the sum of the overages of the calls in flight");

        await AssertRefusedAsync(tenant, spent);
    }
}
