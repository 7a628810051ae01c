using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KillToken.Functions;

/// <summary>
/// The HTTP routes and methods of this app's functions, read once from the <c>functions.metadata</c> the worker SDK
/// generates beside the app (the same file the host routes by), so the catch-all can answer a wrong method with 405 and
/// the <c>Allow</c> header, as the self-host's endpoint routing does. Every build and publish writes the file; without
/// it every unmatched request would be a 404.
/// </summary>
public sealed class FunctionRouteTable
{
    private readonly (TemplateMatcher Matcher, IDictionary<string, IRouteConstraint> Constraints, string[] Methods)[] _routes;

    public FunctionRouteTable(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "functions.metadata");
        _routes = File.Exists(path) ? Read(File.ReadAllText(path)) : [];
    }

    /// <summary>The methods some function takes on <paramref name="path"/>, in ordinal order as ASP.NET Core's 405 lists them; empty if none.</summary>
    public IReadOnlyList<string> MethodsFor(PathString path) =>
        _routes.Where(route => Matches(route.Matcher, route.Constraints, path))
            .SelectMany(route => route.Methods)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The path fits the template and its inline constraints (<c>{home:maxlength(0)?}</c> takes "/" only), as the host routes.</summary>
    private static bool Matches(TemplateMatcher matcher, IDictionary<string, IRouteConstraint> constraints, PathString path)
    {
        var values = new RouteValueDictionary();
        return matcher.TryMatch(path, values)
            && constraints.All(c => c.Value.Match(null, null, c.Key, values, RouteDirection.IncomingRequest));
    }

    private static IDictionary<string, IRouteConstraint> ConstraintsOf(RouteTemplate template)
    {
        var builder = new RouteConstraintBuilder(ConstraintResolver, template.TemplateText ?? string.Empty);
        foreach (var parameter in template.Parameters)
        {
            foreach (var constraint in parameter.InlineConstraints)
            {
                builder.AddResolvedConstraint(parameter.Name!, constraint.Constraint);
            }

            if (parameter.IsOptional)
            {
                builder.SetOptional(parameter.Name!);
            }
        }

        return builder.Build();
    }

    private static readonly DefaultInlineConstraintResolver ConstraintResolver =
        new(Options.Create(new RouteOptions()), new ServiceCollection().BuildServiceProvider());

    private static (TemplateMatcher, IDictionary<string, IRouteConstraint>, string[])[] Read(string json) =>
        (JsonNode.Parse(json)?.AsArray() ?? [])
            .SelectMany(function => function?["bindings"]?.AsArray() ?? [])
            .Where(binding => binding?["type"]?.GetValue<string>() == "httpTrigger" && binding["route"] is not null)
            .Select(binding => (Route: binding!["route"]!.GetValue<string>(), Methods: binding["methods"]?.AsArray().Select(m => m!.GetValue<string>().ToUpperInvariant()).ToArray() ?? []))
            // The catch-all matches every path; it is where the lookup comes from, not an answer to it.
            .Where(route => !route.Route.StartsWith("{*", StringComparison.Ordinal))
            .Select(route => (Template: TemplateParser.Parse(route.Route), route.Methods))
            .Select(route => (new TemplateMatcher(route.Template, new RouteValueDictionary()), ConstraintsOf(route.Template), route.Methods))
            .ToArray();
}
