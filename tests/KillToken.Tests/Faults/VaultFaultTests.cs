using System.Text.Json.Nodes;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using KillToken.Core.Gateway;
using KillToken.Storage.KeyVault;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Faults;

/// <summary>
/// Issue 19, item 2: Key Vault failing under the gateway (tenant secrets in Key Vault, reached through a
/// <see cref="FaultProxy"/>; the embedded store, so nothing but the vault is between the call and the provider). A call whose credential cannot be read gets 503 <c>vault_unavailable</c> with Retry-After
/// and no provider call; the Key Vault client's own retries absorb most transient faults.
/// </summary>
[TestClass]
public sealed class VaultFaultTests
{
    private static FakeUpstream _openai = null!;
    private static KeyVaultLoopbackServer _vault = null!;
    private static FaultProxy _proxy = null!;
    private static GatewayHost _host = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(GatewayScenarios.Usage(prompt: 1000, completion: 200));
        _vault = await KeyVaultLoopbackServer.StartAsync(new KeyVaultLoopbackServerOptions { ExpectedToken = KeyVaultLoopbackCredential.DefaultToken });
        _proxy = await FaultProxy.StartAsync(_vault.VaultUri, _vault.CreateTrustedHandler(), FaultDialect.KeyVault);

        // The app's own retry settings, with a transport that trusts the proxy's certificate.
        var options = KeyVaultSecretVault.ConfigureForRequestPath(new SecretClientOptions
        {
            Transport = new HttpClientTransport(_proxy.CreateTrustedHandler()),
            DisableChallengeResourceVerification = true,
        });
        var client = new SecretClient(_proxy.Address, new KeyVaultLoopbackCredential(), options);
        _host = await GatewayHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["KILLTOKEN_STORE"] = "sqlite",
                ["KEYVAULT_URI"] = _proxy.Address.AbsoluteUri,
                ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
                ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
            },
            services => services.AddSingleton(new KeyVaultSecretVault(client)));
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        _proxy.Plan = FaultPlan.None;
        await _host.DisposeAsync();
        await _proxy.DisposeAsync();
        await _vault.DisposeAsync();
        await _openai.DisposeAsync();
    }

    [TestCleanup]
    public void NoFaultsLeft() => _proxy.Plan = FaultPlan.None;

    [TestMethod]
    public async Task TheGatewayReadsCredentialsThroughTheProxiedKeyVault()
    {
        var tenant = await _host.CreateTenantAsync();
        var before = _proxy.Forwarded;
        Assert.AreEqual(200, (await CallAsync(tenant)).Status);
        Assert.IsTrue(_proxy.Forwarded > before, "the credential's secret was read from Key Vault, through the proxy");
        Assert.IsInstanceOfType<KeyVaultSecretVault>(_host.Services.GetRequiredService<Core.Ports.ISecretVault>());
    }

    [TestMethod]
    [DataRow(FaultKind.Unavailable)]
    [DataRow(FaultKind.DropBeforeForward)]
    [DataRow(FaultKind.Throttle)]
    public async Task VaultDown_Answers503VaultUnavailable_WithoutCallingTheProvider_ThenRecovers(FaultKind kind)
    {
        var tenant = await _host.CreateTenantAsync();
        var providerBefore = _openai.Count;

        _proxy.Plan = FaultPlan.Always(kind) with { RetryAfter = TimeSpan.FromSeconds(1) };
        var down = await CallAsync(tenant);
        TestContext.WriteLine($"vault down ({kind}): {down.Status} {down.Code}, Retry-After {down.RetryAfter}");
        Assert.AreEqual(503, down.Status, down.Body);
        Assert.AreEqual(ErrorCodes.VaultUnavailable, down.Code);
        Assert.IsNotNull(down.RetryAfter, "a 503 says when to retry");
        Assert.AreEqual(providerBefore, _openai.Count, "no provider call without the credential");

        _proxy.Plan = FaultPlan.None;
        var up = await CallAsync(tenant);
        Assert.AreEqual(200, up.Status, "served once the vault is back: " + up.Body);
        Assert.AreEqual(providerBefore + 1, _openai.Count);
    }

    [TestMethod]
    [DataRow(FaultKind.Unavailable)]
    [DataRow(FaultKind.DropBeforeForward)]
    [DataRow(FaultKind.Timeout)]
    public async Task UnderVaultFaults_CallsGet200Or503_AndTheProviderOnlyForAnsweredCalls(FaultKind kind)
    {
        // Each tenant's credential is read from the vault on its first call (then kept by version), so each call is a fresh tenant.
        var tenants = new List<Tenant>();
        for (var i = 0; i < 12; i++)
        {
            tenants.Add(await _host.CreateTenantAsync());
        }

        var providerBefore = _openai.Count;
        var injectedBefore = _proxy.InjectedTotal;
        _proxy.Plan = new FaultPlan(kind, 0.3);
        var answers = await Task.WhenAll(tenants.Select(CallAsync));
        _proxy.Plan = FaultPlan.None;

        var ok = answers.Count(a => a.Status == 200);
        var unavailable = answers.Where(a => a.Status == 503).ToList();
        TestContext.WriteLine($"{kind}: {answers.Length} calls, {ok} × 200, {unavailable.Count} × 503, {_proxy.InjectedTotal - injectedBefore} faults injected, {_openai.Count - providerBefore} provider calls");
        Assert.AreEqual(answers.Length, ok + unavailable.Count, string.Join(", ", answers.Where(a => a.Status is not (200 or 503)).Select(a => a.Body)));
        Assert.IsTrue(unavailable.All(a => a.Code == ErrorCodes.VaultUnavailable && a.RetryAfter is not null), "503s are vault_unavailable with Retry-After");
        Assert.AreEqual(ok, _openai.Count - providerBefore, "the provider was called for the answered calls only");
    }

    private sealed record Answer(int Status, string? Code, TimeSpan? RetryAfter, string Body);

    private static async Task<Answer> CallAsync(Tenant tenant)
    {
        using var response = await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "vault " + Guid.NewGuid().ToString("N")));
        var text = await response.Content.ReadAsStringAsync();
        var body = JsonNode.Parse(text)!;
        return new Answer((int)response.StatusCode, body["error"]?["code"]?.GetValue<string>(), response.Headers.RetryAfter?.Delta, text);
    }
}
