namespace KillToken.Tests.TestInfrastructure;

/// <summary>The checkout the tests run from.</summary>
internal static class Repository
{
    private static readonly Lazy<string> RootFolder = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "KillToken.Functions.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Could not find the repository root (KillToken.Functions.sln) above " + AppContext.BaseDirectory);
    });

    /// <summary>The folder holding KillToken.Functions.sln, walking up from the test binaries.</summary>
    public static string Root => RootFolder.Value;
}
