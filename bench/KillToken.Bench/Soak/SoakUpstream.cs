using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Soak;

/// <summary>
/// An OpenAI-shaped upstream on 127.0.0.1:0 that answers like the API reference's examples, and fails on demand: a
/// request whose body holds <see cref="Fail500"/> gets a 500, <see cref="FailCut"/> a stream cut after its first
/// chunks (the connection aborted, no terminator), <see cref="FailLate"/> a stream cut after its usage chunk but before
/// <c>[DONE]</c> (a failure that has a cost), <see cref="FailSlow"/> no answer until the gateway gives up.
/// The marker travels in the prompt, so the soak decides which calls fail and can account for every one of them.
/// Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed class SoakUpstream : IAsyncDisposable
{
    public const string Fail500 = "soak-fail-500";
    public const string FailCut = "soak-fail-cut";
    public const string FailSlow = "soak-fail-slow";
    public const string FailLate = "soak-fail-late";

    private static readonly byte[] Completion = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-soak","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}""");

    private static readonly byte[] ServerError = Encoding.UTF8.GetBytes(
        """{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}""");

    private static readonly byte[][] StreamEvents = BuildStreamEvents();

    private readonly WebApplication _app;
    private readonly TimeSpan _slowFor;
    private long _calls;

    private SoakUpstream(WebApplication app, TimeSpan slowFor)
    {
        _app = app;
        _slowFor = slowFor;
    }

    /// <summary>http://127.0.0.1:port (no trailing slash).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Chat completions received, retries included.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <param name="slowFor">How long a <see cref="FailSlow"/> call waits: longer than the gateway's provider timeout.</param>
    public static async Task<SoakUpstream> StartAsync(TimeSpan slowFor)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var self = new SoakUpstream(app, slowFor);
        app.Run(self.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self.BaseAddress = new Uri(address.TrimEnd('/'));
        return self;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || context.Request.Path != "/v1/chat/completions")
        {
            context.Response.StatusCode = 404;
            return;
        }

        Interlocked.Increment(ref _calls);
        var body = await ReadAsync(context);
        var stream = body.Contains("\"stream\":true", StringComparison.Ordinal);
        if (body.Contains(Fail500, StringComparison.Ordinal))
        {
            context.Response.StatusCode = 500;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(ServerError, context.RequestAborted);
            return;
        }

        if (body.Contains(FailSlow, StringComparison.Ordinal))
        {
            try
            {
                await Task.Delay(_slowFor, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return; // The gateway gave up first, as it should.
            }
        }

        if (!stream)
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Completion.Length;
            await context.Response.Body.WriteAsync(Completion, context.RequestAborted);
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        var cutAt = body.Contains(FailCut, StringComparison.Ordinal) ? 2
            : body.Contains(FailLate, StringComparison.Ordinal) ? StreamEvents.Length - 1
            : -1;
        for (var i = 0; i < StreamEvents.Length; i++)
        {
            if (i == cutAt)
            {
                // A provider that drops the connection mid-answer: no [DONE], and with an early cut no usage either.
                context.Abort();
                return;
            }

            await context.Response.Body.WriteAsync(StreamEvents[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private static async Task<string> ReadAsync(HttpContext context)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var length = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted)) > 0)
            {
                length = Math.Min(length + read, buffer.Length - 1);
            }

            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static byte[][] BuildStreamEvents()
    {
        const string Head = """{"id":"chatcmpl-soak","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","system_fingerprint":"fp_fc9f1d7035","choices":""";
        string[] events =
        [
            Head + """[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{"content":"Hello!"},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{"content":" How can I assist you today?"},"logprobs":null,"finish_reason":null}]}""",
            Head + """[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}""",
            Head + """[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}""",
        ];
        return [.. events.Select(e => Encoding.UTF8.GetBytes("data: " + e + "\n\n")), Encoding.UTF8.GetBytes("data: [DONE]\n\n")];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
