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

        // Read the body like a real server would, without keeping it.
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Interlocked.Increment(ref _chatCalls);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = ChatCompletion.Length;
        await context.Response.Body.WriteAsync(ChatCompletion, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
