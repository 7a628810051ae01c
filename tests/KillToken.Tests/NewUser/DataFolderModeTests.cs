using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.NewUser;

/// <summary>The data folder holds the store, the vault and the server keys: folder 700, every file in it 600.</summary>
[TestClass]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFolderModeTests
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [TestMethod]
    public async Task AFreshDataFolder_Is700_AndEveryFileInIt600_IncludingTheDatabasesWalAndShm()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"), "data");
        await using (var host = await GatewayHost.StartAsync(Settings(dataDirectory, openai)))
        {
            // A call writes to the store (trace, rollups), so the WAL and its index exist while the host runs.
            var tenant = await host.CreateTenantAsync();
            await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } }), 200);
            AssertOwnerOnly(dataDirectory, expectDatabase: true);
        }
    }

    [TestMethod]
    public async Task FilesAnOlderVersionCreated644_AreNarrowedTo600_WhenTheGatewayOpensThem()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"), "data");
        await using (var first = await GatewayHost.StartAsync(Settings(dataDirectory, openai)))
        {
            await first.CreateTenantAsync();
        }

        foreach (var file in Directory.GetFiles(dataDirectory))
        {
            File.SetUnixFileMode(file, OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        await using var second = await GatewayHost.StartAsync(Settings(dataDirectory, openai));
        await second.CreateTenantAsync();
        AssertOwnerOnly(dataDirectory, expectDatabase: true);
    }

    private static Dictionary<string, string?> Settings(string dataDirectory, FakeUpstream openai) => new()
    {
        ["KILLTOKEN_DATA_DIR"] = dataDirectory,
        ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
    };

    private static void AssertOwnerOnly(string dataDirectory, bool expectDatabase)
    {
        Assert.AreEqual(OwnerOnlyFolder, File.GetUnixFileMode(dataDirectory), "the data folder");
        var files = Directory.GetFiles(dataDirectory);
        foreach (var file in files)
        {
            Assert.AreEqual(OwnerOnlyFile, File.GetUnixFileMode(file), Path.GetFileName(file));
        }

        var names = files.Select(Path.GetFileName).ToList();
        CollectionAssert.Contains(names, "jwt.key");
        CollectionAssert.Contains(names, "pepper.key");
        if (expectDatabase && Environment.GetEnvironmentVariable(GatewayHost.TestStoreVariable) != "cosmos")
        {
            CollectionAssert.Contains(names, "killtoken.db");
            CollectionAssert.Contains(names, "killtoken.db-wal");
            CollectionAssert.Contains(names, "killtoken.db-shm");
            CollectionAssert.Contains(names, "encryption.key");
        }
    }
}
