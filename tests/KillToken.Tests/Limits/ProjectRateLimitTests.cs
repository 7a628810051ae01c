using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KillToken.Api.Hosting;
using KillToken.Core.Gateway;
using KillToken.Core.Observability;
using KillToken.Storage.Cosmos;
using KillToken.Tests.Observability;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Limits;

/// <summary>
/// The per-project request rate (KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE, …_BURST): a project past it gets
/// <c>429 rate_limited</c> with <c>Retry-After</c> on every project-key route, in the route's own error shape, before any
/// provider call or trace; other projects in the same workspace and in other workspaces are answered as usual at the
/// same moment; and with the default settings there is no limit. Run on SQLite and on the Cosmos DB emulator.
/// </summary>
[TestClass]
public sealed class ProjectRateLimitTests
{
    private const string OpenAIBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""";
    private const string AnthropicBody = """{"model":"claude-3-5-haiku-20241022","max_tokens":300,"messages":[{"role":"user","content":"Hello"}]}""";
    private const string GeminiBody = """{"contents":[{"parts":[{"text":"Hello"}]}]}""";

    /// <summary>One call a minute after a burst of two: a third call is refused for about a minute, never by chance.</summary>
    private const int Burst = 2;

    [TestMethod]
    [DataRow("sqlite")]
    [DataRow("cosmos")]
    public async Task ProjectOverItsRate_Gets429RateLimited_WhileOtherProjectsAndWorkspacesAreServed(string store)
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        var database = CosmosEmulator.NewDatabaseName("ratelimit");
        await using var host = await GatewayHost.StartAsync(Settings(store, openai, database, perMinute: "1", burst: Burst.ToString(CultureInfo.InvariantCulture)));
        try
        {
            var a = await host.CreateTenantAsync();
            var (projectB, keyB) = await host.CreateProjectAsync(a.Token, a.WorkspaceId, new { name = "neighbour" });
            var b = a with { ProjectId = projectB, ApiKey = keyB };
            var c = await host.CreateTenantAsync();

            for (var i = 0; i < Burst; i++)
            {
                await GatewayHost.ReadJsonAsync(await a.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "a " + i)), 200);
            }

            var providerCalls = openai.Count;
            var refused = await a.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "one too many"));
            var error = (await GatewayHost.ReadJsonAsync(refused, 429))["error"]!;
            Assert.AreEqual(ErrorCodes.RateLimited, error["code"]!.GetValue<string>());
            Assert.IsFalse(string.IsNullOrEmpty(error["requestId"]?.GetValue<string>()), "the contract's error body, with its request id");
            var retryAfter = RetryAfterSeconds(refused);
            Assert.IsTrue(retryAfter is >= 1 and <= 60, $"Retry-After is whole seconds until a call is allowed again: {retryAfter}");

            var streamed = await a.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } }, stream = true });
            Assert.AreEqual(ErrorCodes.RateLimited, (await GatewayHost.ReadJsonAsync(streamed, 429))["error"]!["code"]!.GetValue<string>(), "a stream is refused before it opens");
            var reads = await a.SendAsync(HttpMethod.Get, "v1/requests");
            Assert.AreEqual(ErrorCodes.RateLimited, (await GatewayHost.ReadJsonAsync(reads, 429))["error"]!["code"]!.GetValue<string>(), "every project-key route counts");
            Assert.AreEqual(providerCalls, openai.Count, "a refused call reaches no provider");

            // The same moment, the neighbours: another project of the same workspace, and another workspace.
            var neighbours = await Task.WhenAll(
                Enumerable.Range(0, Burst).Select(i => b.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "b " + i)))
                    .Concat(Enumerable.Range(0, Burst).Select(i => c.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "c " + i)))));
            foreach (var answer in neighbours)
            {
                await GatewayHost.ReadJsonAsync(answer, 200);
            }

            Assert.AreEqual(ErrorCodes.RateLimited, (await GatewayHost.ReadJsonAsync(await a.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "still")), 429))["error"]!["code"]!.GetValue<string>(),
                "the flooding project is still refused while the others were served");

            // Refusals cost no trace: the workspace holds A's answered calls and B's, nothing else.
            var traces = await GatewayHost.ReadJsonAsync(await a.SendAsync(HttpMethod.Get, $"api/workspaces/{a.WorkspaceId}/requests?limit=200", session: true), 200);
            var statuses = traces["data"]!.AsArray().Select(t => t!["status"]!.GetValue<int>()).ToList();
            Assert.HasCount(2 * Burst, statuses, "refused calls are not traced");
            Assert.IsTrue(statuses.All(s => s == 200));
        }
        finally
        {
            await DropDatabaseAsync(host, store, database);
        }
    }

    [TestMethod]
    public async Task WrapperRoutes_AnswerRateLimitedInTheirOwnShape_WithRetryAfter()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        await using var host = await GatewayHost.StartAsync(Settings("sqlite", openai, database: null, perMinute: "1", burst: "1"));
        using var telemetry = new TelemetryCollector();
        telemetry.ListenTo(host);
        var tenant = await host.CreateTenantAsync();
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini")), 200);
        var providerCalls = openai.Count;

        // OpenAI: type rate_limit_exceeded (the SDK's RateLimitError), KillToken's code; no x-should-retry: false, so the
        // SDK's own retry waits Retry-After and tries again.
        foreach (var path in new[] { "v1/openai/chat/completions", "proxy/openai/v1/chat/completions" })
        {
            var response = await PostAsync(host, path, OpenAIBody, ("Authorization", "Bearer " + tenant.ApiKey));
            var body = await GatewayHost.ReadJsonAsync(response, 429);
            Assert.AreEqual("rate_limit_exceeded", body["error"]!["type"]!.GetValue<string>(), path);
            Assert.AreEqual(ErrorCodes.RateLimited, body["error"]!["code"]!.GetValue<string>(), path);
            Assert.IsGreaterThanOrEqualTo(1, RetryAfterSeconds(response));
            Assert.IsFalse(response.Headers.Contains("x-should-retry"), "a rate limit is worth retrying after the wait");
        }

        var anthropic = await PostAsync(host, "v1/anthropic/v1/messages", AnthropicBody, ("x-api-key", tenant.ApiKey), ("anthropic-version", "2023-06-01"));
        var anthropicBody = await GatewayHost.ReadJsonAsync(anthropic, 429);
        Assert.AreEqual("error", anthropicBody["type"]!.GetValue<string>());
        Assert.AreEqual("rate_limit_error", anthropicBody["error"]!["type"]!.GetValue<string>());
        Assert.AreEqual(ErrorCodes.RateLimited, anthropicBody["error"]!["code"]!.GetValue<string>());
        Assert.IsGreaterThanOrEqualTo(1, RetryAfterSeconds(anthropic));

        var gemini = await PostAsync(host, "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent", GeminiBody, ("x-goog-api-key", tenant.ApiKey));
        var geminiError = (await GatewayHost.ReadJsonAsync(gemini, 429))["error"]!;
        Assert.AreEqual(429, geminiError["code"]!.GetValue<int>());
        Assert.AreEqual("RESOURCE_EXHAUSTED", geminiError["status"]!.GetValue<string>());
        Assert.AreEqual(ErrorCodes.RateLimited, geminiError["details"]![0]!["reason"]!.GetValue<string>());
        Assert.IsGreaterThanOrEqualTo(1, RetryAfterSeconds(gemini));

        Assert.AreEqual(providerCalls, openai.Count, "no refused call reached a provider");

        // Counted like every other refusal: killtoken.gateway.requests, outcome rejected, error.type rate_limited.
        var refusals = telemetry.MeasurementsOf(KillTokenTelemetry.Tags.RequestsMetric)
            .Where(m => m.Tag(KillTokenTelemetry.Tags.ErrorType) == ErrorCodes.RateLimited).ToList();
        CollectionAssert.AreEquivalent(new[] { "openai", "openai", "anthropic", "gemini" }, refusals.Select(m => m.Tag(KillTokenTelemetry.Tags.Endpoint)).ToList());
        Assert.IsTrue(refusals.All(m => m.Tag(KillTokenTelemetry.Tags.Outcome) == KillTokenTelemetry.Outcomes.Rejected));
    }

    [TestMethod]
    public async Task AClientThatWaitsRetryAfter_IsServedAgain()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        // One call a second, no burst: the wait Retry-After names is short, and long enough.
        await using var host = await GatewayHost.StartAsync(Settings("sqlite", openai, database: null, perMinute: "60", burst: "1"));
        var tenant = await host.CreateTenantAsync();
        HttpResponseMessage refused;
        do
        {
            refused = await tenant.SendAsync(HttpMethod.Get, "v1/openai/models");
        }
        while (refused.IsSuccessStatusCode);

        Assert.AreEqual(429, (int)refused.StatusCode);
        var wait = RetryAfterSeconds(refused);
        Assert.AreEqual(1, wait, "one call a second: a permit is at most a second away");
        await Task.Delay(TimeSpan.FromSeconds(wait) + TimeSpan.FromMilliseconds(250));
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "v1/openai/models"), 200);
    }

    [TestMethod]
    public async Task ByDefault_ThereIsNoLimit()
    {
        Assert.IsFalse(KillTokenSettings.Read(new ConfigurationBuilder().Build()).RateLimit.IsEnabled, "off unless configured");

        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        await using var host = await GatewayHost.StartAsync(Settings("sqlite", openai, database: null, perMinute: null, burst: null));
        var tenant = await host.CreateTenantAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => tenant.SendAsync(HttpMethod.Get, "v1/openai/models")));
        Assert.IsTrue(answers.All(a => a.IsSuccessStatusCode), "300 calls at once, none refused");
        var chats = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini", "n " + i))));
        Assert.IsTrue(chats.All(a => a.IsSuccessStatusCode), "30 chats at once, none refused");
    }

    [TestMethod]
    [DataRow("-1")]
    [DataRow("many")]
    public void ABadRate_StopsStartUp_NamingTheSetting(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [SettingNames.ProjectRateLimitPerMinute] = value,
            [SettingNames.DataDir] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
        }).Build();
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => KillTokenSettings.Read(configuration));
        StringAssert.Contains(error.Message, SettingNames.ProjectRateLimitPerMinute);
    }

    private static Dictionary<string, string?> Settings(string store, FakeUpstream openai, string? database, string? perMinute, string? burst)
    {
        var settings = store == "cosmos"
            ? CosmosGatewaySettings.For(CosmosEmulator.Shared, database!, openai)
            : new Dictionary<string, string?>
            {
                ["KILLTOKEN_STORE"] = "sqlite",
                ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            };
        settings[SettingNames.ProjectRateLimitPerMinute] = perMinute;
        settings[SettingNames.ProjectRateLimitBurst] = burst;
        return settings;
    }

    private static async Task DropDatabaseAsync(GatewayHost host, string store, string database)
    {
        if (store == "cosmos")
        {
            await host.Services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(database).DeleteStreamAsync();
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(GatewayHost host, string path, string body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            if (name == "Authorization")
            {
                request.Headers.Authorization = AuthenticationHeaderValue.Parse(value);
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return await host.Client.SendAsync(request);
    }

    private static int RetryAfterSeconds(HttpResponseMessage response)
    {
        Assert.IsTrue(response.Headers.TryGetValues("Retry-After", out var values), "Retry-After is present");
        return int.Parse(values.Single(), CultureInfo.InvariantCulture);
    }
}
