using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Functions;

/// <summary>
/// The two hosts' route tables as built: the functions.metadata the worker SDK generated (what the Functions host routes
/// by) against the self-host's real endpoints. A route one host serves and the other does not, a different verb, or a
/// function parameter that the host cannot bind by name fails here.
/// </summary>
[TestClass]
public sealed partial class FunctionsRouteTableTests
{
    private const string CatchAllFunction = "Unmatched";

    [TestMethod]
    public async Task EveryRouteAndMethod_IsServedByBothHosts()
    {
        await using var selfHost = await GatewayHost.StartAsync();
        var selfHostRoutes = selfHost.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(method => $"{method} {endpoint.RoutePattern.RawText}"))
            .ToHashSet(StringComparer.Ordinal);
        var functionRoutes = FunctionsWorkerBuild.Functions().Where(f => f.Route is not null && f.Name != CatchAllFunction)
            .SelectMany(f => f.Methods.Select(method => $"{method} {f.Route}"))
            .ToHashSet(StringComparer.Ordinal);

        Assert.IsGreaterThan(40, selfHostRoutes.Count, "the self-host's endpoints were not read");
        CollectionAssert.AreEquivalent(selfHostRoutes.Order().ToList(), functionRoutes.Order().ToList(),
            "self-host only: " + string.Join(", ", selfHostRoutes.Except(functionRoutes))
            + "; Functions only: " + string.Join(", ", functionRoutes.Except(selfHostRoutes)));
    }

    [TestMethod]
    public void TheCatchAllFunction_AnswersEveryMethodOnEveryOtherPath()
    {
        var unmatched = FunctionsWorkerBuild.Functions().Single(f => f.Name == CatchAllFunction);
        Assert.AreEqual("{*path}", unmatched.Route);
        CollectionAssert.IsSubsetOf(new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" }, unmatched.Methods.ToList());
    }

    /// <summary>
    /// The host binds route values to parameters by name from the invocation's trigger metadata, not from the URL: a
    /// parameter named differently from its route token is null inside the function (seen as a 500 from the store).
    /// </summary>
    [TestMethod]
    public void EveryRouteToken_HasAParameterOfTheSameName()
    {
        var parameters = ParameterNames(Path.Combine(FunctionsWorkerBuild.Directory, "KillToken.Functions.dll"));
        var mismatches = new List<string>();
        var checkedTokens = 0;
        foreach (var function in FunctionsWorkerBuild.Functions().Where(f => f.Route is not null && f.Name != CatchAllFunction))
        {
            Assert.IsTrue(parameters.TryGetValue(function.EntryPoint, out var names), $"{function.EntryPoint} is not in KillToken.Functions.dll");
            foreach (Match token in RouteToken().Matches(function.Route!))
            {
                checkedTokens++;
                if (!names.Contains(token.Groups["name"].Value, StringComparer.Ordinal))
                {
                    mismatches.Add($"{function.Name}: route {{{token.Groups["name"].Value}}} has no parameter of that name ({string.Join(", ", names)})");
                }
            }
        }

        Assert.IsGreaterThan(20, checkedTokens, "the route tokens were not read");
        Assert.IsEmpty(mismatches, string.Join("\n", mismatches));
    }

    [TestMethod]
    public void TheDailyClose_IsATimerAtUtcMidnight()
    {
        var close = FunctionsWorkerBuild.Functions().Single(f => f.Name == "DailyClose");
        var trigger = close.Bindings.Single(b => b["type"]?.GetValue<string>() == "timerTrigger");
        Assert.AreEqual("0 0 0 * * *", trigger["schedule"]!.GetValue<string>());
    }

    /// <summary>What the Functions host reads from the app folder: routes with no prefix, the worker's start command.</summary>
    [TestMethod]
    public void TheAppFolder_HoldsWhatTheHostReads()
    {
        var folder = FunctionsWorkerBuild.Directory;
        var host = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "host.json")))!;
        Assert.AreEqual("", host["extensions"]?["http"]?["routePrefix"]?.GetValue<string>(), "host.json beside the app keeps the routes unprefixed");
        var worker = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "worker.config.json")))!;
        Assert.AreEqual("KillToken.Functions.dll", worker["description"]?["defaultWorkerPath"]?.GetValue<string>());
        // The host loads the worker's metadata through the startup extension the SDK puts in .azurefunctions/.
        var extensions = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "extensions.json")))!["extensions"]!.AsArray();
        foreach (var extension in extensions)
        {
            var hint = extension!["hintPath"]!.GetValue<string>();
            Assert.IsTrue(File.Exists(Path.Combine(folder, hint)), $"extensions.json names {hint}, which is not in the folder");
        }

        Assert.IsNotEmpty(extensions);
        if (FunctionsWorkerBuild.IsPublished)
        {
            Assert.IsFalse(File.Exists(Path.Combine(folder, "local.settings.json")), "local settings are never published");
        }
        else
        {
            Assert.IsTrue(File.Exists(Path.Combine(folder, "local.settings.json")), "the build carries local settings, so `func start` runs unchanged");
        }
    }

    /// <summary>"Namespace.Type.Method" → its parameter names, read from the assembly's metadata without loading it.</summary>
    private static Dictionary<string, string[]> ParameterNames(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            var typeName = $"{metadata.GetString(type.Namespace)}.{metadata.GetString(type.Name)}";
            foreach (var methodHandle in type.GetMethods())
            {
                var method = metadata.GetMethodDefinition(methodHandle);
                var names = method.GetParameters()
                    .Select(p => metadata.GetParameter(p))
                    .Where(p => p.SequenceNumber > 0) // 0 is the return value
                    .Select(p => metadata.GetString(p.Name))
                    .ToArray();
                result[$"{typeName}.{metadata.GetString(method.Name)}"] = names;
            }
        }

        return result;
    }

    [GeneratedRegex(@"\{\*?(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")]
    private static partial Regex RouteToken();
}
