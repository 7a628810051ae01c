using System.Diagnostics;
using KillToken.Client;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.Client.ClientRequests;

namespace KillToken.Tests.Client;

/// <summary>The gateway's refusals as <see cref="KillTokenRequestException"/>: status, the contract's code, never the key.</summary>
[TestClass]
public sealed class ClientErrorTests
{
    private static ClientGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _gateway = await ClientGateway.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _gateway.DisposeAsync();

    [TestInitialize]
    public void ResetProvider() => _gateway.OpenAI.Handler = ClientGateway.Answer;

    [TestMethod]
    public async Task UnknownKey_Is401InvalidApiKey_AndTheKeyIsNowhereInTheException()
    {
        var unknownKey = "kt_live_" + new string('Z', 40);
        var client = new KillTokenClient(_gateway.Host.BaseAddress, unknownKey);

        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.ChatAsync(Chat()));

        Assert.AreEqual(401, refused.Status);
        Assert.AreEqual("invalid_api_key", refused.ErrorCode);
        StringAssert.StartsWith(refused.RequestId, "req");
        StringAssert.Contains(refused.Message, "invalid_api_key");
        AssertKeyAbsent(refused, unknownKey);
        Assert.IsFalse(client.ToString()!.Contains(unknownKey, StringComparison.Ordinal));
        Assert.IsFalse(new KillTokenKeyCredential(unknownKey).ToString().Contains(unknownKey, StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task SameIdempotencyKey_DifferentRequest_Is409()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);
        var first = Chat("first");
        first.IdempotencyKey = "key-1";
        await client.ChatAsync(first);
        var second = Chat("second");
        second.IdempotencyKey = "key-1";

        var conflict = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.ChatAsync(second));

        Assert.AreEqual(409, conflict.Status);
        Assert.AreEqual("idempotency_key_reused", conflict.ErrorCode);
        AssertKeyAbsent(conflict, tenant.ApiKey);
    }

    [TestMethod]
    public async Task SpentBudget_Is429BudgetExceeded_WithItsDetails_AndIsNotWaitedFor()
    {
        // A monthly limit, so the wait it asks for is long whatever the time of day.
        var tenant = await GatewayScenarios.TenantWithBudgetAsync(_gateway.Host, new { monthlyBudgetUsd = 0.003m });
        var client = _gateway.ClientFor(tenant);
        await client.ChatAsync(Chat("spend it")); // admitted with a lowered output cap; settles at $0.0035, past the limit
        var before = _gateway.OpenAI.Count;
        var request = Chat("one more");
        request.IdempotencyKey = "retry-safe"; // a call the client would retry — but not for hours

        var clock = Stopwatch.StartNew();
        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.ChatAsync(request));

        Assert.IsTrue(clock.Elapsed < TimeSpan.FromSeconds(5), "a Retry-After beyond MaxRetryDelay is not waited for");
        Assert.AreEqual(429, refused.Status);
        Assert.AreEqual("budget_exceeded", refused.ErrorCode);
        Assert.AreEqual("monthly", refused.Details["scope"].GetString());
        Assert.AreEqual(0.003m, refused.Details["limitUsd"].GetDecimal());
        Assert.IsTrue(refused.Details.ContainsKey("resetsAt"));
        Assert.IsTrue(refused.RetryAfter > TimeSpan.FromMinutes(1), "the time until the budget resets");
        Assert.AreEqual(before, _gateway.OpenAI.Count, "refused before the provider");
        AssertKeyAbsent(refused, tenant.ApiKey);
    }

    [TestMethod]
    public async Task NoCredentialForTheProvider_Is400ProviderCredentialRequired()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var client = _gateway.ClientFor(tenant);

        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() =>
            client.ChatAsync(new ChatRequest(ModelProvider.Anthropic, "claude-3-5-haiku-latest", [ChatMessage.User("hi")])));

        Assert.AreEqual(400, refused.Status);
        Assert.AreEqual("provider_credential_required", refused.ErrorCode);
    }

    [TestMethod]
    public async Task UnknownTrace_Is404NotFound()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();

        var missing = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => _gateway.ClientFor(tenant).GetRequestAsync("req_does_not_exist"));

        Assert.AreEqual(404, missing.Status);
        Assert.AreEqual("not_found", missing.ErrorCode);
    }

    [TestMethod]
    public async Task ARegeneratedKey_TakesOverThroughTheCredential_WithoutANewClient()
    {
        var tenant = await _gateway.Host.CreateTenantAsync();
        var credential = new KillTokenKeyCredential(tenant.ApiKey);
        var client = new KillTokenClient(_gateway.Host.BaseAddress, credential);
        await client.ChatAsync(Chat());

        var regenerated = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/regenerate-key", session: true), 200);
        var refused = await Assert.ThrowsExactlyAsync<KillTokenRequestException>(() => client.ChatAsync(Chat()));
        credential.Update(regenerated["apiKey"]!.GetValue<string>());
        var result = await client.ChatAsync(Chat());

        Assert.AreEqual(401, refused.Status, "the old key died at once");
        Assert.AreEqual(200, (await client.GetRequestAsync(result.Metrics.RequestId)).Status, "the new key works for every call");
    }
}
