using System.Security.Cryptography;
using KillToken.Core.Ports;
using KillToken.Storage.KeyVault;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Tests.Storage;

/// <summary>The vault contract, run unchanged against the local AES-GCM vault and Key Vault.</summary>
public abstract class VaultContractTests
{
    protected abstract ISecretVault Vault { get; }

    protected static string NewName() => "kt-cred-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    protected static string NewSecret() => "sk-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    [TestMethod]
    public async Task SetThenGet_ReturnsTheValueOfThatVersion()
    {
        var name = NewName();
        var secret = NewSecret();

        var version = await Vault.SetAsync(name, secret);

        Assert.IsFalse(string.IsNullOrWhiteSpace(version));
        Assert.AreEqual(secret, await Vault.GetAsync(name, version));
    }

    [TestMethod]
    public async Task Rotation_AddsAVersion_AndTheOldVersionStaysReadable()
    {
        var name = NewName();
        var (first, second) = (NewSecret(), NewSecret());

        var v1 = await Vault.SetAsync(name, first);
        var v2 = await Vault.SetAsync(name, second);

        Assert.AreNotEqual(v1, v2);
        Assert.AreEqual(first, await Vault.GetAsync(name, v1));
        Assert.AreEqual(second, await Vault.GetAsync(name, v2));
    }

    [TestMethod]
    public async Task UnknownNamesAndVersions_ReadAsNull()
    {
        var name = NewName();
        var version = await Vault.SetAsync(name, NewSecret());

        Assert.IsNull(await Vault.GetAsync(NewName(), version));
        Assert.IsNull(await Vault.GetAsync(name, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))));
        Assert.IsNull(await Vault.GetAsync(name, ""));
    }

    [TestMethod]
    public async Task Delete_RemovesEveryVersion_AndDeletingAgainIsHarmless()
    {
        var name = NewName();
        var v1 = await Vault.SetAsync(name, NewSecret());
        var v2 = await Vault.SetAsync(name, NewSecret());

        await Vault.DeleteAsync(name);

        Assert.IsNull(await Vault.GetAsync(name, v1));
        Assert.IsNull(await Vault.GetAsync(name, v2));
        await Vault.DeleteAsync(name);
        await Vault.DeleteAsync(NewName());
    }
}

[TestClass]
public sealed class LocalVaultContractTests : VaultContractTests
{
    private static string _directory = null!;
    private static ServiceProvider _services = null!;

    protected override ISecretVault Vault => _services.GetRequiredService<ISecretVault>();

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _directory = Path.Combine(Path.GetTempPath(), "killtoken-tests", "vault-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        var key = RandomNumberGenerator.GetBytes(32);
        _services = new ServiceCollection().AddKillTokenLocalVault(() => key, _directory).BuildServiceProvider();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[TestClass]
public sealed class KeyVaultVaultTests : VaultContractTests
{
    private static KeyVaultLoopbackServer _server = null!;
    private static ServiceProvider _services = null!;

    protected override ISecretVault Vault => _services.GetRequiredService<ISecretVault>();

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _server = await KeyVaultLoopbackServer.StartAsync(new KeyVaultLoopbackServerOptions { ExpectedToken = KeyVaultLoopbackCredential.DefaultToken });
        _services = new ServiceCollection()
            .AddKillTokenKeyVault(_server.VaultUri, new KeyVaultLoopbackCredential(), _server.CreateSecretClientOptions())
            .BuildServiceProvider();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.DisposeAsync();
        await _server.DisposeAsync();
    }

    [TestMethod]
    public void TheKeyVaultVaultIsRegisteredForSecretsAndHealth()
    {
        Assert.IsInstanceOfType<KeyVaultSecretVault>(Vault);
        Assert.AreSame<object>(Vault, RegisteredHealthChecks.Check(_services, "vault"), "/ready's vault check is the vault itself");
    }

    [TestMethod]
    public async Task SecretValues_NeverTravelWithoutAuthorization_OrInUrls()
    {
        var name = NewName();
        var secret = NewSecret();
        var rotated = NewSecret();

        var v1 = await Vault.SetAsync(name, secret);
        await Vault.SetAsync(name, rotated);
        Assert.AreEqual(secret, await Vault.GetAsync(name, v1));

        var mine = _server.Requests.Where(r => r.Path.Contains(name, StringComparison.Ordinal)).ToList();
        Assert.IsTrue(mine.Count >= 3);
        foreach (var request in mine.Where(r => !r.Authorized))
        {
            Assert.IsFalse(request.Contains(secret) || request.Contains(rotated), $"{request.Method} {request.Path} was not authorized but carried the secret");
        }

        Assert.IsFalse(mine.Any(r => r.Path.Contains(secret, StringComparison.Ordinal) || r.QueryString.Contains(secret, StringComparison.Ordinal)));
        Assert.IsTrue(mine.Any(r => r.Method == "PUT" && r.Authorized && r.RequestBody.Contains(secret, StringComparison.Ordinal)),
            "the value went to the vault, authorized");
    }

    [TestMethod]
    public async Task Delete_IsASoftDelete_WithoutWaitingForThePurge()
    {
        var name = NewName();
        await Vault.SetAsync(name, NewSecret());

        await Vault.DeleteAsync(name);

        var mine = _server.Requests.Where(r => r.Path.Contains(name, StringComparison.Ordinal)).ToList();
        Assert.IsTrue(mine.Any(r => r.Method == "DELETE" && r.Path == $"/secrets/{name}" && r.StatusCode == 200));
        Assert.IsFalse(mine.Any(r => r.Path.StartsWith("/deletedsecrets/", StringComparison.OrdinalIgnoreCase)), "no purge, no polling");
    }

    [TestMethod]
    public async Task HealthProbe_IsReady_AndReportsAFailingVaultWithoutDetail()
    {
        var ok = await RegisteredHealthChecks.RunAsync(_services, "vault");
        Assert.AreEqual((HealthStatus.Healthy, "key vault"), (ok.Status, ok.Description));

        _server.FailNextRequests(403, errorCode: "Forbidden");
        var denied = await RegisteredHealthChecks.RunAsync(_services, "vault");
        Assert.AreEqual((HealthStatus.Unhealthy, "key vault status 403"), (denied.Status, denied.Description));
    }

    [TestMethod]
    public async Task ServerErrors_SurfaceWithoutTheSecretValue()
    {
        var secret = NewSecret();
        _server.FailNextRequests(500);

        // A 5xx after the client's retries is the vault being unavailable: the request answers 503 vault_unavailable.
        var error = await Assert.ThrowsExactlyAsync<VaultUnavailableException>(() => Vault.SetAsync(NewName(), secret));

        Assert.AreEqual(500, ((Azure.RequestFailedException)error.InnerException!).Status);
        Assert.IsFalse(error.ToString().Contains(secret, StringComparison.Ordinal));
    }
}
