using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace KillToken.SelfHost;

/// <summary>The ASP.NET Core self-host: embedded store, no cloud, on http://localhost:7071 by default.</summary>
public static class Program
{
    public const string DefaultUrl = "http://localhost:7071";

    public static async Task Main(string[] args)
    {
        var app = Build(args);
        await app.RunAsync();
    }

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // One line per request is the trace's job; framework request and HttpClient logs at Information cost 13–17% CPU.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        configure?.Invoke(builder);
        builder.Services.AddKillToken(builder.Configuration);
        // Header size and count, slow headers and bodies, idle connections (from the settings, read once and validated
        // together); bodies are limited by KILLTOKEN_MAX_BODY_BYTES with the contract's 413, Kestrel's own limit above it.
        builder.Services.AddOptions<KestrelServerOptions>()
            .Configure<KillTokenSettings>((kestrel, settings) => settings.Connections.ApplyTo(kestrel.Limits));
        builder.Services.AddHostedService<PeriodCloseService>();
        builder.Services.AddCors();
        builder.Services.AddOptions<CorsOptions>().Configure<KillTokenSettings>((cors, settings) => cors.AddPolicy(CorsOrigins.PolicyName, settings.Cors.ToPolicy()));

        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() => LogSummary(app));
        // CORS first (after routing, which WebApplication puts in front): a preflight is answered here (204) before the
        // status-code pages could turn the route's missing OPTIONS into a 405, and every answer below, error bodies
        // included, carries the allow-origin header a page needs to read it. Without CORS_ORIGIN or FRONTEND_URL the
        // middleware is not added at all: no CORS headers, preflights get the 405 every other unmapped method gets.
        if (app.Services.GetRequiredService<KillTokenSettings>().Cors.IsEnabled)
        {
            app.UseCors(CorsOrigins.PolicyName);
        }

        app.UseKillTokenErrors();
        // 404, 405 and any error status the framework sets itself get the contract's body like every other error.
        app.UseStatusCodePages(context => StatusBodies.WriteAsync(context.HttpContext));
        app.MapKillToken();
        return app;
    }

    /// <summary>One block that says what started, once Kestrel knows its addresses (a port of 0 is chosen by then).</summary>
    private static void LogSummary(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        var summary = StartupSummary.Describe(app.Services.GetRequiredService<KillTokenSettings>(), app.Configuration, addresses, ownsConnections: true);
        StartupLog.Ready(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("KillToken"), summary);
    }
}
