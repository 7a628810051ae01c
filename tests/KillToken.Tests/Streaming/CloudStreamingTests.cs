using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Streaming;

/// <summary>The cloud-hosted wire formats that stream too: Azure OpenAI (chat-completions events) and Vertex AI (Gemini events).</summary>
[TestClass]
public sealed class CloudStreamingTests
{
    private static readonly RSA ServiceAccountKey = RSA.Create(2048);
    private static FakeUpstream _azure = null!;
    private static FakeUpstream _vertex = null!;
    private static FakeUpstream _google = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _azure = await FakeUpstream.StartAsync();
        _vertex = await FakeUpstream.StartAsync();
        // Google's token endpoint, reduced to issuing a token (VertexAdapterTests checks the JWT grant itself).
        _google = await FakeUpstream.StartAsync(FakeUpstream.Json(new JsonObject { ["access_token"] = "ya29.stream-test-token", ["expires_in"] = 3599, ["token_type"] = "Bearer" }));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_GOOGLE_VERTEX_BASE_URL"] = _vertex.BaseAddress.ToString(),
            ["KILLTOKEN_GOOGLE_TOKEN_URL"] = new Uri(_google.BaseAddress, "token").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _azure.DisposeAsync();
        await _vertex.DisposeAsync();
        await _google.DisposeAsync();
        ServiceAccountKey.Dispose();
    }

    [TestMethod]
    public async Task AzureOpenAI_StreamsFromTheDeployment_WithUsageAskedFor()
    {
        var tenant = await _host.CreateTenantAsync(credential: new
        {
            provider = "azure_openai",
            apiKey = "azure-stream-secret-key-0006",
            config = new { endpoint = _azure.BaseAddress.ToString(), deployment = "prod-gpt4o-mini" },
        });
        _azure.Handler = SseTestKit.Serve(SseTestKit.OpenAIStream(prompt: 20, completion: 5));
        var before = _azure.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", new
        {
            provider = "azure_openai",
            model = "gpt-4o-mini",
            messages = new[] { new { role = "user", content = "hi" } },
            stream = true,
        });
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _azure.Requests[before];
        Assert.AreEqual("/openai/deployments/prod-gpt4o-mini/chat/completions", upstream.Path);
        Assert.AreEqual("azure-stream-secret-key-0006", upstream.Header("api-key"));
        Assert.IsTrue(upstream.Json["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.AreEqual("Hello there!", SseTestKit.OpenAIText(events));
        Assert.AreEqual(25, events[^1].Json["totalTokens"]!.GetValue<long>());
    }

    [TestMethod]
    public async Task Vertex_StreamsFromStreamGenerateContent_WithTheMintedToken()
    {
        var clientEmail = $"stream-{Guid.NewGuid():N}@acme-prod-123.iam.gserviceaccount.com";
        var tenant = await _host.CreateTenantAsync(credential: new
        {
            provider = "google_vertex",
            secrets = new { clientEmail, privateKey = ServiceAccountKey.ExportPkcs8PrivateKeyPem(), privateKeyId = "kid-1" },
            config = new { projectId = "acme-prod-123", location = "us-central1", defaultModel = "gemini-2.5-flash" },
        });
        _vertex.Handler = SseTestKit.Serve(SseTestKit.GeminiStream("gemini-2.5-flash", prompt: 40, candidates: 8));
        var before = _vertex.Count;

        using var response = await SseTestKit.SendStreamingAsync(tenant, "v1/chat", new
        {
            provider = "google_vertex",
            model = "gemini-2.5-flash",
            messages = new[] { new { role = "user", content = "hi" } },
            stream = true,
        });
        var events = await SseTestKit.ReadAllAsync(response);

        var upstream = _vertex.Requests[before];
        Assert.AreEqual("/v1/projects/acme-prod-123/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent", upstream.Path);
        Assert.AreEqual("?alt=sse", upstream.Query);
        Assert.AreEqual("Bearer ya29.stream-test-token", upstream.Header("authorization"));
        Assert.AreEqual(48, events[^1].Json["totalTokens"]!.GetValue<long>());
        Assert.AreEqual("killtoken.metrics", events[^1].Name);
    }
}
