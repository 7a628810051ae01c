using System.Diagnostics;
using System.Diagnostics.Metrics;
using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using KillToken.Api.Hosting;
using KillToken.Core.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// The gateway's spans and metrics (<see cref="KillTokenTelemetry"/>), and — only when an exporter is configured — the
/// OpenTelemetry SDK that exports them with the host's HTTP server and client spans: OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the SDK reads the rest of the <c>OTEL_*</c> settings itself), Application
/// Insights through the Azure Monitor exporter when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is. Without one no SDK
/// is registered, so nothing listens and every span and instrument stays a listener check.
/// </summary>
public static class KillTokenTelemetryServiceCollectionExtensions
{
    public const string ServiceName = "killtoken";

    public static IServiceCollection AddKillTokenTelemetry(this IServiceCollection services, TelemetryExport export)
    {
        ArgumentNullException.ThrowIfNull(export);
        services.TryAddSingleton(sp => new KillTokenTelemetry(sp.GetService<IMeterFactory>()));
        if (!export.IsExporting)
        {
            return services;
        }

        var otel = services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME wins when set; the Functions worker's resource detector names the site.
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: typeof(KillTokenTelemetry).Assembly.GetName().Version?.ToString()))
            .WithTracing(tracing => tracing.AddKillTokenInstrumentation())
            .WithMetrics(metrics => metrics.AddKillTokenMeters());
        if (export.OtlpEndpoint is not null)
        {
            otel.WithTracing(tracing => tracing.AddOtlpExporter()).WithMetrics(metrics => metrics.AddOtlpExporter());
        }

        if (export.ApplicationInsightsConnectionString is { } connectionString)
        {
            // Traces and metrics only: the Functions host already sends the worker's logs to Application Insights.
            var credential = export.ApplicationInsightsWithEntraId ? EntraCredential(export) : null;
            otel.WithTracing(tracing => tracing.AddAzureMonitorTraceExporter(options => options.ConnectionString = connectionString, credential))
                .WithMetrics(metrics => metrics.AddAzureMonitorMetricExporter(options => options.ConnectionString = connectionString, credential));
        }

        return services;
    }

    /// <summary>
    /// The gateway's source, and ASP.NET Core's and HttpClient's spans with nothing secret in them: no query strings (a
    /// Gemini SDK may put a key in <c>?key=</c>), no headers (none are recorded by default), invite tokens cut out of paths.
    /// </summary>
    public static TracerProviderBuilder AddKillTokenInstrumentation(this TracerProviderBuilder tracing)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        return tracing
            .AddSource(KillTokenTelemetry.Name)
            .AddAspNetCoreInstrumentation(options =>
            {
                // Both hooks: the path is set when the span starts and the route when it stops.
                options.EnrichWithHttpRequest = (activity, request) => TelemetryRedaction.RedactServerSpan(activity, request.Path);
                options.EnrichWithHttpResponse = (activity, response) => TelemetryRedaction.RedactServerSpan(activity, response.HttpContext.Request.Path);
            })
            .AddHttpClientInstrumentation(options =>
            {
                options.EnrichWithHttpRequestMessage = (activity, _) => TelemetryRedaction.RedactClientSpan(activity);
                options.EnrichWithHttpResponseMessage = (activity, _) => TelemetryRedaction.RedactClientSpan(activity);
            });
    }

    /// <summary>The gateway's meter (GenAI client metrics, cost, requests) and the HTTP server and client metrics.</summary>
    public static MeterProviderBuilder AddKillTokenMeters(this MeterProviderBuilder metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return metrics
            .AddMeter(KillTokenTelemetry.Name)
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation();
    }

    private static TokenCredential EntraCredential(TelemetryExport export) =>
        new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = export.ManagedIdentityClientId });
}

/// <summary>Takes what could carry a secret out of the HTTP spans the OpenTelemetry instrumentations record.</summary>
internal static class TelemetryRedaction
{
    public const string TokenPlaceholder = "{token}";

    // Invite links carry the invite's secret token as a path segment: the API's and the dashboard's.
    private static readonly string[] TokenPrefixes = ["/" + Routes.InviteByToken.Replace("{token}", string.Empty, StringComparison.Ordinal), "/" + Routes.InvitePage.Replace("{token}", string.Empty, StringComparison.Ordinal)];

    public static void RedactServerSpan(Activity activity, PathString path)
    {
        activity.SetTag("url.query", null);
        if (RedactPath(path.Value) is { } redacted)
        {
            activity.SetTag("url.path", redacted);
            // http.route and the span's name hold the route template ({token}), never the value — unless a host names spans by path.
            if (activity.DisplayName.Contains(path.Value!, StringComparison.Ordinal))
            {
                activity.DisplayName = activity.DisplayName.Replace(path.Value!, redacted, StringComparison.Ordinal);
            }
        }
    }

    /// <summary>An outgoing request's URL without its query, and without an invite token should one ever be in its path.</summary>
    public static void RedactClientSpan(Activity activity)
    {
        if (activity.GetTagItem("url.full") is not string full || !Uri.TryCreate(full, UriKind.Absolute, out var url))
        {
            return;
        }

        var path = url.AbsolutePath;
        var redacted = url.GetLeftPart(UriPartial.Authority) + (RedactPath(path) ?? path);
        if (!string.Equals(redacted, full, StringComparison.Ordinal))
        {
            activity.SetTag("url.full", redacted);
        }
    }

    /// <summary><c>/api/invites/abc123/accept</c> → <c>/api/invites/{token}/accept</c>; null for a path without a token.</summary>
    public static string? RedactPath(string? path)
    {
        if (path is null)
        {
            return null;
        }

        foreach (var prefix in TokenPrefixes)
        {
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && path.Length > prefix.Length)
            {
                var end = path.IndexOf('/', prefix.Length);
                var token = end < 0 ? path[prefix.Length..] : path[prefix.Length..end];
                if (token == TokenPlaceholder)
                {
                    return null; // a route template, already without its value
                }

                return prefix + TokenPlaceholder + (end < 0 ? string.Empty : path[end..]);
            }
        }

        return null;
    }
}
