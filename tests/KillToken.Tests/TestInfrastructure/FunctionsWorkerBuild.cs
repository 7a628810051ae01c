using System.Text.Json.Nodes;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The built Functions app (src/Functions, same configuration as the tests): the folder the Functions host would run,
/// with <c>KillToken.Functions.dll</c> and the <c>functions.metadata</c> the worker SDK generated from the attributes.
/// The test project builds it first (a project reference without its assembly), so it is always current. With
/// <see cref="PublishedAppVariable"/> set (CI's Cosmos DB pass), the tests run the published folder azd deploys instead.
/// </summary>
internal static class FunctionsWorkerBuild
{
    /// <summary>The folder <c>dotnet publish src/Functions</c> wrote, to test the deployable app itself.</summary>
    public const string PublishedAppVariable = "KILLTOKEN_FUNCTIONS_APP_DIR";

    private static readonly Lazy<string> OutputDirectory = new(Locate);

    public static string Directory => OutputDirectory.Value;

    public static bool IsPublished => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PublishedAppVariable));

    public static string MetadataPath => Path.Combine(Directory, "functions.metadata");

    /// <summary>Every function the SDK generated, as the host reads them.</summary>
    public static IReadOnlyList<GeneratedFunction> Functions() =>
        JsonNode.Parse(File.ReadAllText(MetadataPath))!.AsArray()
            .Select(function => new GeneratedFunction(
                function!["name"]!.GetValue<string>(),
                function["entryPoint"]!.GetValue<string>(),
                function["bindings"]!.AsArray().Select(binding => binding!.AsObject()).ToList()))
            .ToList();

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable(PublishedAppVariable) is { Length: > 0 } published)
        {
            Assert.IsTrue(File.Exists(Path.Combine(published, "functions.metadata")), $"{PublishedAppVariable}={published} holds no functions.metadata.");
            return Path.GetFullPath(published);
        }

        // tests/KillToken.Tests/bin/<Configuration>/<tfm>/ → src/Functions/bin/<Configuration>/<tfm>/
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var directory = Path.Combine(Repository.Root, "src", "Functions", "bin", configuration, framework);
        Assert.IsTrue(File.Exists(Path.Combine(directory, "functions.metadata")),
            $"No functions.metadata in {directory}: build the solution (the test project builds src/Functions first).");
        return directory;
    }
}

/// <summary>One entry of functions.metadata.</summary>
internal sealed record GeneratedFunction(string Name, string EntryPoint, IReadOnlyList<JsonObject> Bindings)
{
    public JsonObject? HttpTrigger => Bindings.FirstOrDefault(b => b["type"]?.GetValue<string>() == "httpTrigger");

    public string? Route => HttpTrigger?["route"]?.GetValue<string>();

    public IEnumerable<string> Methods => HttpTrigger?["methods"]?.AsArray().Select(m => m!.GetValue<string>().ToUpperInvariant()) ?? [];
}
