// The official OpenAI .NET SDK pointed at KillToken's OpenAI-compatible route. The API key is a KillToken project key,
// not an OpenAI key: the gateway calls OpenAI with the workspace's own stored credential.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an openai credential
#:package OpenAI
using System.ClientModel;
using OpenAI;
using OpenAI.Chat;

var baseUrl = Environment.GetEnvironmentVariable("KILLTOKEN_BASE_URL") ?? "http://localhost:7071";
var apiKey = Environment.GetEnvironmentVariable("KILLTOKEN_API_KEY") ?? throw new InvalidOperationException("Set KILLTOKEN_API_KEY to a KillToken project key.");

var chat = new ChatClient("gpt-4o-mini", new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = new Uri($"{baseUrl.TrimEnd('/')}/v1/openai") });
ClientResult<ChatCompletion> result = await chat.CompleteChatAsync([new UserChatMessage("Say hello in five words.")]);

Console.WriteLine($"answer: {result.Value.Content[0].Text}");
Console.WriteLine($"usage: {result.Value.Usage.InputTokenCount} in, {result.Value.Usage.OutputTokenCount} out");
// KillToken's metrics (cost, cache, waste…) ride along in a header.
Console.WriteLine($"metrics: {(result.GetRawResponse().Headers.TryGetValue("x-killtoken-metrics", out var metrics) ? metrics : "none")}");
