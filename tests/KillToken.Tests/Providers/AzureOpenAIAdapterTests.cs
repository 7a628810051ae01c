using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Providers;

[TestClass]
public sealed class AzureOpenAIAdapterTests
{
    private static FakeUpstream _azure = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _azure = await FakeUpstream.StartAsync();
        // Azure's endpoint is the credential's config.endpoint (a loopback one needs the private-endpoint switch).
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true" });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _azure.DisposeAsync();
    }

    private static Task<Tenant> TenantAsync(string secret, string? apiVersion = null, string endpointSuffix = "") =>
        _host.CreateTenantAsync(credential: new
        {
            provider = "azure_openai",
            apiKey = secret,
            config = apiVersion is null
                ? (object)new { endpoint = _azure.BaseAddress + endpointSuffix, deployment = "prod-gpt4o-mini" }
                : new { endpoint = _azure.BaseAddress + endpointSuffix, deployment = "prod-gpt4o-mini", apiVersion },
        });

    /// <summary>Azure's error body (learn.microsoft.com/azure/ai-services/openai/reference — ErrorResponse).</summary>
    private static JsonObject AzureError(string code, string message) => new()
    {
        ["error"] = new JsonObject { ["code"] = code, ["message"] = message },
    };

    private static object Chat(string model = "gpt-4o-mini") => new
    {
        provider = "azure_openai",
        model,
        messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Hello" } },
        providerOptions = new { temperature = 0.2, max_tokens = 64 },
    };

    [TestMethod]
    public async Task Chat_GoesToTheDeployment_WithApiKeyHeaderAndDefaultGaVersion()
    {
        const string secret = "azure-tenant-secret-DDDD4444";
        var tenant = await TenantAsync(secret);
        // The Azure response is the OpenAI chat.completion object (plus content-filter results).
        var fixture = Fixtures.OpenAIChatCompletion("gpt-4o-mini-2024-07-18", prompt: 1000, completion: 500, cached: 200);
        fixture["prompt_filter_results"] = new JsonArray(new JsonObject { ["prompt_index"] = 0, ["content_filter_results"] = new JsonObject() });
        _azure.Handler = FakeUpstream.Json(fixture);
        var before = _azure.Count;

        var body = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        var upstream = _azure.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        Assert.AreEqual("/openai/deployments/prod-gpt4o-mini/chat/completions", upstream.Path);
        Assert.AreEqual("?api-version=2024-10-21", upstream.Query);
        Assert.AreEqual(secret, upstream.Header("api-key"));
        Assert.IsNull(upstream.Header("authorization"));
        var expected = JsonNode.Parse("""
            { "model": "gpt-4o-mini", "messages": [ { "role": "system", "content": "Be brief." }, { "role": "user", "content": "Hello" } ],
              "temperature": 0.2, "max_tokens": 64 }
            """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, upstream.Json), upstream.Body);

        Assert.IsTrue(JsonNode.DeepEquals(fixture, body["response"]));
        var metrics = body["metrics"]!;
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(500, metrics["outputTokens"]!.GetValue<long>());
        Assert.AreEqual(200, metrics["cachedInputTokens"]!.GetValue<long>());
        // gpt-4o-mini at OpenAI list price: 800*0.15 + 200*0.075 + 500*0.60 = 435 µ$.
        Assert.AreEqual(0.000435m, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("priced", metrics["costStatus"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task ApiVersionV1_UsesTheV1PathWithTheRequestModel_AndPreviewAddsItsQuery()
    {
        var v1 = await TenantAsync("azure-tenant-secret-v1-5555", "v1", endpointSuffix: "openai/v1/");
        var preview = await TenantAsync("azure-tenant-secret-preview-6666", "preview");
        var dated = await TenantAsync("azure-tenant-secret-dated-7777", "2025-04-01-preview");
        _azure.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4.1"));

        var before = _azure.Count;
        await GatewayHost.ReadJsonAsync(await v1.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.AreEqual("/openai/v1/chat/completions", _azure.Requests[before].Path, "a pasted …/openai/v1 suffix is not doubled");
        Assert.AreEqual("", _azure.Requests[before].Query);
        Assert.AreEqual("gpt-4.1", _azure.Requests[before].Json["model"]!.GetValue<string>());

        before = _azure.Count;
        await GatewayHost.ReadJsonAsync(await preview.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.AreEqual("/openai/v1/chat/completions", _azure.Requests[before].Path);
        Assert.AreEqual("?api-version=preview", _azure.Requests[before].Query);

        before = _azure.Count;
        await GatewayHost.ReadJsonAsync(await dated.ChatAsync(Chat("gpt-4.1")), 200);
        Assert.AreEqual("/openai/deployments/prod-gpt4o-mini/chat/completions", _azure.Requests[before].Path);
        Assert.AreEqual("?api-version=2025-04-01-preview", _azure.Requests[before].Query);
    }

    [TestMethod]
    public async Task Upstream401_IsProviderAuthFailed_429IsRateLimited_MalformedIs502()
    {
        var tenant = await TenantAsync("azure-tenant-secret-errors-8888");

        _azure.Handler = FakeUpstream.Json(AzureError("401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."), 401);
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        _azure.Handler = FakeUpstream.Json(AzureError("429",
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier."), 429);
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 429, "provider_rate_limited");

        _azure.Handler = ProviderTestKit.NotJson();
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_error");
    }

    [TestMethod]
    public async Task UpstreamErrorEchoingTheKey_NeverReachesTheClient()
    {
        const string secret = "azure-echoed-secret-9999AAAA";
        var tenant = await TenantAsync(secret);
        _azure.Handler = FakeUpstream.Json(AzureError("InvalidRequest", $"Key {secret} is not valid for deployment prod-gpt4o-mini."), 400);

        var text = await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 400, "provider_rejected");

        ProviderTestKit.AssertNoSecret(text, secret);
        ProviderTestKit.AssertNoSecretInLogs(_host, secret);
    }

    [TestMethod]
    public async Task CredentialTest_ListsTheResourcesModels()
    {
        const string secret = "azure-test-route-secret-BBBB";
        var tenant = await TenantAsync(secret);
        // Models - List sample response (learn.microsoft.com/rest/api/azureopenai/models/list).
        _azure.Handler = FakeUpstream.Json(JsonNode.Parse("""
            { "data": [ { "status": "succeeded", "capabilities": { "fine_tune": false, "inference": true, "completion": false,
              "chat_completion": true, "embeddings": false }, "lifecycle_status": "generally-available",
              "id": "gpt-4o-mini-2024-07-18", "created_at": 1721260800, "object": "model" } ], "object": "list" }
            """)!);
        var before = _azure.Count;

        var result = await ProviderTestKit.TestCredentialAsync(tenant);

        Assert.IsTrue(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        var upstream = _azure.Requests[before];
        Assert.AreEqual("GET", upstream.Method);
        Assert.AreEqual("/openai/models", upstream.Path);
        Assert.AreEqual("?api-version=2024-10-21", upstream.Query);
        Assert.AreEqual(secret, upstream.Header("api-key"));
        Assert.IsNull(upstream.Header("authorization"));

        var v1 = await TenantAsync("azure-test-route-v1-CCCC", "v1");
        before = _azure.Count;
        Assert.IsTrue((await ProviderTestKit.TestCredentialAsync(v1))["ok"]!.GetValue<bool>());
        Assert.AreEqual("/openai/v1/models", _azure.Requests[before].Path);
    }
}
