namespace KillToken.Api.Hosting;

/// <summary>
/// Where traces and metrics go: OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, Application Insights when
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is, both when both are, nowhere otherwise (then no OpenTelemetry SDK is
/// registered at all, and the gateway's spans and instruments cost a listener check).
/// </summary>
public sealed record TelemetryExport
{
    public static TelemetryExport None { get; } = new();

    public Uri? OtlpEndpoint { get; init; }

    /// <summary><c>OTEL_EXPORTER_OTLP_PROTOCOL</c> as set (<c>grpc</c>, the SDK's default, or <c>http/protobuf</c>).</summary>
    public string? OtlpProtocol { get; init; }

    public string? ApplicationInsightsConnectionString { get; init; }

    /// <summary>
    /// <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD</c> (main.bicep sets it; the component has local auth
    /// off): telemetry is sent with the app's managed identity, the one named by <c>ClientId=</c> when there is one.
    /// </summary>
    public bool ApplicationInsightsWithEntraId { get; init; }

    public string? ManagedIdentityClientId { get; init; }

    public bool IsExporting => OtlpEndpoint is not null || ApplicationInsightsConnectionString is not null;

    public static TelemetryExport Read(Func<string, string?> setting, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(errors);
        Uri? otlp = null;
        if (NullIfEmpty(setting(SettingNames.OtlpEndpoint)) is { } endpoint)
        {
            if (Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                otlp = uri;
            }
            else
            {
                errors.Add($"{SettingNames.OtlpEndpoint} must be an absolute http(s) URL (http://localhost:4317 for a local collector), or empty.");
            }
        }

        var authentication = Parts(NullIfEmpty(setting(SettingNames.ApplicationInsightsAuthenticationString)));
        return new TelemetryExport
        {
            OtlpEndpoint = otlp,
            OtlpProtocol = NullIfEmpty(setting(SettingNames.OtlpProtocol)),
            ApplicationInsightsConnectionString = NullIfEmpty(setting(SettingNames.ApplicationInsightsConnectionString)),
            ApplicationInsightsWithEntraId = string.Equals(Part(authentication, "Authorization"), "AAD", StringComparison.OrdinalIgnoreCase),
            ManagedIdentityClientId = Part(authentication, "ClientId"),
        };
    }

    /// <summary>For the start-up summary: the endpoints' hosts only — never a connection string's instrumentation key, nor a URL's user info or query.</summary>
    public string Describe()
    {
        if (!IsExporting)
        {
            return $"off (set {SettingNames.OtlpEndpoint} or {SettingNames.ApplicationInsightsConnectionString} to export traces and metrics)";
        }

        var targets = new List<string>();
        if (OtlpEndpoint is { } otlp)
        {
            targets.Add($"OTLP to {otlp.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped)} ({OtlpProtocol ?? "grpc"})");
        }

        if (ApplicationInsightsConnectionString is { } connection)
        {
            var ingestion = Part(Parts(connection), "IngestionEndpoint") is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri)
                ? uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped)
                : "the default ingestion endpoint";
            targets.Add($"Application Insights via {ingestion} ({(ApplicationInsightsWithEntraId ? "Entra ID" : "connection string")})");
        }

        return "traces and metrics to " + string.Join(" and ", targets);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static Dictionary<string, string> Parts(string? text)
    {
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in (text ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                parts[part[..equals].Trim()] = part[(equals + 1)..].Trim();
            }
        }

        return parts;
    }

    private static string? Part(Dictionary<string, string> parts, string name) =>
        parts.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
}
