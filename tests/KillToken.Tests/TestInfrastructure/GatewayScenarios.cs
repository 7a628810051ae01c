using System.Text.Json.Nodes;
using KillToken.Core.Optimization;
using KillToken.Core.Providers;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The gateway's headline guarantees as store-independent scenarios: each runs against any <see cref="GatewayHost"/>
/// (SQLite or Cosmos DB) whose OpenAI base URL points at <paramref name="openai"/>, with the same assertions everywhere.
/// </summary>
internal static class GatewayScenarios
{
    public static object Chat(string model, string content = "hi", int? maxTokens = null, string? idempotencyKey = null, string? cache = null) => new
    {
        provider = "openai",
        model,
        messages = new[] { new { role = "user", content } },
        providerOptions = maxTokens is null ? null : new { max_tokens = maxTokens },
        idempotencyKey,
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    /// <summary>Answers every call with usage that costs exactly its tokens at the requested model's prices.</summary>
    public static Func<HttpContext, UpstreamRequest, Task> Usage(int prompt, int completion) => (context, request) =>
        FakeUpstream.Json(Fixtures.OpenAIChatCompletion(request.Json["model"]!.GetValue<string>(), prompt, completion))(context, request);

    /// <summary>A fresh tenant whose project has <paramref name="budget"/> (the PATCH body: dailyBudgetUsd…).</summary>
    public static async Task<Tenant> TenantWithBudgetAsync(GatewayHost host, object budget)
    {
        var tenant = await host.CreateTenantAsync();
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", budget, session: true), 200);
        return tenant;
    }

    /// <summary>
    /// 200 concurrent calls against a $1.00 daily budget, each reserving exactly $0.02 and costing exactly $0.01: exactly
    /// 99 are served (refused only once settled spend + $0.02 would pass $1.00), and settled spend is never over the limit.
    /// Needs a provider timeout long enough for the queue to drain (30 s).
    /// </summary>
    public static async Task TwoHundredConcurrentCalls_NeverOverspendAsync(GatewayHost host, FakeUpstream openai)
    {
        var tenant = await TenantWithBudgetAsync(host, new { dailyBudgetUsd = 1.00m });

        // gpt-4.1: $2 in / $8 out per 1M. Reserve exactly $0.02 (input estimate + max_tokens), cost exactly $0.01.
        var estimate = TokenCounter.For(ProviderId.OpenAI, "gpt-4.1").CountMessages([new JsonObject { ["role"] = "user", ["content"] = "hi" }]);
        Assert.AreEqual(0, (20_000 - (2 * estimate)) % 8, "the reservation must come out at exactly $0.02");
        var maxTokens = (int)((20_000 - (2 * estimate)) / 8);
        openai.Handler = Usage(prompt: 1000, completion: 1000);
        var before = openai.Requests.Count(r => r.Json["max_tokens"]?.GetValue<int>() == maxTokens);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => tenant.ChatAsync(Chat("gpt-4.1", maxTokens: maxTokens))));

        var ok = responses.Count(r => (int)r.StatusCode == 200);
        foreach (var response in responses.Where(r => (int)r.StatusCode != 200))
        {
            var error = (await GatewayHost.ReadJsonAsync(response, 429))["error"]!;
            Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>());
            Assert.AreEqual("daily", error["scope"]!.GetValue<string>());
            Assert.AreEqual(1.00m, error["limitUsd"]!.GetValue<decimal>());
            Assert.IsTrue(error["spentUsd"]!.GetValue<decimal>() + 0.02m > 1.00m, "refused only when settled spend left no room for the reservation");
            Assert.IsNotNull(error["resetsAt"]);
            Assert.IsTrue(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        }

        var project = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", session: true), 200);
        var today = project["spend"]!["today"]!;
        Assert.AreEqual(0.01m * ok, today["spentUsd"]!.GetValue<decimal>(), "settled spend is exactly what was served");
        Assert.IsTrue(today["spentUsd"]!.GetValue<decimal>() <= 1.00m, "never overspent");
        Assert.AreEqual(99, ok, "served until settled spend + $0.02 would pass $1.00");
        Assert.AreEqual(0m, today["reservedUsd"]!.GetValue<decimal>(), "every reservation was settled");
        Assert.AreEqual(ok, openai.Requests.Count(r => r.Json["max_tokens"]?.GetValue<int>() == maxTokens) - before, "refused calls never reached the provider");
    }

    /// <summary>50 concurrent requests under one idempotency key: one provider call, 50 identical answers, 49 free replays.</summary>
    public static async Task FiftyConcurrentTwins_MakeExactlyOneProviderCallAsync(GatewayHost host, FakeUpstream openai)
    {
        var tenant = await host.CreateTenantAsync();
        var calls = 0;
        openai.Handler = async (context, request) =>
        {
            if (request.Json["messages"]![0]!["content"]!.GetValue<string>() == "twins")
            {
                Interlocked.Increment(ref calls);
                await Task.Delay(300); // keep the first attempt in flight while the twins arrive
            }

            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: Guid.NewGuid().ToString()))(context, request);
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => tenant.ChatAsync(Chat("gpt-4o-mini", "twins", idempotencyKey: "order-42"))));
        var bodies = await Task.WhenAll(responses.Select(r => GatewayHost.ReadJsonAsync(r, 200)));

        Assert.AreEqual(1, calls, "exactly one provider call");
        var first = bodies[0]["response"]!;
        Assert.IsTrue(bodies.All(b => JsonNode.DeepEquals(first, b["response"])), "all 50 answers are the same answer");
        Assert.AreEqual(1, bodies.Count(b => b["metrics"]!["idempotency"]!.GetValue<string>() == "new"));
        Assert.AreEqual(49, bodies.Count(b => b["metrics"]!["idempotency"]!.GetValue<string>() == "replayed"));
        Assert.IsTrue(bodies.Where(b => b["metrics"]!["idempotency"]!.GetValue<string>() == "replayed").All(b => b["metrics"]!["costUsd"]!.GetValue<decimal>() == 0m), "replays are not billed");
    }

    /// <summary>read_write: the first call misses and stores, the second hits without calling the provider, free.</summary>
    public static async Task CacheReadWrite_MissThenHitAsync(GatewayHost host, FakeUpstream openai)
    {
        var tenant = await host.CreateTenantAsync();
        openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 1000));
        var before = openai.Count;

        var miss = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o-mini", "cache me", cache: "read_write")), 200);
        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("gpt-4o-mini", "cache me", cache: "read_write")), 200);

        Assert.AreEqual(before + 1, openai.Count);
        Assert.AreEqual("miss", miss["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(0m, hit["metrics"]!["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual(miss["metrics"]!["costUsd"]!.GetValue<decimal>(), hit["metrics"]!["savedUsd"]!.GetValue<decimal>(), "a hit records the cost it avoided");
        Assert.IsTrue(JsonNode.DeepEquals(miss["response"], hit["response"]));

        // Another workspace asking the same thing misses: entries never cross workspaces.
        var other = await host.CreateTenantAsync();
        var elsewhere = await GatewayHost.ReadJsonAsync(await other.ChatAsync(Chat("gpt-4o-mini", "cache me", cache: "read_write")), 200);
        Assert.AreEqual("miss", elsewhere["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(before + 2, openai.Count);
    }
}
