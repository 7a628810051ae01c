using KillToken.Client;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.Client.ClientRequests;

namespace KillToken.Tests.Client;

/// <summary>Every <c>/v1/provider-credentials</c> call through <c>KillTokenClient</c>, against the real gateway.</summary>
[TestClass]
public sealed class ClientCredentialTests
{
    private static ClientGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _gateway = await ClientGateway.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _gateway.DisposeAsync();

    [TestMethod]
    public async Task CreateListGetTestUpdateDelete_ManageACredential_WithoutTheSecretEverComingBack()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        await ClientGateway.GrantCredentialWritesAsync(tenant);
        var client = _gateway.ClientFor(tenant);
        const string secret = "sk-anthropic-secret-0123456789abcdef";

        var created = await client.CreateProviderCredentialAsync(new CreateProviderCredentialOptions(ModelProvider.Anthropic) { Label = "team key", ApiKey = secret });
        var listed = await client.GetProviderCredentialsAsync();
        var read = await client.GetProviderCredentialAsync(created.Id);

        Assert.AreEqual(ModelProvider.Anthropic, created.Provider);
        Assert.AreEqual("team key", created.Label);
        Assert.AreEqual("active", created.Status);
        Assert.IsFalse(created.KeyPreview.Contains(secret, StringComparison.Ordinal));
        CollectionAssert.AreEquivalent(new[] { "openai", "anthropic" }, listed.Select(c => c.Provider.Value).ToArray());
        Assert.AreEqual(created, read with { Config = created.Config }, "reads back as created");
        Assert.IsFalse(listed.Concat([created, read]).Any(c => c.ToString().Contains(secret, StringComparison.Ordinal)));
        Assert.IsFalse(new CreateProviderCredentialOptions(ModelProvider.Anthropic) { ApiKey = secret }.ToString()!.Contains(secret, StringComparison.Ordinal));

        // The test makes the provider's cheapest call (OpenAI's model list) with the stored key.
        var openai = listed.Single(c => c.Provider == ModelProvider.OpenAI);
        var before = _gateway.OpenAI.Count;
        var tested = await client.TestProviderCredentialAsync(openai.Id);
        Assert.IsTrue(tested.Ok, tested.Message);
        Assert.AreEqual(200, tested.ProviderStatus);
        Assert.AreEqual("/v1/models", _gateway.OpenAI.Requests[before].Path);

        var rotated = await client.UpdateProviderCredentialAsync(created.Id, new UpdateProviderCredentialOptions { ApiKey = "sk-anthropic-rotated-9876543210", Label = "rotated" });
        Assert.AreEqual("rotated", rotated.Label);
        Assert.AreNotEqual(created.KeyPreview, rotated.KeyPreview, "a new secret, a new preview");
        var disabled = await client.UpdateProviderCredentialAsync(created.Id, new UpdateProviderCredentialOptions { Status = "disabled" });
        Assert.AreEqual("disabled", disabled.Status);
        Assert.AreEqual("rotated", disabled.Label, "only what was set changed");

        await client.DeleteProviderCredentialAsync(created.Id);
        var gone = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.GetProviderCredentialAsync(created.Id));
        Assert.AreEqual(404, gone.Status);
        Assert.AreEqual("not_found", gone.ErrorCode);
        Assert.AreEqual(1, (await client.GetProviderCredentialsAsync()).Count);
    }

    [TestMethod]
    public async Task CredentialWrites_WithoutTheScope_Are403_AndReadsStillWork()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);

        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() =>
            client.CreateProviderCredentialAsync(new CreateProviderCredentialOptions(ModelProvider.Gemini) { ApiKey = "gemini-secret-0123456789" }));

        Assert.AreEqual(403, refused.Status);
        Assert.AreEqual("insufficient_scope", refused.ErrorCode);
        Assert.IsFalse(refused.ToString().Contains("gemini-secret-0123456789", StringComparison.Ordinal));
        AssertKeyAbsent(refused, tenant.ApiKey);
        Assert.AreEqual(1, (await client.GetProviderCredentialsAsync()).Count, "listing needs no write scope");
    }

    [TestMethod]
    public async Task CreatingABadCredential_Is400WithTheContractsCode()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        await ClientGateway.GrantCredentialWritesAsync(tenant);
        var client = _gateway.ClientFor(tenant);

        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() =>
            client.CreateProviderCredentialAsync(new CreateProviderCredentialOptions(ModelProvider.AwsBedrock) { ApiKey = "AKIA-not-a-bundle-0123" }));

        Assert.AreEqual(400, refused.Status);
        Assert.AreEqual("invalid_provider_secrets", refused.ErrorCode);
        Assert.IsFalse(refused.ToString().Contains("AKIA-not-a-bundle-0123", StringComparison.Ordinal));
    }
}
