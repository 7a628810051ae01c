using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Streaming;

/// <summary>One event as a client reads it off the wire.</summary>
internal sealed record SseEvent(string? Name, string Data)
{
    public JsonObject Json => JsonNode.Parse(Data)!.AsObject();
}

/// <summary>
/// Server-sent event streams shaped like each provider's API reference, an upstream handler that writes them event by
/// event (flushing each, optionally holding after the first until the test says so), and a client-side reader.
/// </summary>
internal static class SseTestKit
{
    /// <summary>
    /// OpenAI chat-completions stream (platform.openai.com/docs/api-reference/chat-streaming): a role chunk, content
    /// chunks, a finish chunk, the usage-only chunk (when asked for with stream_options.include_usage), [DONE].
    /// </summary>
    public static List<string> OpenAIStream(string model = "gpt-4o-mini", string[]? pieces = null, int prompt = 9, int completion = 12,
        bool usageChunk = true, bool done = true)
    {
        pieces ??= ["Hello", " there", "!"];
        const string head = "\"id\":\"chatcmpl-AZ4sj8BnnkkkyvbFd0JxkH62hVnqv\",\"object\":\"chat.completion.chunk\",\"created\":1733149913";
        string Chunk(string choices, string usage = "null") =>
            $"data: {{{head},\"model\":\"{model}\",\"system_fingerprint\":\"fp_0705bf87c0\",\"choices\":{choices},\"usage\":{usage}}}\n\n";
        var events = new List<string> { Chunk("[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]") };
        events.AddRange(pieces.Select(p => Chunk($"[{{\"index\":0,\"delta\":{{\"content\":{JsonValue.Create(p).ToJsonString()}}},\"logprobs\":null,\"finish_reason\":null}}]")));
        events.Add(Chunk("[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]"));
        if (usageChunk)
        {
            events.Add(Chunk("[]", $"{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{prompt + completion},\"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}"));
        }

        if (done)
        {
            events.Add("data: [DONE]\n\n");
        }

        return events;
    }

    /// <summary>
    /// Anthropic Messages stream (docs.anthropic.com/en/docs/build-with-claude/streaming, "Basic streaming request"):
    /// message_start, content_block_start, ping, text deltas, content_block_stop, message_delta, message_stop.
    /// </summary>
    public static List<string> AnthropicStream(string model = "claude-3-5-haiku-20241022", string[]? pieces = null, int input = 25, int output = 15,
        int cacheRead = 0, bool stop = true)
    {
        pieces ??= ["Hello", "!"];
        static string Event(string type, string data) => $"event: {type}\ndata: {data}\n\n";
        var events = new List<string>
        {
            Event("message_start", $"{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"{model}\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":{cacheRead},\"output_tokens\":1}}}}}}"),
            Event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
            Event("ping", "{\"type\": \"ping\"}"),
        };
        events.AddRange(pieces.Select(p => Event("content_block_delta", $"{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{JsonValue.Create(p).ToJsonString()}}}}}")));
        events.Add(Event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"));
        events.Add(Event("message_delta", $"{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{output}}}}}"));
        if (stop)
        {
            events.Add(Event("message_stop", "{\"type\":\"message_stop\"}"));
        }

        return events;
    }

    /// <summary>
    /// Gemini <c>streamGenerateContent?alt=sse</c> (ai.google.dev/api/generate-content): GenerateContentResponse chunks,
    /// CRLF-separated, the last with finishReason and the final usageMetadata.
    /// </summary>
    public static List<string> GeminiStream(string model = "gemini-2.0-flash", string[]? pieces = null, int prompt = 9, int candidates = 12, bool finish = true)
    {
        pieces ??= ["Hello", " there", "!"];
        var events = new List<string>();
        for (var i = 0; i < pieces.Length; i++)
        {
            var last = i == pieces.Length - 1 && finish;
            var output = last ? candidates : i + 1;
            events.Add($"data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": {JsonValue.Create(pieces[i]).ToJsonString()}}}],\"role\": \"model\"}}{(last ? ",\"finishReason\": \"STOP\"" : "")},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": {prompt},\"candidatesTokenCount\": {output},\"totalTokenCount\": {prompt + output}}},\"modelVersion\": \"{model}\",\"responseId\": \"mAitaLmkHPPlz7IPvtfUqQ4\"}}\r\n\r\n");
        }

        return events;
    }

    /// <summary>
    /// Writes <paramref name="events"/> as text/event-stream, flushing each. With <paramref name="holdAfterFirst"/>, waits
    /// for it after the first event; with <paramref name="holdForever"/>, never finishes after the first event (until the
    /// request is aborted, reported through <paramref name="aborted"/>).
    /// </summary>
    public static Func<HttpContext, UpstreamRequest, Task> Serve(IReadOnlyList<string> events, Task? holdAfterFirst = null, bool holdForever = false,
        TaskCompletionSource? aborted = null, TimeSpan? delay = null) => async (context, _) =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        try
        {
            for (var i = 0; i < events.Count; i++)
            {
                await context.Response.WriteAsync(events[i], context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (i == 0 && holdForever)
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }

                if (i == 0 && holdAfterFirst is not null)
                {
                    await holdAfterFirst.WaitAsync(context.RequestAborted);
                }

                if (delay is { } pause)
                {
                    await Task.Delay(pause, context.RequestAborted);
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            aborted?.TrySetResult();
        }
    };

    /// <summary>Sends a request and returns as soon as the headers arrived, so the body can be read as it streams.</summary>
    public static Task<HttpResponseMessage> SendStreamingAsync(Tenant tenant, string path, object body, Dictionary<string, string>? headers = null) =>
        SendStreamingAsync(tenant.Host.Client, tenant.ApiKey, path, body, headers);

    /// <summary>The same through any host's client, with the project key <paramref name="apiKey"/>.</summary>
    public static async Task<HttpResponseMessage> SendStreamingAsync(HttpClient client, string apiKey, string path, object body, Dictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent(body is string raw ? raw : System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Reads events as they arrive.</summary>
    public static async IAsyncEnumerable<SseEvent> ReadEventsAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? name = null;
        StringBuilder? data = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                if (name is not null || data is not null)
                {
                    yield return new SseEvent(name, data?.ToString() ?? string.Empty);
                }

                (name, data) = (null, null);
                continue;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
            if (field == "event")
            {
                name = value;
            }
            else if (field == "data")
            {
                data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value);
            }
        }
    }

    public static async Task<List<SseEvent>> ReadAllAsync(HttpResponseMessage response)
    {
        var events = new List<SseEvent>();
        await foreach (var e in ReadEventsAsync(await response.Content.ReadAsStreamAsync()))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>Waits for the trace of <paramref name="requestId"/> (a stream's trace is written when it ends).</summary>
    public static async Task<JsonObject> WaitForTraceAsync(Tenant tenant, string requestId, Func<JsonObject, bool>? until = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var response = await tenant.SendAsync(HttpMethod.Get, "v1/requests/" + requestId);
            if ((int)response.StatusCode == 200)
            {
                var trace = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
                if (until is null || until(trace))
                {
                    return trace;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"No trace {requestId} (in the expected state) within 15 s.");
            }

            await Task.Delay(50);
        }
    }

    public static string RequestId(HttpResponseMessage response) => response.Headers.GetValues("x-request-id").Single();

    /// <summary>The text the OpenAI chunks carry.</summary>
    public static string OpenAIText(IEnumerable<SseEvent> events) => string.Concat(events
        .Where(e => e.Name is null && e.Data.StartsWith('{'))
        .SelectMany(e => e.Json["choices"]?.AsArray() ?? [])
        .Select(c => c!["delta"]?["content"]?.GetValue<string>() ?? string.Empty));
}
