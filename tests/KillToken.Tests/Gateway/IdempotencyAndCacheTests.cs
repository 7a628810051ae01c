using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Gateway;

[TestClass]
public sealed class IdempotencyAndCacheTests
{
    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString() });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    private static object Chat(string content, string? idempotencyKey = null, string? cache = null) => new
    {
        provider = "openai",
        model = "gpt-4o-mini",
        messages = new[] { new { role = "user", content } },
        idempotencyKey,
        cachePolicy = cache is null ? null : new { exactCache = cache },
    };

    [TestMethod]
    public Task FiftyConcurrentTwins_MakeExactlyOneProviderCall_AndGetIdenticalAnswers() =>
        GatewayScenarios.FiftyConcurrentTwins_MakeExactlyOneProviderCallAsync(_host, _openai);

    [TestMethod]
    public async Task SameKeyDifferentRequest_Is409()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("first", "key-1")), 200);

        var conflict = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("second", "key-1")), 409);

        Assert.AreEqual("idempotency_key_reused", conflict["error"]!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task FailedFirstAttempt_LeavesTheKeyFreeForARetry()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("overloaded", "server_error", null), 500);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("retry me", "key-retry")), 502);

        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;
        var retried = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("retry me", "key-retry")), 200);

        Assert.AreEqual(before + 1, _openai.Count, "the retry reached the provider");
        Assert.AreEqual("new", retried["metrics"]!["idempotency"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task ReadWrite_MissThenHit_HitSkipsProviderAndIsFree()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion(prompt: 1000, completion: 1000));
        var before = _openai.Count;

        var miss = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("cache me", cache: "read_write")), 200);
        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("cache me", cache: "read_write")), 200);

        Assert.AreEqual(before + 1, _openai.Count);
        Assert.AreEqual("miss", miss["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(0m, hit["metrics"]!["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual(miss["metrics"]!["costUsd"]!.GetValue<decimal>(), hit["metrics"]!["savedUsd"]!.GetValue<decimal>(), "a hit records the cost it avoided");
        Assert.IsTrue(JsonNode.DeepEquals(miss["response"], hit["response"]));
    }

    [TestMethod]
    public async Task Policies_ReadOnlyNeverWrites_WriteOnlyNeverReads_BypassDoesNeither()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());

        var readOnly = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("ro", cache: "read_only")), 200);
        var readOnlyAgain = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("ro", cache: "read_only")), 200);
        Assert.AreEqual("miss", readOnly["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("miss", readOnlyAgain["metrics"]!["cacheStatus"]!.GetValue<string>(), "read_only does not write misses");

        var before = _openai.Count;
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("wo", cache: "write_only")), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("wo", cache: "write_only")), 200);
        Assert.AreEqual(before + 2, _openai.Count, "write_only never reads");
        var afterWrite = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("wo", cache: "read_only")), 200);
        Assert.AreEqual("hit", afterWrite["metrics"]!["cacheStatus"]!.GetValue<string>(), "write_only did write");

        var bypass = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("wo")), 200);
        Assert.AreEqual("bypass", bypass["metrics"]!["cacheStatus"]!.GetValue<string>(), "bypass is the default");
    }

    [TestMethod]
    public async Task CacheHitUnderAnIdempotencyKey_IsKeptForReplay()
    {
        var tenant = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("hit me", "key-a", "read_write")), 200);

        var hit = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("hit me", "key-b", "read_write")), 200);
        var again = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("hit me", "key-b", "read_write")), 200);

        Assert.AreEqual("hit", hit["metrics"]!["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual("replayed", again["metrics"]!["idempotency"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task CacheEntries_NeverCrossWorkspaces()
    {
        var a = await _host.CreateTenantAsync();
        var b = await _host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());

        await GatewayHost.ReadJsonAsync(await a.ChatAsync(Chat("shared prompt", cache: "read_write")), 200);
        var other = await GatewayHost.ReadJsonAsync(await b.ChatAsync(Chat("shared prompt", cache: "read_write")), 200);

        Assert.AreEqual("miss", other["metrics"]!["cacheStatus"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task ServerSwitchOff_ReportsDisabled_AndAlwaysCallsTheProvider()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_CACHE_ENABLED"] = "false",
        });
        var tenant = await host.CreateTenantAsync();
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        var before = _openai.Count;

        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("off", cache: "read_write")), 200);
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat("off", cache: "read_write")), 200);

        Assert.AreEqual(before + 2, _openai.Count);
        Assert.AreEqual("disabled", first["metrics"]!["cacheStatus"]!.GetValue<string>());
    }
}
