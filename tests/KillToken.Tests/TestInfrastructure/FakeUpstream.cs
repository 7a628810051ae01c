using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>One request as the provider saw it.</summary>
internal sealed record UpstreamRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonObject Json => JsonNode.Parse(Body)!.AsObject();
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 that plays a provider: records what it receives and answers with the
/// handler a test gives it (by default the fixtures of the provider's API reference).
/// </summary>
internal sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<UpstreamRequest> _requests = new();

    private FakeUpstream(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>Answers the next requests; swap it at any time.</summary>
    public Func<HttpContext, UpstreamRequest, Task> Handler { get; set; } = (context, _) =>
    {
        context.Response.StatusCode = 404;
        return Task.CompletedTask;
    };

    public IReadOnlyList<UpstreamRequest> Requests => [.. _requests];

    public int Count => _requests.Count;

    public static async Task<FakeUpstream> StartAsync(Func<HttpContext, UpstreamRequest, Task>? handler = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        FakeUpstream? self = null;
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            var recorded = new UpstreamRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", headers, body);
            self!._requests.Enqueue(recorded);
            await self.Handler(context, recorded);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new FakeUpstream(app, new Uri(address.TrimEnd('/') + "/"));
        if (handler is not null)
        {
            self.Handler = handler;
        }

        return self;
    }

    public static Func<HttpContext, UpstreamRequest, Task> Json(JsonNode body, int status = 200, Action<HttpResponse>? headers = null) => async (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        headers?.Invoke(context.Response);
        await context.Response.WriteAsync(body.ToJsonString());
    };

    public void Clear() => _requests.Clear();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Response fixtures shaped like each provider's published API reference.</summary>
internal static class Fixtures
{
    /// <summary>OpenAI "Create chat completion" response example (platform.openai.com/docs/api-reference/chat/create).</summary>
    public static JsonObject OpenAIChatCompletion(string model = "gpt-4o-mini", int prompt = 19, int completion = 10, int cached = 0, string content = "Hello! How can I assist you today?") => new()
    {
        ["id"] = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        ["object"] = "chat.completion",
        ["created"] = 1741570283,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content, ["refusal"] = null, ["annotations"] = new JsonArray() },
            ["logprobs"] = null,
            ["finish_reason"] = "stop",
        }),
        ["usage"] = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["audio_tokens"] = 0 },
            ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0, ["audio_tokens"] = 0, ["accepted_prediction_tokens"] = 0, ["rejected_prediction_tokens"] = 0 },
        },
        ["service_tier"] = "default",
        ["system_fingerprint"] = "fp_fc9f1d7035",
    };

    /// <summary>OpenAI error object (platform.openai.com/docs/guides/error-codes).</summary>
    public static JsonObject OpenAIError(string message, string type, string? code) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code },
    };

    /// <summary>Anthropic Messages response example (docs.anthropic.com/en/api/messages).</summary>
    public static JsonObject AnthropicMessage(string model = "claude-3-5-haiku-latest", int input = 25, int output = 12, int cacheRead = 0, int cacheWrite = 0) => new()
    {
        ["id"] = "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        ["type"] = "message",
        ["role"] = "assistant",
        ["model"] = model,
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Hi! My name is Claude." }),
        ["stop_reason"] = "end_turn",
        ["stop_sequence"] = null,
        ["usage"] = new JsonObject
        {
            ["input_tokens"] = input,
            ["cache_creation_input_tokens"] = cacheWrite,
            ["cache_read_input_tokens"] = cacheRead,
            ["output_tokens"] = output,
        },
    };

    /// <summary>Anthropic error shape (docs.anthropic.com/en/api/errors).</summary>
    public static JsonObject AnthropicError(string type, string message) => new()
    {
        ["type"] = "error",
        ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
    };
}
