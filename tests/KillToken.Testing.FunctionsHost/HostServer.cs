using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// The in-process Kestrel of the test host, on two loopback ports: HTTP/2 without TLS (h2c) for the worker's gRPC
/// stream, as the Functions host serves it, and HTTP/1.1 for the front door the tests call.
/// </summary>
internal sealed class HostServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HostServer(WebApplication app, Uri grpcUri, Uri frontDoorUri)
    {
        _app = app;
        GrpcUri = grpcUri;
        FrontDoorUri = frontDoorUri;
    }

    public Uri GrpcUri { get; }

    public Uri FrontDoorUri { get; }

    public static async Task<HostServer> StartAsync(WorkerChannel channel, RequestDelegate frontDoor, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(5));
        // No size limit on either side: the worker's metadata and a test's bodies are what they are.
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = null;
            options.MaxSendMessageSize = null;
        });
        builder.Services.AddSingleton(channel);

        ListenOptions? grpc = null;
        ListenOptions? front = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                grpc = listen;
            });
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                front = listen;
            });
        });

        var app = builder.Build();
        var frontDoorPort = -1;
        app.Use(next => context => context.Connection.LocalPort == frontDoorPort ? frontDoor(context) : next(context));
        app.MapGrpcService<FunctionRpcService>();
        await app.StartAsync(ct);

        // Kestrel writes the bound port back into each endpoint's options.
        frontDoorPort = front!.IPEndPoint!.Port;
        return new HostServer(app, new Uri($"http://127.0.0.1:{grpc!.IPEndPoint!.Port}/"), new Uri($"http://127.0.0.1:{frontDoorPort}/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
