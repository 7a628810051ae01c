using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Storage.Cosmos;
using KillToken.Storage.KeyVault;
using KillToken.Storage.LocalVault;
using KillToken.Storage.Tables;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// How the app picks its store and vault from settings, and the guard rails around the emulator shortcut: no I/O
/// happens here (clients are built, never used).
/// </summary>
[TestClass]
public sealed class CloudStoreSelectionTests
{
    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Directories = [];
    private const string Key = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

    [ClassCleanup]
    public static void RemoveDataFolders()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var directory in Directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [TestMethod]
    [DataRow("AccountEndpoint=https://127.0.0.1:8081/;AccountKey=" + Key + ";", true)]
    [DataRow("AccountEndpoint=https://localhost:8081/;AccountKey=" + Key + ";", true)]
    [DataRow("AccountEndpoint=https://[::1]:8081/;AccountKey=" + Key + ";", true)]
    [DataRow("AccountEndpoint=https://kt-prod.documents.azure.com:443/;AccountKey=" + Key + ";", false)]
    [DataRow("AccountEndpoint=https://localhost.evil.example/;AccountKey=" + Key + ";", false)]
    [DataRow("AccountEndpoint=https://127.0.0.1.nip.io/;AccountKey=" + Key + ";", false)]
    [DataRow("AccountKey=" + Key + ";", false)]
    public void OnlyALoopbackConnectionStringCountsAsTheLocalEmulator(string connectionString, bool local)
    {
        Assert.AreEqual(local, CosmosStoreOptions.IsLocalEmulator(connectionString));
    }

    [TestMethod]
    public void RelaxedCertificateChecks_AreRefusedForAnythingButLoopback()
    {
        var remote = new CosmosStoreOptions
        {
            ConnectionString = "AccountEndpoint=https://kt-prod.documents.azure.com:443/;AccountKey=" + Key + ";",
            AcceptLocalEmulatorCertificate = true,
        };

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => new ServiceCollection().AddKillTokenCosmosStore(remote));
        Assert.IsFalse(error.Message.Contains(Key, StringComparison.Ordinal));
    }

    [TestMethod]
    public void AMalformedConnectionString_IsReportedWithoutTheKey()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => CosmosStoreOptions.IsLocalEmulator("AccountKey=" + Key + ";=broken;;\"x"));
        Assert.IsFalse(error.Message.Contains(Key, StringComparison.Ordinal));
    }

    [TestMethod]
    public void Settings_CosmosEndpointWithKeyVault_SelectsCosmosAndKeyVault()
    {
        using var services = Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://kt-test.documents.azure.com:443/",
            ["KEYVAULT_URI"] = "https://kt-test.vault.azure.net/",
            ["AzureWebJobsStorage__accountName"] = "kttest",
        });

        Assert.IsInstanceOfType<KeyVaultSecretVault>(services.GetRequiredService<ISecretVault>());
        Assert.AreEqual("CosmosUserStore", services.GetRequiredService<IUserStore>().GetType().Name);
        Assert.AreEqual("CosmosTraceStore", ((TracesAfterPendingWrites)services.GetRequiredService<ITraceStore>()).Store.GetType().Name, "traces in Cosmos DB, read after the writes calls left under way");
        var context = services.GetRequiredService<CosmosStoreContext>();
        Assert.AreEqual("killtoken", context.Workspaces.Database.Id);
        Assert.IsNull(context.Client.ClientOptions.ServerCertificateCustomValidationCallback, "Azure keeps full certificate checks");
        Assert.AreEqual(Microsoft.Azure.Cosmos.ConnectionMode.Direct, context.Client.ClientOptions.ConnectionMode);
        Assert.IsInstanceOfType<KeyVaultSecretVault>(RegisteredHealthChecks.Check(services, "vault"), "/ready checks Key Vault");
        Assert.IsNull(services.GetService<LocalSecretVault>(), "no local vault beside Key Vault");
        Assert.IsInstanceOfType<TableAuditLog>(services.GetRequiredService<IAuditLog>(), "the audit log in the host's Table Storage");
        Assert.AreEqual(new Uri("https://kttest.table.core.windows.net/"), services.GetRequiredService<KillToken.Api.Hosting.KillTokenSettings>().TableServiceUri);
    }

    [TestMethod]
    public void Settings_OnCosmos_TheAuditLogTakesTheHostsTableServiceUri_AsTheHostReadsItFromTheEnvironment()
    {
        // An app setting AzureWebJobsStorage__tableServiceUri reaches configuration as AzureWebJobsStorage:tableServiceUri.
        using var services = Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://kt-test.documents.azure.com:443/",
            ["AzureWebJobsStorage:tableServiceUri"] = "https://ktsovereign.table.core.chinacloudapi.cn/",
            ["AzureWebJobsStorage:accountName"] = "ignoredwhenaurlisgiven",
        });

        Assert.IsInstanceOfType<TableAuditLog>(services.GetRequiredService<IAuditLog>());
        Assert.AreEqual(new Uri("https://ktsovereign.table.core.chinacloudapi.cn/"), services.GetRequiredService<KillToken.Api.Hosting.KillTokenSettings>().TableServiceUri);
    }

    [TestMethod]
    public void Settings_OnCosmosWithoutTheHostsStorage_FailToStart_NamingTheSettings()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://kt-test.documents.azure.com:443/",
            ["AzureWebJobsStorage"] = " ",
        }));

        StringAssert.Contains(error.Message, "AzureWebJobsStorage (a connection string");
        StringAssert.Contains(error.Message, "AzureWebJobsStorage__tableServiceUri");
        StringAssert.Contains(error.Message, "AzureWebJobsStorage__accountName");
    }

    [TestMethod]
    [DataRow("AzureWebJobsStorage__tableServiceUri", "not a url", "AzureWebJobsStorage__tableServiceUri must be an absolute URL")]
    [DataRow("AzureWebJobsStorage__accountName", "Not_An_Account", "AzureWebJobsStorage__accountName must be a storage account name")]
    public void Settings_OnCosmos_AMalformedTableSetting_IsReported(string name, string value, string expected)
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://kt-test.documents.azure.com:443/",
            [name] = value,
        }));

        StringAssert.Contains(error.Message, expected);
        Assert.IsFalse(error.Message.Contains("needs AzureWebJobsStorage", StringComparison.Ordinal), "one error for one setting: " + error.Message);
    }

    [TestMethod]
    public void Settings_OnCosmos_AConnectionStringThatIsNotOne_IsReportedWithoutTheKey()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://kt-test.documents.azure.com:443/",
            ["AzureWebJobsStorage"] = "AccountKey=" + Key + ";nonsense",
        }));

        StringAssert.Contains(error.Message, "AzureWebJobsStorage is not a storage connection string");
        Assert.IsFalse(error.Message.Contains(Key, StringComparison.Ordinal), error.Message);
    }

    [TestMethod]
    public void Settings_OnSqlite_TheHostsStorageIsLeftToTheHost_AndTheAuditLogIsInTheFile()
    {
        using var services = Build(new()
        {
            ["KILLTOKEN_STORE"] = "sqlite",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            ["AzureWebJobsStorage__tableServiceUri"] = "not even a url",
        });

        Assert.AreEqual("SqliteAuditLog", services.GetRequiredService<IAuditLog>().GetType().Name);
    }

    [TestMethod]
    public void Settings_EmulatorConnectionString_RelaxesCertificatesOnlyOnLoopback()
    {
        using (var local = Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_CONNECTION_STRING"] = "AccountEndpoint=https://127.0.0.1:8081/;AccountKey=" + Key + ";",
            ["COSMOS_DATABASE"] = "kt-local",
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
        }))
        {
            var context = local.GetRequiredService<CosmosStoreContext>();
            Assert.AreEqual("kt-local", context.Traces.Database.Id);
            Assert.IsNotNull(context.Client.ClientOptions.ServerCertificateCustomValidationCallback);
            Assert.IsInstanceOfType<LocalSecretVault>(local.GetRequiredService<ISecretVault>(), "no KEYVAULT_URI: the local vault");
        }

        using var remote = Build(new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_CONNECTION_STRING"] = "AccountEndpoint=https://kt-test.documents.azure.com:443/;AccountKey=" + Key + ";",
            ["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=https;AccountName=kttest;AccountKey=" + Key + ";EndpointSuffix=core.windows.net",
        });
        Assert.IsNull(remote.GetRequiredService<CosmosStoreContext>().Client.ClientOptions.ServerCertificateCustomValidationCallback);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "killtoken-tests", "select-" + Guid.NewGuid().ToString("N"));
        // AddKillTokenLocalVault alone does not create the folder (reported); the SQLite store would.
        Directory.CreateDirectory(dataDirectory);
        Directories.Add(dataDirectory);
        settings["KILLTOKEN_DATA_DIR"] = dataDirectory;
        settings["KILLTOKEN_JWT_SECRET"] = new string('j', 40);
        settings["KILLTOKEN_KEY_PEPPER"] = new string('p', 40);
        settings["KILLTOKEN_ENCRYPTION_KEY"] = new string('a', 64);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddKillToken(configuration);
        return services.BuildServiceProvider();
    }
}
