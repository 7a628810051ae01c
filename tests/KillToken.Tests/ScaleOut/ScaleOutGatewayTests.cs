using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Optimization;
using KillToken.Core.Providers;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.TestInfrastructure.GatewayScenarios;

namespace KillToken.Tests.ScaleOut;

/// <summary>
/// Issue 19, "several instances, one store": two in-process self-hosts and the real Functions worker on one Cosmos DB
/// database, with calls spread over them round-robin. Budgets, idempotency, the exact cache and access cuts must hold
/// as they do on one instance — nothing of it may rest on one instance's memory. Runs on Cosmos DB whatever the run's
/// store (several instances on one SQLite file is not a deployment KillToken offers).
/// </summary>
[TestClass]
public sealed class ScaleOutGatewayTests
{
    private static FakeUpstream _openai = null!;
    private static SmtpTestServer _smtp = null!;
    private static SharedStoreCluster _cluster = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _smtp = await SmtpTestServer.StartAsync();
        _cluster = await SharedStoreCluster.StartAsync(_openai, selfHosts: 2, functionsWorker: true,
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", _smtp.Port.ToString(CultureInfo.InvariantCulture)),
            ("SMTP_FROM", "alerts@killtoken.test"),
            ("SMTP_SECURE", "none")); // the plain emulator offers no STARTTLS
        context.WriteLine($"{_cluster.Instances.Count} instances on database {_cluster.Database} started together in {_cluster.Startup.TotalSeconds:0.0} s");
        await _cluster.WarmUpAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _cluster.DisposeAsync();
        await _openai.DisposeAsync();
        _smtp.Dispose();
    }

    private static GatewayInstance A => _cluster.Instances[0];
    private static GatewayInstance B => _cluster.Instances[1];
    private static GatewayInstance Functions => _cluster.Instances[2];

    /// <summary>
    /// The budget scenario of <see cref="GatewayScenarios.TwoHundredConcurrentCalls_NeverOverspendAsync"/>, with the 200
    /// calls spread round-robin over the three instances: each call reserves exactly $0.02 and costs exactly $0.01 against
    /// a $1.00 daily limit. The reservation is one conditional patch of the shared counter document and a settlement one
    /// immediate patch, so no instance can admit a call another instance's spend has no room for. The 80% alert, claimed
    /// in the shared store, is mailed once although settlements past 80% happened on every instance.
    /// </summary>
    [TestMethod]
    public async Task TwoHundredConcurrentCalls_RoundRobinOverEveryInstance_NeverSettlePastTheLimit()
    {
        var alertEmail = $"ops-{Guid.NewGuid():N}@example.com";
        var tenant = await SharedStoreCluster.CreateTenantAsync(A, new { name = "budgeted", dailyBudgetUsd = 1.00m, alertEmail });
        // gpt-4.1: $2 in / $8 out per 1M. Reserve exactly $0.02 (input estimate + max_tokens), cost exactly $0.01.
        var estimate = TokenCounter.For(ProviderId.OpenAI, "gpt-4.1").CountMessages([new JsonObject { ["role"] = "user", ["content"] = "hi" }]);
        Assert.AreEqual(0, (20_000 - (2 * estimate)) % 8, "the reservation must come out at exactly $0.02");
        var maxTokens = (int)((20_000 - (2 * estimate)) / 8);
        _openai.Handler = Usage(prompt: 1000, completion: 1000);
        var before = ProviderCalls(r => r.Json["max_tokens"]?.GetValue<int>() == maxTokens);

        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 200).Select(i => (Instance: _cluster[i], Response: _cluster[i].ChatAsync(tenant.ApiKey, Chat("gpt-4.1", "hi", maxTokens: maxTokens)))).ToList();
        await Task.WhenAll(calls.Select(c => c.Response));
        var elapsed = clock.Elapsed;

        var served = new Dictionary<string, int>();
        foreach (var (instance, task) in calls)
        {
            using var response = await task;
            if ((int)response.StatusCode == 200)
            {
                served[instance.Name] = served.GetValueOrDefault(instance.Name) + 1;
                continue;
            }

            var error = (await instance.ReadAsync(response, 429))["error"]!;
            Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>(), instance.Name);
            Assert.AreEqual("daily", error["scope"]!.GetValue<string>(), instance.Name);
            Assert.AreEqual(1.00m, error["limitUsd"]!.GetValue<decimal>(), instance.Name);
            Assert.IsTrue(error["spentUsd"]!.GetValue<decimal>() + 0.02m > 1.00m, $"{instance.Name}: refused only when settled spend left no room for the reservation: {error.ToJsonString()}");
            Assert.IsTrue(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, instance.Name);
        }

        var ok = served.Values.Sum();
        TestContext.WriteLine($"200 calls in {elapsed.TotalSeconds:0.0} s: {ok} served ({string.Join(", ", served.Select(s => $"{s.Key} {s.Value}"))}), {200 - ok} refused with 429 budget_exceeded");
        Assert.IsLessThan(200, ok, "the limit refused some calls (else this test could not fail)");
        Assert.AreEqual(_cluster.Instances.Count, served.Count, "every instance served some of them");

        // Every instance reads the same settled spend from the shared counter.
        foreach (var instance in _cluster.Instances)
        {
            var project = await instance.JsonAsync(HttpMethod.Get, $"api/projects/{tenant.ProjectId}", tenant.Token, null, 200);
            var today = project["spend"]!["today"]!;
            TestContext.WriteLine($"{instance.Name}: spend today {today["spentUsd"]}, reserved {today["reservedUsd"]}");
            Assert.AreEqual(0.01m * ok, today["spentUsd"]!.GetValue<decimal>(), $"{instance.Name}: settled spend is exactly what was served");
            Assert.IsLessThanOrEqualTo(1.00m, today["spentUsd"]!.GetValue<decimal>(), $"{instance.Name}: never overspent");
            Assert.AreEqual(0m, today["reservedUsd"]!.GetValue<decimal>(), $"{instance.Name}: every reservation was settled");
        }

        Assert.AreEqual(99, ok, "served until settled spend + $0.02 would pass $1.00, as on one instance");
        Assert.AreEqual(ok, ProviderCalls(r => r.Json["max_tokens"]?.GetValue<int>() == maxTokens) - before, "refused calls never reached the provider");

        // The traces agree: one per call, and their costs add up to the settled spend, within the limit.
        var traces = await AllTracesAsync(tenant);
        Assert.HasCount(200, traces, "one trace per call");
        Assert.AreEqual(ok, traces.Count(t => t["status"]!.GetValue<int>() == 200));
        var traced = traces.Sum(t => t["costUsd"]?.GetValue<decimal>() ?? 0m);
        TestContext.WriteLine($"traced cost {traced.ToString(CultureInfo.InvariantCulture)} USD over {traces.Count} traces");
        Assert.AreEqual(0.01m * ok, traced, "the traced cost is the settled spend");
        Assert.IsLessThanOrEqualTo(1.00m, traced, "the traced cost is within the limit");

        // One 80% alert for the day, whichever instance crossed it; $0.99 never reached 100%.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_smtp.Messages.Any(m => m.To.Contains(alertEmail)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        await Task.Delay(1_000); // give a (wrong) second alert the chance to arrive
        var alerts = _smtp.Messages.Where(m => m.To.Contains(alertEmail)).ToList();
        Assert.HasCount(1, alerts, string.Join(" | ", alerts.Select(m => m.Subject)));
        StringAssert.Contains(alerts[0].Subject, "80%");
    }

    /// <summary>
    /// A workspace's monthly limit over two projects without limits of their own, 200 concurrent calls alternating
    /// projects and spread over the three instances: the workspace counter (the reserved ledger id <c>_workspace</c>) takes
    /// each reservation in one conditional patch, so its settled spend never passes the limit whichever instance admits.
    /// The limit is set before any other instance read the workspace (the 30 s cache of workspace settings is a
    /// documented lag, not what this shows). Other workspaces have counters with the same document id in their own
    /// partitions: the test emulator once let their counters answer this one's conditional reservations.
    /// </summary>
    [TestMethod]
    public async Task WorkspaceLimit_TwoHundredCallsFromTwoProjectsOverEveryInstance_NeverSettlePastIt()
    {
        var tenant = await SharedStoreCluster.CreateTenantAsync(A);
        var second = await A.JsonAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/projects", tenant.Token, new { name = "second" }, 201);
        string[] keys = [tenant.ApiKey, second["apiKey"]!.GetValue<string>()];
        await A.JsonAsync(HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", tenant.Token, new { monthlyBudgetUsd = 0.50m }, 200);
        var estimate = TokenCounter.For(ProviderId.OpenAI, "gpt-4.1").CountMessages([new JsonObject { ["role"] = "user", ["content"] = "hi" }]);
        var maxTokens = (int)((20_000 - (2 * estimate)) / 8); // reserves $0.02, costs $0.01 (as above)
        _openai.Handler = Usage(prompt: 1000, completion: 1000);

        var clock = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 200).Select(i => (Instance: _cluster[i], Response: _cluster[i].ChatAsync(keys[(i / 3) % 2], Chat("gpt-4.1", maxTokens: maxTokens)))).ToList();
        await Task.WhenAll(calls.Select(c => c.Response));
        var elapsed = clock.Elapsed;

        var served = new Dictionary<string, int>();
        foreach (var (instance, task) in calls)
        {
            using var response = await task;
            if ((int)response.StatusCode == 200)
            {
                served[instance.Name] = served.GetValueOrDefault(instance.Name) + 1;
                continue;
            }

            var error = (await instance.ReadAsync(response, 429))["error"]!;
            Assert.AreEqual("budget_exceeded", error["code"]!.GetValue<string>(), instance.Name);
            Assert.AreEqual("workspace", error["scope"]!.GetValue<string>(), $"{instance.Name}: {error.ToJsonString()}");
        }

        var ok = served.Values.Sum();
        TestContext.WriteLine($"200 calls in {elapsed.TotalSeconds:0.0} s: {ok} served ({string.Join(", ", served.Select(s => $"{s.Key} {s.Value}"))}), {200 - ok} refused");
        Assert.IsLessThan(200, ok, "the workspace limit refused some calls");
        foreach (var instance in _cluster.Instances)
        {
            var month = (await instance.JsonAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}", tenant.Token, null, 200))["month"]!;
            TestContext.WriteLine($"{instance.Name}: workspace month {month.ToJsonString()}");
            Assert.AreEqual(0.01m * ok, month["spentUsd"]!.GetValue<decimal>(), $"{instance.Name}: the workspace's settled spend is what was served");
            Assert.IsLessThanOrEqualTo(0.50m, month["spentUsd"]!.GetValue<decimal>(), $"{instance.Name}: never past the workspace limit");
            Assert.AreEqual(0m, month["reservedUsd"]!.GetValue<decimal>(), $"{instance.Name}: every workspace reservation was settled");
        }

        Assert.AreEqual(49, ok, "served until settled spend + $0.02 would pass $0.50, as on one instance");

        var traces = await AllTracesAsync(tenant);
        Assert.HasCount(200, traces, "one trace per call");
        Assert.AreEqual(0.01m * ok, traces.Sum(t => t["costUsd"]?.GetValue<decimal>() ?? 0m), "the traced cost is the workspace's settled spend");
    }

    /// <summary>
    /// 60 twins (same Idempotency-Key, same body) at once, 20 per instance: the first holds the key in the shared store,
    /// the others — on its instance by signal, on the others by polling the store — wait and replay its answer. One
    /// provider call; 60 identical answers; the replays are free. A twin with another body is 409 at every instance.
    /// </summary>
    [TestMethod]
    public async Task ConcurrentTwins_SpreadOverEveryInstance_MakeExactlyOneProviderCall()
    {
        var tenant = await SharedStoreCluster.CreateTenantAsync(B);
        var marker = "twins " + Guid.NewGuid().ToString("N");
        var calls = 0;
        _openai.Handler = async (context, request) =>
        {
            if (request.Json["messages"]![0]!["content"]!.GetValue<string>() == marker)
            {
                Interlocked.Increment(ref calls);
                await Task.Delay(300); // keep the first attempt in flight while the twins arrive everywhere
            }

            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: Guid.NewGuid().ToString()))(context, request);
        };

        var clock = Stopwatch.StartNew();
        var twins = Enumerable.Range(0, 60).Select(i => (Instance: _cluster[i], Response: _cluster[i].ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", marker, idempotencyKey: "order-19")))).ToList();
        await Task.WhenAll(twins.Select(t => t.Response));
        var elapsed = clock.Elapsed;
        var bodies = new List<(GatewayInstance Instance, JsonObject Body)>();
        foreach (var (instance, task) in twins)
        {
            using var response = await task;
            bodies.Add((instance, await instance.ReadAsync(response, 200)));
        }

        TestContext.WriteLine($"60 twins over {_cluster.Instances.Count} instances in {elapsed.TotalSeconds:0.0} s: {calls} provider call(s)");
        Assert.AreEqual(1, calls, "exactly one provider call for all twins on all instances");
        var first = bodies[0].Body["response"]!;
        foreach (var (instance, body) in bodies)
        {
            Assert.IsTrue(JsonNode.DeepEquals(first, body["response"]), $"{instance.Name}: the same answer as every twin");
        }

        Assert.AreEqual(1, bodies.Count(b => b.Body["metrics"]!["idempotency"]!.GetValue<string>() == "new"));
        var replays = bodies.Where(b => b.Body["metrics"]!["idempotency"]!.GetValue<string>() == "replayed").ToList();
        Assert.HasCount(59, replays);
        Assert.IsTrue(replays.All(b => b.Body["metrics"]!["costUsd"]!.GetValue<decimal>() == 0m), "replays are not billed");
        Assert.AreEqual(_cluster.Instances.Count, replays.Select(r => r.Instance.Name).Append(bodies.Single(b => b.Body["metrics"]!["idempotency"]!.GetValue<string>() == "new").Instance.Name).Distinct().Count());

        // Afterwards, at every instance: the same key and body replays, another body under the key is a conflict.
        foreach (var instance in _cluster.Instances)
        {
            var again = await instance.ReadAsync(await instance.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", marker, idempotencyKey: "order-19")), 200);
            Assert.IsTrue(JsonNode.DeepEquals(first, again["response"]), instance.Name);
            Assert.AreEqual("replayed", again["metrics"]!["idempotency"]!.GetValue<string>(), instance.Name);
            await instance.AssertErrorAsync(await instance.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", "another body", idempotencyKey: "order-19")), 409,
                "idempotency_key_reused", "same key, another body");
        }

        Assert.AreEqual(1, calls, "still one provider call");
    }

    /// <summary>A read_write call on one instance is a hit on every other: the cache entries live in the shared store.</summary>
    [TestMethod]
    public async Task CacheableCall_OnOneInstance_IsAHitOnEveryOther_WithNoSecondProviderCall()
    {
        var tenant = await SharedStoreCluster.CreateTenantAsync(A);
        var marker = "cache me " + Guid.NewGuid().ToString("N");
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 1000));

        var miss = await A.ReadAsync(await A.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", marker, cache: "read_write")), 200);
        Assert.AreEqual("miss", miss["metrics"]!["cacheStatus"]!.GetValue<string>());
        foreach (var instance in new[] { B, Functions })
        {
            var hit = await instance.ReadAsync(await instance.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini", marker, cache: "read_write")), 200);
            Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>(), $"{instance.Name}: the entry {A.Name} wrote");
            Assert.AreEqual(0m, hit["metrics"]!["costUsd"]!.GetValue<decimal>(), instance.Name);
            Assert.AreEqual(miss["metrics"]!["costUsd"]!.GetValue<decimal>(), hit["metrics"]!["savedUsd"]!.GetValue<decimal>(), $"{instance.Name}: a hit records the cost it avoided");
            Assert.IsTrue(JsonNode.DeepEquals(miss["response"], hit["response"]), instance.Name);
        }

        Assert.AreEqual(1, ProviderCalls(r => r.Json["messages"]![0]!["content"]!.GetValue<string>() == marker), "one provider call for three instances");

        // Another workspace asking the same thing on another instance misses: entries never cross workspaces.
        var other = await SharedStoreCluster.CreateTenantAsync(Functions);
        var elsewhere = await B.ReadAsync(await B.ChatAsync(other.ApiKey, Chat("gpt-4o-mini", marker, cache: "read_write")), 200);
        Assert.AreEqual("miss", elsewhere["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(2, ProviderCalls(r => r.Json["messages"]![0]!["content"]!.GetValue<string>() == marker));
    }

    /// <summary>
    /// A key deactivated through one instance is refused on the very next request at every other (no instance caches
    /// key lookups); activated again through another, it works everywhere at once.
    /// </summary>
    [TestMethod]
    public async Task KeyDeactivatedThroughOneInstance_FailsOnTheNextRequestAtEveryInstance()
    {
        var tenant = await SharedStoreCluster.CreateTenantAsync(A);
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        await AssertServedEverywhereAsync(tenant.ApiKey, "before");

        await B.JsonAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/deactivate", tenant.Token, null, 200);
        var calls = _openai.Count;
        foreach (var instance in new[] { Functions, A, B })
        {
            await instance.AssertErrorAsync(await instance.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini")), 401, "invalid_api_key", $"deactivated through {B.Name}");
            await instance.AssertErrorAsync(await instance.SendAsync(HttpMethod.Get, "v1/requests", tenant.ApiKey), 401, "invalid_api_key", $"deactivated through {B.Name}");
        }

        Assert.AreEqual(calls, _openai.Count, "a refused key reaches no provider");

        await Functions.JsonAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/activate", tenant.Token, null, 200);
        await AssertServedEverywhereAsync(tenant.ApiKey, $"activated through {Functions.Name}");
    }

    /// <summary>A key regenerated through one instance: the old key fails at every other on the next request, the new one works everywhere.</summary>
    [TestMethod]
    public async Task KeyRegeneratedThroughOneInstance_OldKeyFailsAtEveryInstance_NewKeyWorksEverywhere()
    {
        var tenant = await SharedStoreCluster.CreateTenantAsync(B);
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        await AssertServedEverywhereAsync(tenant.ApiKey, "before");

        var regenerated = await Functions.JsonAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/regenerate-key", tenant.Token, null, 200);
        var newKey = regenerated["apiKey"]!.GetValue<string>();
        Assert.AreNotEqual(tenant.ApiKey, newKey);

        foreach (var instance in new[] { A, B, Functions })
        {
            await instance.AssertErrorAsync(await instance.ChatAsync(tenant.ApiKey, Chat("gpt-4o-mini")), 401, "invalid_api_key", $"old key, regenerated through {Functions.Name}");
        }

        await AssertServedEverywhereAsync(newKey, $"new key from {Functions.Name}");
    }

    /// <summary>
    /// A member removed (and an admin lowered to member) through one instance loses that access on the very next request
    /// at every other instance, with the same session token: the removed member gets the contract's 404 not_found for the
    /// workspace (as on one instance: AccessCutTests), the demoted admin 403 forbidden for admin work.
    /// </summary>
    [TestMethod]
    public async Task MemberRemovedThroughOneInstance_IsLockedOutOnTheNextRequestAtEveryInstance()
    {
        var owner = await SharedStoreCluster.CreateTenantAsync(A);
        var member = await SharedStoreCluster.CreateTenantAsync(B);
        var admin = await SharedStoreCluster.CreateTenantAsync(Functions);
        await SharedStoreCluster.JoinAsync(A, owner, Functions, member, "member");
        await SharedStoreCluster.JoinAsync(B, owner, A, admin, "admin");

        // Both use the workspace everywhere right before (a cached membership must not outlive the change).
        foreach (var instance in _cluster.Instances)
        {
            await instance.JsonAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}/projects", member.Token, null, 200);
            await instance.JsonAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}/invites", admin.Token, null, 200);
        }

        using (var removed = await Functions.SendAsync(HttpMethod.Delete, $"api/workspaces/{owner.WorkspaceId}/members/{member.UserId}", owner.Token))
        {
            Assert.AreEqual(204, (int)removed.StatusCode, await removed.Content.ReadAsStringAsync());
        }

        await A.JsonAsync(HttpMethod.Patch, $"api/workspaces/{owner.WorkspaceId}/members/{admin.UserId}", owner.Token, new { role = "member" }, 200);

        foreach (var instance in new[] { A, B, Functions })
        {
            await instance.AssertErrorAsync(await instance.SendAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}/projects", member.Token), 404, "not_found",
                $"member removed through {Functions.Name}");
            await instance.AssertErrorAsync(await instance.SendAsync(HttpMethod.Get, $"api/projects/{owner.ProjectId}", member.Token), 404, "not_found",
                $"member removed through {Functions.Name}");
            await instance.AssertErrorAsync(await instance.SendAsync(HttpMethod.Get, $"api/workspaces/{owner.WorkspaceId}/invites", admin.Token), 403, "forbidden",
                $"admin lowered to member through {A.Name}");
            var listed = await instance.JsonAsync(HttpMethod.Get, "api/workspaces", member.Token, null, 200);
            Assert.DoesNotContain(owner.WorkspaceId, listed.ToJsonString(), $"{instance.Name}: the workspace left the removed member's list");
        }
    }


    private static async Task AssertServedEverywhereAsync(string apiKey, string because)
    {
        foreach (var instance in _cluster.Instances)
        {
            using var response = await instance.ChatAsync(apiKey, Chat("gpt-4o-mini"));
            Assert.AreEqual(200, (int)response.StatusCode, $"{instance.Name} ({because}): {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static int ProviderCalls(Func<UpstreamRequest, bool> which) => _openai.Requests.Count(which);

    /// <summary>
    /// Every trace of the tenant's workspace. Traces are written behind the answer, and a read waits only for the writes
    /// its own instance started, so each instance is read once first; after that every trace is in the store.
    /// </summary>
    private static async Task<List<JsonObject>> AllTracesAsync(ClusterTenant tenant)
    {
        foreach (var instance in _cluster.Instances)
        {
            await instance.JsonAsync(HttpMethod.Get, "v1/requests?limit=1", tenant.ApiKey, null, 200);
        }

        var traces = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var page = await A.JsonAsync(HttpMethod.Get, "v1/requests?limit=200" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)), tenant.ApiKey, null, 200);
            traces.AddRange(page["data"]!.AsArray().Select(t => t!.AsObject()));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        return traces;
    }
}
