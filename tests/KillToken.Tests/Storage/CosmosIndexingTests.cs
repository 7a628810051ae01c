using System.Text.RegularExpressions;
using KillToken.Storage.Cosmos;

namespace KillToken.Tests.Storage;

/// <summary>
/// The containers index only what the store's queries filter or order on, and Azure (infra/app/cosmos.bicep, deployed by
/// ARM) gets the same paths as the emulator (created by the store): a path missing in one would make that query scan.
/// </summary>
[TestClass]
public sealed partial class CosmosIndexingTests
{
    [TestMethod]
    public void TheIndexedPaths_AreTheSameInCodeAndInInfra()
    {
        var bicep = File.ReadAllText(Path.Combine(RepositoryRoot(), "infra", "app", "cosmos.bicep"));
        foreach (var (container, paths) in new[] { ("workspaces", CosmosIndexing.Workspaces), ("lookups", CosmosIndexing.Lookups), ("traces", CosmosIndexing.Traces) })
        {
            var declared = ContainerPaths().Matches(bicep).Single(m => m.Groups["name"].Value == container).Groups["paths"].Value;
            var inInfra = Regex.Matches(declared, "'([^']+)'").Select(m => m.Groups[1].Value).ToList();
            CollectionAssert.AreEqual(paths, inInfra, container);
        }

        StringAssert.Contains(bicep, "path: '/*'", "everything else is excluded");
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, "infra")) && Directory.Exists(Path.Combine(directory.FullName, "src")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("No repository root above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"name: '(?<name>\w+)'[^\]]*?includedPaths: \[(?<paths>[^\]]*)\]", RegexOptions.Singleline)]
    private static partial Regex ContainerPaths();
}
