using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using OpenAI;
using OpenAI.Chat;

namespace KillToken.Tests.Wrappers;

/// <summary>Clients of the wrapper routes: the official OpenAI .NET SDK pointed at the gateway, and raw requests with any headers.</summary>
internal static class WrapperTestKit
{
    /// <summary>
    /// The OpenAI SDK as its documentation configures it for a compatible endpoint: <c>Endpoint = {gateway}/v1/openai</c>,
    /// the KillToken key as the API key. Retries off, so a refused call fails at once.
    /// </summary>
    public static ChatClient OpenAIChat(GatewayHost host, string apiKey, string model = "gpt-4o-mini", Dictionary<string, string>? headers = null, string path = "v1/openai") =>
        new(model, new ApiKeyCredential(apiKey), Options(host, path, headers));

    public static OpenAIClientOptions Options(GatewayHost host, string path = "v1/openai", Dictionary<string, string>? headers = null)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(host.BaseAddress, path),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(30),
        };
        if (headers is not null)
        {
            options.AddPolicy(new HeadersPolicy(headers), PipelinePosition.PerCall);
        }

        return options;
    }

    public static async Task<HttpResponseMessage> PostAsync(GatewayHost host, string path, object body, Dictionary<string, string>? headers = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body is string raw ? raw : System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await host.Client.SendAsync(request);
    }

    public static JsonObject MetricsHeader(HttpResponseMessage response) =>
        JsonNode.Parse(response.Headers.GetValues("x-killtoken-metrics").Single())!.AsObject();

    /// <summary>A tenant whose daily budget is spent before it starts (any priced call is refused with 429 budget_exceeded).</summary>
    public static async Task<Tenant> TenantWithoutBudgetAsync(GatewayHost host, string provider)
    {
        var tenant = await host.CreateTenantAsync(provider);
        var patched = await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", new { dailyBudgetUsd = 0.000001m }, session: true);
        await GatewayHost.ReadJsonAsync(patched, 200);
        return tenant;
    }

    private sealed class HeadersPolicy(Dictionary<string, string> headers) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Add(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Add(PipelineMessage message)
        {
            foreach (var (name, value) in headers)
            {
                message.Request.Headers.Set(name, value);
            }
        }
    }
}
