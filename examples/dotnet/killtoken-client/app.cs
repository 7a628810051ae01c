// KillToken.Client: one /v1/chat call, then its metrics. The API key is a KillToken project key; the gateway calls the
// provider with the workspace's own stored credential.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an openai credential
#:project ../../../src/Client/KillToken.Client.csproj
using KillToken.Client;

var baseUrl = Environment.GetEnvironmentVariable("KILLTOKEN_BASE_URL") ?? "http://localhost:7071";
var apiKey = Environment.GetEnvironmentVariable("KILLTOKEN_API_KEY") ?? throw new InvalidOperationException("Set KILLTOKEN_API_KEY to a KillToken project key.");

var client = new KillTokenClient(new Uri(baseUrl), apiKey);
var result = await client.ChatAsync(new ChatRequest(ModelProvider.OpenAI, "gpt-4o-mini", [ChatMessage.User("Say hello in five words.")])
{
    Feature = "examples",
    CachePolicy = CachePolicy.ReadWrite,
});

var m = result.Metrics;
Console.WriteLine($"answer: {result.OutputText}");
Console.WriteLine($"metrics: requestId={m.RequestId} model={m.FinalModel} tokens={m.InputTokens}+{m.OutputTokens} costUsd={m.CostUsd} cache={m.CacheStatus} feature={m.Feature}");
