using KillToken.Api.Hosting;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;

namespace KillToken.Tests.NewUser;

/// <summary>What a person reads when the gateway starts: one block saying what started where, and no secret in it.</summary>
[TestClass]
public sealed class StartupSummaryTests
{
    private const string SmtpPassword = "smtp-password-never-logged-7f3a";
    private const string JwtSecret = "jwt-secret-never-logged-0123456789abcdef";
    private const string UrlPassword = "url-password-never-logged";
    private const string UrlToken = "url-token-never-logged";

    [TestMethod]
    public async Task TheStartedGateway_LogsOneBlock_WithItsUrlStoreVaultOverridesAndMail_AndNoSecret()
    {
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_STORE"] = "sqlite",
            ["KILLTOKEN_OPENAI_BASE_URL"] = $"http://proxy-user:{UrlPassword}@127.0.0.1:9/v1?token={UrlToken}",
            ["SMTP_HOST"] = "mail.example.com",
            ["SMTP_PORT"] = "2525",
            ["SMTP_USER"] = "mailer",
            ["SMTP_PASS"] = SmtpPassword,
            ["KILLTOKEN_JWT_SECRET"] = JwtSecret,
            ["CORS_ORIGIN"] = "https://app.example.com",
        });

        var block = host.Logs.Lines.Single(l => l.Contains("KillToken is ready.", StringComparison.Ordinal));

        StringAssert.Contains(block, host.BaseAddress.ToString().TrimEnd('/'));
        StringAssert.Contains(block, Path.Combine(host.DataDirectory, "killtoken.db"));
        StringAssert.Contains(block, "local AES-256-GCM");
        StringAssert.Contains(block, "KILLTOKEN_OPENAI_BASE_URL=http://127.0.0.1:9/v1");
        StringAssert.Contains(block, "SMTP mail.example.com:2525, STARTTLS required");
        StringAssert.Contains(block, "session signing from KILLTOKEN_JWT_SECRET");
        StringAssert.Contains(block, "/health");
        StringAssert.Contains(block, "CORS for https://app.example.com");
        StringAssert.Contains(block, "dashboard");
        StringAssert.Contains(block, host.BaseAddress.ToString().TrimEnd('/') + "/docs");
        StringAssert.Contains(block, "/openapi/v1.json");
        foreach (var line in host.Logs.Lines)
        {
            foreach (var secret in new[] { SmtpPassword, JwtSecret, UrlPassword, UrlToken })
            {
                Assert.IsFalse(line.Contains(secret, StringComparison.Ordinal), $"a log line holds a secret: {line}");
            }
        }
    }

    [TestMethod]
    public async Task WithoutSmtpOrOverrides_TheBlockSaysMailIsOff_AndProvidersArePublic()
    {
        await using var host = await GatewayHost.StartAsync();

        var block = host.Logs.Lines.Single(l => l.Contains("KillToken is ready.", StringComparison.Ordinal));

        StringAssert.Contains(block, "off (no SMTP_HOST)");
        StringAssert.Contains(block, "no base URL overridden");
        StringAssert.Contains(block, "no CORS (set CORS_ORIGIN or FRONTEND_URL");
    }

    [TestMethod]
    public void OnCosmosDb_TheBlockNamesTheEndpointsDatabaseAndAuditTable_NeverAnAccountKey()
    {
        const string accountKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
        const string tableKey = "dGFibGUta2V5LW5ldmVyLWxvZ2dlZC0wMTIzNDU2Nzg5YWJjZGVm";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_CONNECTION_STRING"] = $"AccountEndpoint=https://killtoken-prod.documents.azure.com:443/;AccountKey={accountKey};",
            ["COSMOS_DATABASE"] = "gateway",
            ["KEYVAULT_URI"] = "https://kt-vault.vault.azure.net/",
            ["AzureWebJobsStorage"] = $"DefaultEndpointsProtocol=https;AccountName=ktprod;AccountKey={tableKey};TableEndpoint=https://ktprod.table.core.windows.net/;",
            ["KILLTOKEN_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
        }).Build();

        var block = StartupSummary.Describe(KillTokenSettings.Read(configuration), configuration, ["https://kt.azurewebsites.net"]);

        StringAssert.Contains(block, "Cosmos DB, https://killtoken-prod.documents.azure.com");
        StringAssert.Contains(block, "database 'gateway'");
        StringAssert.Contains(block, "Azure Key Vault, https://kt-vault.vault.azure.net");
        StringAssert.Contains(block, "Table Storage, https://ktprod.table.core.windows.net, table 'auditevents'");
        Assert.IsFalse(block.Contains(accountKey, StringComparison.Ordinal), block);
        Assert.IsFalse(block.Contains(tableKey, StringComparison.Ordinal), block);
        Assert.IsFalse(block.Contains("AccountKey", StringComparison.OrdinalIgnoreCase), block);
    }

    [TestMethod]
    [DataRow("AzureWebJobsStorage__tableServiceUri", "https://ktprod.table.core.windows.net/", "Table Storage, https://ktprod.table.core.windows.net, table 'auditevents' (managed identity)")]
    [DataRow("AzureWebJobsStorage__accountName", "ktprod", "Table Storage, https://ktprod.table.core.windows.net, table 'auditevents' (managed identity)")]
    [DataRow("AzureWebJobsStorage", "UseDevelopmentStorage=true", "Table Storage, Azurite, http://127.0.0.1:10002/devstoreaccount1")]
    [DataRow("AzureWebJobsStorage", "AccountName=ktprod;AccountKey=c2VjcmV0;EndpointSuffix=core.chinacloudapi.cn", "Table Storage, https://ktprod.table.core.chinacloudapi.cn")]
    public void OnCosmosDb_TheAuditLinesNamesTheTableService(string name, string value, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_ENDPOINT"] = "https://killtoken-prod.documents.azure.com:443/",
            [name] = value,
            ["KILLTOKEN_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
        }).Build();

        var block = StartupSummary.Describe(KillTokenSettings.Read(configuration), configuration, ["https://kt.azurewebsites.net"]);

        StringAssert.Contains(block, expected);
        Assert.IsFalse(block.Contains("c2VjcmV0", StringComparison.Ordinal), block);
    }
}
