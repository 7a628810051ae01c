using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Sdk;

/// <summary>
/// A fake OpenAI whose behaviour for each chat call is chosen by directives in the call's last message, so a test
/// written in another language (the JS SDK's node tests) picks what it needs without asking the harness:
/// <list type="bullet">
/// <item><c>[slow:MS]</c> — waits MS milliseconds before answering; <c>[slow-once:MS]</c> only on the first call with that message</item>
/// <item><c>[fail:STATUS:N]</c> — the first N calls with that message answer STATUS (OpenAI's error body), later ones succeed</item>
/// <item><c>[ratelimit:N]</c> — the first N calls answer 429 with <c>Retry-After: 1</c></item>
/// <item>streamed calls (<c>stream: true</c>): OpenAI's chunks "Hello", " there", "!" with 9 in / 12 out;
/// <c>[hold:MS]</c> holds MS after the first event, <c>[hold-forever]</c> until the call is cancelled,
/// <c>[cut]</c> ends after the first piece with no usage and no [DONE]</item>
/// <item>anything else: the API reference's completion, "Hello from the fake provider.", 1,000 in / 100 out ($0.0035 on gpt-4o)</item>
/// </list>
/// <c>GET /v1/models</c> answers a model list (the credential test's call). <c>GET /control/calls?tag=T</c> answers
/// <c>{count, aborted, lastBody, lastAuthorization}</c> over the chat calls whose body holds T — how the node tests see
/// what reached the provider (tests put a fresh nonce in each message).
/// </summary>
internal sealed partial class ScriptedProvider : IAsyncDisposable
{
    public const string Answer = "Hello from the fake provider.";

    private readonly ConcurrentDictionary<string, int> _arrivals = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _aborted = new();
    private FakeUpstream _upstream = null!;

    private ScriptedProvider()
    {
    }

    public Uri BaseAddress => _upstream.BaseAddress;

    /// <summary>The provider base URL to configure the gateway with (<c>KILLTOKEN_OPENAI_BASE_URL</c>).</summary>
    public string OpenAIBaseUrl => new Uri(_upstream.BaseAddress, "v1").ToString();

    public static async Task<ScriptedProvider> StartAsync()
    {
        var provider = new ScriptedProvider();
        provider._upstream = await FakeUpstream.StartAsync(provider.HandleAsync);
        return provider;
    }

    [GeneratedRegex(@"\[(?<name>[a-z-]+)(?::(?<arg>[^\]]*))?\]")]
    private static partial Regex Directive();

    private async Task HandleAsync(HttpContext context, UpstreamRequest request)
    {
        if (request.Path == "/control/calls")
        {
            await ControlAsync(context);
            return;
        }

        if (request.Path.EndsWith("/models", StringComparison.Ordinal))
        {
            await FakeUpstream.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray() })(context, request);
            return;
        }

        var json = request.Json;
        var message = LastMessage(json);
        var arrival = _arrivals.AddOrUpdate(message, 1, (_, n) => n + 1);
        var directives = Directive().Matches(message).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["arg"].Value, StringComparer.Ordinal);
        try
        {
            await AnswerAsync(context, request, json, arrival, directives);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            _aborted.Enqueue(request.Body);
        }
    }

    private static async Task AnswerAsync(HttpContext context, UpstreamRequest request, JsonObject json, int arrival, Dictionary<string, string> directives)
    {
        if (directives.TryGetValue("slow", out var slow) || (arrival == 1 && directives.TryGetValue("slow-once", out slow)))
        {
            await Task.Delay(int.Parse(slow, CultureInfo.InvariantCulture), context.RequestAborted);
        }

        if (directives.TryGetValue("fail", out var fail))
        {
            var parts = fail.Split(':');
            if (arrival <= int.Parse(parts[1], CultureInfo.InvariantCulture))
            {
                await FakeUpstream.Json(Fixtures.OpenAIError("The server had an error while processing your request.", "server_error", null),
                    int.Parse(parts[0], CultureInfo.InvariantCulture))(context, request);
                return;
            }
        }

        if (directives.TryGetValue("ratelimit", out var refusals) && arrival <= int.Parse(refusals, CultureInfo.InvariantCulture))
        {
            await FakeUpstream.Json(Fixtures.OpenAIError("Rate limit reached for gpt-4o.", "requests", "rate_limit_exceeded"), 429,
                response => response.Headers.RetryAfter = "1")(context, request);
            return;
        }

        var model = json["model"]?.GetValue<string>() ?? "gpt-4o";
        if (json["stream"]?.GetValue<bool>() != true)
        {
            await FakeUpstream.Json(Fixtures.OpenAIChatCompletion(model, prompt: 1000, completion: 100, content: Answer))(context, request);
            return;
        }

        var cut = directives.ContainsKey("cut");
        var events = SseTestKit.OpenAIStream(model, cut ? ["Half an ans"] : ["Hello", " there", "!"], prompt: 9, completion: 12, usageChunk: !cut, done: !cut);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < events.Count; i++)
        {
            await context.Response.WriteAsync(events[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            if (i == 0 && directives.ContainsKey("hold-forever"))
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }

            if (i == 0 && directives.TryGetValue("hold", out var hold))
            {
                await Task.Delay(int.Parse(hold, CultureInfo.InvariantCulture), context.RequestAborted);
            }
        }
    }

    private async Task ControlAsync(HttpContext context)
    {
        var tag = context.Request.Query["tag"].ToString();
        var calls = _upstream.Requests.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal) && tag.Length > 0 && r.Body.Contains(tag, StringComparison.Ordinal)).ToList();
        var body = new JsonObject
        {
            ["count"] = calls.Count,
            ["aborted"] = _aborted.Count(b => tag.Length > 0 && b.Contains(tag, StringComparison.Ordinal)),
            ["lastBody"] = calls.Count == 0 ? null : JsonNode.Parse(calls[^1].Body),
            ["lastAuthorization"] = calls.Count == 0 ? null : calls[^1].Header("authorization"),
        };
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    /// <summary>The last message's text: the key directives and arrival counts go by.</summary>
    private static string LastMessage(JsonObject json)
    {
        var last = json["messages"] is JsonArray { Count: > 0 } messages ? messages[^1] : null;
        return last?["content"] switch
        {
            JsonValue text when text.TryGetValue<string>(out var s) => s,
            { } other => other.ToJsonString(),
            null => string.Empty,
        };
    }

    public ValueTask DisposeAsync() => _upstream.DisposeAsync();
}
