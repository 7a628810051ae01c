using KillToken.Api.Hosting;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;

namespace KillToken.Functions;

/// <summary>
/// The Azure Functions isolated worker with ASP.NET Core integration: what users deploy.
/// Same registrations as the self-host (<see cref="KillTokenServiceCollectionExtensions.AddKillToken"/>), same
/// handlers; the functions in this folder only bind each route to its handler.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();

        builder.Services.AddKillToken(builder.Configuration);
        // As in the self-host: bodies are limited by KILLTOKEN_MAX_BODY_BYTES with the contract's 413, so the worker's
        // Kestrel (default 30 MB) stays at that setting's maximum (64 MB). The client's connection — header limits, slow
        // clients, idle timeouts — is the platform's front ends' and the Functions host's: the worker only talks to the host.
        builder.Services.Configure<KestrelServerOptions>(kestrel => ConnectionLimits.ApplyBodySizeTo(kestrel.Limits));
        // With an exporter on (AddKillToken wires it), the worker's own OpenTelemetry defaults too: the Functions resource
        // (service.name = the site, cloud.*), the worker's invocation spans, and telling the host the worker sends its own.
        if (TelemetryExport.Read(name => builder.Configuration[name], []).IsExporting)
        {
            builder.Services.AddOpenTelemetry().UseFunctionsWorkerDefaults();
        }

        // Read on the first unmatched request, not at start-up.
        builder.Services.AddSingleton(_ => new FunctionRouteTable(AppContext.BaseDirectory));

        // The integration offers no hook for ASP.NET Core middleware in the worker's request pipeline, so the self-host's
        // UnhandledErrorMiddleware runs as worker middleware instead. Registered after ConfigureFunctionsWebApplication,
        // so it runs inside the integration's proxying middleware, where the HttpContext is already attached.
        builder.UseMiddleware<HttpErrorWorkerMiddleware>();

        var host = builder.Build();
        var settings = host.Services.GetRequiredService<KillTokenSettings>();
        StartupLog.Ready(
            host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("KillToken"),
            StartupSummary.Describe(settings, builder.Configuration, SiteUrls(), ownsConnections: false));
        host.Run();
    }

    /// <summary>The host sets WEBSITE_HOSTNAME in Azure (and <c>func start</c> to localhost:7071); the worker has no listener of its own to ask.</summary>
    private static List<string> SiteUrls()
    {
        var site = Environment.GetEnvironmentVariable("WEBSITE_HOSTNAME");
        return string.IsNullOrWhiteSpace(site)
            ? []
            : [(site.StartsWith("localhost", StringComparison.OrdinalIgnoreCase) || site.StartsWith("127.", StringComparison.Ordinal) ? "http://" : "https://") + site];
    }
}
