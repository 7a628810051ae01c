namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The settings that run the real gateway on KILLTOKEN_STORE=cosmos against a database of the test emulator, with its
/// audit log in Azurite's Table service.
/// </summary>
internal static class CosmosGatewaySettings
{
    /// <param name="openai">The fake OpenAI upstream (its <c>/v1</c> becomes the OpenAI base URL).</param>
    /// <param name="extra">More settings, overriding these.</param>
    public static Dictionary<string, string?> For(CosmosEmulator emulator, string database, FakeUpstream openai, params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            ["COSMOS_CONNECTION_STRING"] = emulator.ConnectionString,
            ["COSMOS_DATABASE"] = database,
            ["COSMOS_ENDPOINT"] = null,
            ["AzureWebJobsStorage"] = AzuriteEmulator.Shared.ConnectionString,
            ["KEYVAULT_URI"] = null,
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }
}
