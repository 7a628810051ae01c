using System.Diagnostics;
using System.Globalization;

namespace KillToken.Bench;

/// <summary>
/// The emulators a Cosmos soak needs, started the way the tests start them (tests/…/CosmosEmulator.cs and
/// AzuriteEmulator.cs): the npm Cosmos DB emulator (tests/emulators/cosmos/server.js, port 0, it prints its endpoint)
/// and Azurite's Table service (tests/emulators/azurite, the audit log's store with KILLTOKEN_STORE=cosmos). Both
/// hold their stdin pipe from this process and exit when it closes, also if the bench crashes.
/// </summary>
internal sealed class SoakEmulators : IDisposable
{
    /// <summary>The emulators' well-known keys; neither checks them, the SDKs need valid base64.</summary>
    private const string CosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
    private const string AzuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _cosmos;
    private readonly Process _azurite;

    private SoakEmulators(Process cosmos, string cosmosEndpoint, Process azurite, int azuritePort)
    {
        _cosmos = cosmos;
        _azurite = azurite;
        CosmosEndpoint = new Uri(cosmosEndpoint);
        CosmosConnectionString = $"AccountEndpoint={cosmosEndpoint};AccountKey={CosmosKey};";
        TableConnectionString = string.Create(CultureInfo.InvariantCulture,
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteKey};TableEndpoint=http://127.0.0.1:{azuritePort}/devstoreaccount1;");
    }

    /// <summary><c>https://127.0.0.1:PORT/</c>.</summary>
    public Uri CosmosEndpoint { get; }
    public string CosmosConnectionString { get; }
    public string TableConnectionString { get; }
    public int CosmosPid => _cosmos.Id;

    /// <summary>The gateway's settings for <c>KILLTOKEN_STORE=cosmos</c> on a fresh database of these emulators.</summary>
    public IEnumerable<KeyValuePair<string, string>> GatewaySettings(string database) =>
    [
        new("KILLTOKEN_STORE", "cosmos"),
        new("COSMOS_CONNECTION_STRING", CosmosConnectionString),
        new("COSMOS_DATABASE", database),
        new("AzureWebJobsStorage", TableConnectionString),
        new("KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS", "true"),
    ];

    public static async Task<SoakEmulators> StartAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        var cosmosFolder = Path.Combine(repositoryRoot, "tests", "emulators", "cosmos");
        var azuriteFolder = Path.Combine(repositoryRoot, "tests", "emulators", "azurite");
        foreach (var folder in new[] { cosmosFolder, azuriteFolder })
        {
            if (!Directory.Exists(Path.Combine(folder, "node_modules")))
            {
                throw new InvalidOperationException($"{folder}/node_modules is missing: run `npm ci` there first.");
            }
        }

        var cosmos = Node(cosmosFolder, Path.Combine(cosmosFolder, "server.js"), "0");
        string? endpoint = null;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            while (await cosmos.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("COSMOS_EMULATOR_READY ", StringComparison.Ordinal))
                {
                    endpoint = line["COSMOS_EMULATOR_READY ".Length..].Trim();
                    break;
                }
            }
        }

        if (endpoint is null)
        {
            Kill(cosmos);
            throw new InvalidOperationException("The Cosmos DB emulator did not start.");
        }

        Drain(cosmos.StandardOutput);
        var port = GatewayProcess.FreePort();
        var azurite = Node(azuriteFolder,
            "--require", Path.Combine(azuriteFolder, "exit-with-parent.js"),
            Path.Combine(azuriteFolder, "node_modules", "azurite", "dist", "src", "table", "main.js"),
            "--tableHost", "127.0.0.1", "--tablePort", port.ToString(CultureInfo.InvariantCulture),
            "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent");
        Drain(azurite.StandardOutput);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                // Any answer (an unsigned request gets 403) means it listens.
                using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/devstoreaccount1"), cancellationToken);
                break;
            }
            catch (Exception ex) when ((ex is HttpRequestException or TaskCanceledException) && attempt < 300 && !azurite.HasExited)
            {
                await Task.Delay(200, cancellationToken);
            }
        }

        return new SoakEmulators(cosmos, endpoint, azurite, port);
    }

    private static Process Node(string folder, params string[] arguments)
    {
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment.Remove("AZURE_COSMOS_USE_QUERY_PLAN_INTEROP_LINUX");
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start node.");
        Drain(process.StandardError);
        return process;
    }

    /// <summary>Reads a pipe to its end so a full pipe never blocks the emulator.</summary>
    private static void Drain(StreamReader reader) => _ = Task.Run(async () =>
    {
        try
        {
            while (await reader.ReadLineAsync() is not null)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    });

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.Close();
                if (!process.WaitForExit(5_000))
                {
                    process.Kill(entireProcessTree: true);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
        }
    }

    public void Dispose()
    {
        Kill(_azurite);
        Kill(_cosmos);
        _azurite.Dispose();
        _cosmos.Dispose();
    }
}
