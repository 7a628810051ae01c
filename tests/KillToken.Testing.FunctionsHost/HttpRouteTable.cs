using KillToken.Testing.FunctionsHost.Rpc;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KillToken.Testing.FunctionsHost;

/// <summary>An HTTP-triggered function's route as the host matches it: template (prefix included) and methods.</summary>
internal sealed class HttpFunctionRoute
{
    private readonly TemplateMatcher _matcher;
    private readonly IDictionary<string, IRouteConstraint> _constraints;
    private readonly HashSet<string>? _methods;

    public HttpFunctionRoute(RpcFunctionMetadata function, RawBinding trigger, string routePrefix)
    {
        Function = function;
        Trigger = trigger;
        // As the worker maps it: no route means the function's name.
        var route = trigger.Route ?? function.Name;
        Template = TemplateParser.Parse(routePrefix.Length == 0 ? route : $"{routePrefix}/{route}");
        _matcher = new TemplateMatcher(Template, new RouteValueDictionary());
        _constraints = Constraints(Template, route);
        _methods = trigger.Methods is { Count: > 0 } methods ? new HashSet<string>(methods, StringComparer.OrdinalIgnoreCase) : null;
    }

    public RpcFunctionMetadata Function { get; }

    public RawBinding Trigger { get; }

    public RouteTemplate Template { get; }

    /// <summary>Lower is more specific: literals before parameters before catch-alls, segment by segment.</summary>
    public decimal Precedence => RoutePrecedence.ComputeInbound(Template);

    public bool TryMatch(string method, PathString path, out RouteValueDictionary values)
    {
        values = [];
        if ((_methods is not null && !_methods.Contains(method)) || !_matcher.TryMatch(path, values))
        {
            return false;
        }

        // As the host's ASP.NET Core routing does: inline constraints ({home:maxlength(0)?}) decide too.
        foreach (var (name, constraint) in _constraints)
        {
            if (!constraint.Match(null, null, name, values, RouteDirection.IncomingRequest))
            {
                return false;
            }
        }

        return true;
    }

    private static IDictionary<string, IRouteConstraint> Constraints(RouteTemplate template, string route)
    {
        var resolver = new DefaultInlineConstraintResolver(Options.Create(new RouteOptions()), new ServiceCollection().BuildServiceProvider());
        var builder = new RouteConstraintBuilder(resolver, route);
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
}

/// <summary>One matched request: the function and the route values the host sends it as trigger metadata.</summary>
internal sealed record HttpRouteMatch(HttpFunctionRoute Route, RouteValueDictionary Values);

/// <summary>
/// The host's route table over the functions' HTTP triggers, most specific first, so the catch-all (<c>{*path}</c>)
/// only gets what no other function's path and method take.
/// </summary>
internal sealed class HttpRouteTable
{
    private readonly IReadOnlyList<HttpFunctionRoute> _routes;

    private HttpRouteTable(IReadOnlyList<HttpFunctionRoute> routes) => _routes = routes;

    public IReadOnlyList<HttpFunctionRoute> Routes => _routes;

    public static HttpRouteTable Build(IEnumerable<RpcFunctionMetadata> functions, string routePrefix)
    {
        var routes = functions
            .Select(f => (Function: f, Trigger: RawBinding.TriggerOf(f)))
            .Where(f => f.Trigger.Type.Equals("httpTrigger", StringComparison.OrdinalIgnoreCase))
            .Select(f => new HttpFunctionRoute(f.Function, f.Trigger, routePrefix))
            .OrderBy(r => r.Precedence)
            .ThenBy(r => r.Template.TemplateText, StringComparer.OrdinalIgnoreCase)
            .ToList();
        return new HttpRouteTable(routes);
    }

    public HttpRouteMatch? Match(string method, PathString path)
    {
        foreach (var route in _routes)
        {
            if (route.TryMatch(method, path, out var values))
            {
                return new HttpRouteMatch(route, values);
            }
        }

        return null;
    }
}
