using System.Text.Json.Nodes;
using KillToken.Client;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Client;

/// <summary>
/// The real gateway over a fake OpenAI for the client's tests: chat completions cost exactly $0.0035 (gpt-4o, 1,000 in
/// and 100 out), and <c>GET /models</c> answers, so a credential test passes.
/// </summary>
internal sealed class ClientGateway : IAsyncDisposable
{
    private ClientGateway(FakeUpstream openai, GatewayHost host)
    {
        OpenAI = openai;
        Host = host;
    }

    public FakeUpstream OpenAI { get; }
    public GatewayHost Host { get; }

    public const decimal CallCostUsd = 0.0035m;

    public static async Task<ClientGateway> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var openai = await FakeUpstream.StartAsync(Answer);
        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
        };
        return new ClientGateway(openai, await GatewayHost.StartAsync(values));
    }

    /// <summary>The default provider: a model list for credential tests, the API reference's completion for everything else.</summary>
    public static Task Answer(HttpContext context, UpstreamRequest request) => request.Path.EndsWith("/models", StringComparison.Ordinal)
        ? FakeUpstream.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray() })(context, request)
        : FakeUpstream.Json(Fixtures.OpenAIChatCompletion("gpt-4o", prompt: 1000, completion: 100, content: "Hello from the fake provider."))(context, request);

    public KillTokenClient ClientFor(Tenant tenant, KillTokenClientOptions? options = null) =>
        new(Host.BaseAddress, tenant.ApiKey, options ?? new KillTokenClientOptions());

    /// <summary>Gives the tenant's key the <c>credentials:write</c> scope (through the owner's session).</summary>
    public static async Task GrantCredentialWritesAsync(Tenant tenant) =>
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true), 200);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await OpenAI.DisposeAsync();
    }
}

internal static class ClientRequests
{
    public static ChatRequest Chat(string content = "Hello", string model = "gpt-4o") =>
        new(ModelProvider.OpenAI, model, [ChatMessage.System("Answer in one line."), ChatMessage.User(content)]);

    /// <summary>Asserts that nothing a person or a log would see of <paramref name="exception"/> holds <paramref name="key"/>.</summary>
    public static void AssertKeyAbsent(Exception exception, string key)
    {
        Assert.IsFalse(exception.Message.Contains(key, StringComparison.Ordinal), "the key is in the message");
        Assert.IsFalse(exception.ToString().Contains(key, StringComparison.Ordinal), "the key is in ToString()");
        if (exception is KillTokenRequestException failure)
        {
            Assert.IsFalse((failure.GatewayMessage ?? "").Contains(key, StringComparison.Ordinal), "the key is in the gateway message");
            Assert.IsFalse(failure.Details.Values.Any(v => v.GetRawText().Contains(key, StringComparison.Ordinal)), "the key is in the details");
        }
    }
}
