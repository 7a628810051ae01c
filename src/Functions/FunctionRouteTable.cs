using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace KillToken.Functions;

/// <summary>
/// The HTTP routes and methods of this app's functions, read once from the <c>functions.metadata</c> the worker SDK
/// generates beside the app (the same file the host routes by), so the catch-all can answer a wrong method with 405 and
/// the <c>Allow</c> header, as the self-host's endpoint routing does. Every build and publish writes the file; without
/// it every unmatched request would be a 404.
/// </summary>
public sealed class FunctionRouteTable
{
    private readonly (TemplateMatcher Matcher, string[] Methods)[] _routes;

    public FunctionRouteTable(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "functions.metadata");
        _routes = File.Exists(path) ? Read(File.ReadAllText(path)) : [];
    }

    /// <summary>The methods some function takes on <paramref name="path"/>, in ordinal order as ASP.NET Core's 405 lists them; empty if none.</summary>
    public IReadOnlyList<string> MethodsFor(PathString path) =>
        _routes.Where(route => route.Matcher.TryMatch(path, new RouteValueDictionary()))
            .SelectMany(route => route.Methods)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

    private static (TemplateMatcher, string[])[] Read(string json) =>
        (JsonNode.Parse(json)?.AsArray() ?? [])
            .SelectMany(function => function?["bindings"]?.AsArray() ?? [])
            .Where(binding => binding?["type"]?.GetValue<string>() == "httpTrigger" && binding["route"] is not null)
            .Select(binding => (Route: binding!["route"]!.GetValue<string>(), Methods: binding["methods"]?.AsArray().Select(m => m!.GetValue<string>().ToUpperInvariant()).ToArray() ?? []))
            // The catch-all matches every path; it is where the lookup comes from, not an answer to it.
            .Where(route => !route.Route.StartsWith("{*", StringComparison.Ordinal))
            .Select(route => (new TemplateMatcher(TemplateParser.Parse(route.Route), new RouteValueDictionary()), route.Methods))
            .ToArray();
}
