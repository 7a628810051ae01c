using System.Text.Json;

namespace KillToken.Testing.FunctionsHost;

/// <summary>The one host.json setting the test host honours: <c>extensions.http.routePrefix</c> (default <c>api</c>).</summary>
internal static class HostJson
{
    private const string DefaultRoutePrefix = "api";

    private static readonly JsonDocumentOptions Options = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    public static string RoutePrefix(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "host.json");
        if (!File.Exists(path))
        {
            return DefaultRoutePrefix;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), Options);
        var http = Json.Property(document.RootElement, "extensions") is { } extensions ? Json.Property(extensions, "http") : null;
        var prefix = http is { } settings ? Json.String(settings, "routePrefix") : null;
        return (prefix ?? DefaultRoutePrefix).Trim('/');
    }
}
