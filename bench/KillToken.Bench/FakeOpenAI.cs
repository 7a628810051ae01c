using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Bench;

/// <summary>
/// An OpenAI-shaped upstream on 127.0.0.1:0: <c>POST /v1/chat/completions</c> drains the body and answers the
/// "Create chat completion" example (same shape as tests' <c>Fixtures.OpenAIChatCompletion</c>) at once.
/// No routing, no logging, a pre-encoded body: as close to zero cost as Kestrel allows, so what is left is the gateway.
/// </summary>
internal sealed class FakeOpenAI : IAsyncDisposable
{
    public const string ChatPath = "/v1/chat/completions";

    /// <summary>The fixture, byte for byte what <c>Fixtures.OpenAIChatCompletion()</c> serializes to.</summary>
    public static readonly byte[] ChatCompletion = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}""");

    private readonly WebApplication _app;
    private long _chatCalls;

    private FakeOpenAI(WebApplication app) => _app = app;

    /// <summary>http://127.0.0.1:port (no trailing slash).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>How many chat completions it has answered (to prove the gateway really called it every time).</summary>
    public long ChatCalls => Interlocked.Read(ref _chatCalls);

    public static async Task<FakeOpenAI> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var self = new FakeOpenAI(app);
        app.Run(self.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self.BaseAddress = new Uri(address.TrimEnd('/'));
        return self;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.Path != ChatPath)
        {
            context.Response.StatusCode = 404;
            return;
        }

        // Read the body like a real server would; only whether it asks for a stream (and for its usage) matters.
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        bool stream, includeUsage;
        try
        {
            var length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted)) > 0)
            {
                length = Math.Min(length + read, buffer.Length - 1);
            }

            var received = buffer.AsSpan(0, length);
            stream = received.IndexOf("\"stream\":true"u8) >= 0;
            includeUsage = received.IndexOf("\"include_usage\":true"u8) >= 0;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Interlocked.Increment(ref _chatCalls);
        if (stream)
        {
            await StreamAsync(context, includeUsage);
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = ChatCompletion.Length;
        await context.Response.Body.WriteAsync(ChatCompletion, context.RequestAborted);
    }

    /// <summary>
    /// The "Create chat completion" streaming example's shape: a role chunk, content chunks, a finish chunk, the usage
    /// chunk when <c>stream_options.include_usage</c> asked for it, then <c>[DONE]</c> — each event flushed on its own.
    /// </summary>
    private static async Task StreamAsync(HttpContext context, bool includeUsage)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        foreach (var chunk in includeUsage ? StreamEvents : StreamEventsWithoutUsage)
        {
            await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private static readonly byte[][] StreamEvents = BuildStreamEvents(includeUsage: true);
    private static readonly byte[][] StreamEventsWithoutUsage = BuildStreamEvents(includeUsage: false);

    private static byte[][] BuildStreamEvents(bool includeUsage)
    {
        const string Head = """{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","system_fingerprint":"fp_fc9f1d7035","choices":""";
        var events = new List<string>
        {
            Head + """[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{"content":"Hello!"},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{"content":" How can I"},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{"content":" assist you today?"},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}""",
        };
        if (includeUsage)
        {
            events.Add(Head + """[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}""");
        }

        return [.. events.Select(e => Encoding.UTF8.GetBytes("data: " + e + "\n\n")), Encoding.UTF8.GetBytes("data: [DONE]\n\n")];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
