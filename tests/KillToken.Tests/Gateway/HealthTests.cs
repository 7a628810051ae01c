using System.Text;
using System.Text.Json.Nodes;
using KillToken.Api.Handlers;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Tests.Gateway;

/// <summary><c>/health</c> (liveness) and <c>/ready</c> (store, vault, cache, auth config) — no auth, no secrets (§2).</summary>
[TestClass]
public sealed class HealthTests
{
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _host = await GatewayHost.StartAsync();
        // Touch every server secret: a session (JWT key), a project key (pepper), a credential (local vault key).
        await _host.CreateTenantAsync("openai", "sk-health-tenant-0123456789abcdef");
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _host.DisposeAsync();

    [TestMethod]
    public async Task Health_WithoutAuth_200StatusOk()
    {
        var response = await _host.Client.GetAsync("health");

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual("ok", body["status"]!.GetValue<string>());
        StringAssert.StartsWith(response.Content.Headers.ContentType?.MediaType, "application/json");
    }

    [TestMethod]
    public async Task Health_IgnoresABadKey()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "health");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer kt_live_not-a-real-key-000000000000");

        var response = await _host.Client.SendAsync(request);

        Assert.AreEqual(200, (int)response.StatusCode);
    }

    [TestMethod]
    public async Task Ready_WithoutAuth_200WithStoreVaultCacheAndAuthChecks()
    {
        var response = await _host.Client.GetAsync("ready");

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual("ready", body["status"]!.GetValue<string>());
        var checks = body["checks"]!.AsArray().Select(c => c!.AsObject()).ToList();
        foreach (var name in new[] { "store", "vault", "cache", "auth" })
        {
            var check = checks.SingleOrDefault(c => c["name"]?.GetValue<string>() == name);
            Assert.IsNotNull(check, $"/ready reports '{name}': {body.ToJsonString()}");
            Assert.IsTrue(check["healthy"]!.GetValue<bool>(), $"'{name}' is healthy: {check.ToJsonString()}");
        }
    }

    [TestMethod]
    public async Task Ready_ContainsNothingFromTheDataFolder()
    {
        var health = await (await _host.Client.GetAsync("health")).Content.ReadAsStringAsync();
        var ready = await (await _host.Client.GetAsync("ready")).Content.ReadAsStringAsync();
        var keyFiles = 0;

        foreach (var file in Directory.GetFiles(_host.DataDirectory, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(file);
            if (info.Length is 0 or > 4096)
            {
                continue; // databases: their pages are not secrets to look for; the small files are the server's keys.
            }

            var content = ReadShared(file).Trim();
            if (content.Length < 16)
            {
                continue;
            }

            keyFiles++;
            foreach (var body in new[] { health, ready })
            {
                Assert.IsFalse(body.Contains(content, StringComparison.OrdinalIgnoreCase), $"{info.Name}'s content is in a health answer");
                Assert.IsFalse(body.Contains(content[..16], StringComparison.OrdinalIgnoreCase), $"part of {info.Name} is in a health answer");
            }
        }

        Assert.IsTrue(keyFiles >= 2, "the embedded default keeps its JWT secret and key pepper in the data folder");
        Assert.IsFalse(ready.Contains(_host.DataDirectory, StringComparison.Ordinal), "/ready does not reveal server paths");
        Assert.IsFalse(ready.Contains("sk-health-tenant", StringComparison.Ordinal));
    }

    /// <summary>
    /// A failing dependency: 503 not_ready, the failing check named; a check that throws is reported by its exception's
    /// type, never its message (which may carry endpoints or tenant details). The real handler over the real
    /// HealthCheckService, with one check that fails and one that throws.
    /// </summary>
    [TestMethod]
    public async Task Ready_WithAFailingCheck_503NotReady_NamingIt_WithoutExceptionMessages()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddHealthChecks()
            .AddCheck("store", () => HealthCheckResult.Healthy("sqlite"))
            .AddCheck("vault", () => HealthCheckResult.Unhealthy("key vault status 403"))
            .AddCheck("cache", () => throw new InvalidOperationException("https://tenant-secret.vault.azure.net/ refused"));
        await using var provider = services.BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = provider };
        context.Response.Body = new MemoryStream();

        var result = await new HealthHandlers(provider.GetRequiredService<HealthCheckService>()).ReadyAsync(context);
        await result.ExecuteAsync(context);

        Assert.AreEqual(503, context.Response.StatusCode);
        var text = Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        Assert.IsFalse(text.Contains("tenant-secret", StringComparison.Ordinal), text);
        var body = JsonNode.Parse(text)!;
        Assert.AreEqual("not_ready", body["status"]!.GetValue<string>());
        var checks = body["checks"]!.AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => (c!["healthy"]!.GetValue<bool>(), c["detail"]!.GetValue<string>()));
        Assert.AreEqual((true, "sqlite"), checks["store"]);
        Assert.AreEqual((false, "key vault status 403"), checks["vault"]);
        Assert.AreEqual((false, nameof(InvalidOperationException)), checks["cache"]);
        Assert.HasCount(3, body["checks"]!.AsArray()[0]!.AsObject(), "each check is exactly {name, healthy, detail}");
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
