using System.Collections.Concurrent;
using System.Diagnostics;
using KillToken.Storage.Cosmos;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The test Cosmos DB emulator (tests/emulators/cosmos, an in-memory @vercel/cosmosdb-server behind our fixes), one
/// process per test run, started on first use and stopped when the test process exits (its stdin pipe closing stops it
/// even after a crash). Test classes keep apart by using their own database name.
/// </summary>
internal sealed class CosmosEmulator : IDisposable
{
    /// <summary>The emulator's well-known key. The server checks no keys, but the SDK needs valid base64.</summary>
    public const string AccountKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

    private const string ReadyPrefix = "COSMOS_EMULATOR_READY ";
    private static readonly Lock SharedGate = new();
    private static CosmosEmulator? _shared;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private int _disposed;

    private CosmosEmulator(Process process, Uri endpoint)
    {
        _process = process;
        Endpoint = endpoint;
    }

    /// <summary>The run's emulator, started on first use.</summary>
    public static CosmosEmulator Shared
    {
        get
        {
            lock (SharedGate)
            {
                if (_shared is null)
                {
                    var emulator = Start();
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => emulator.Dispose();
                    _shared = emulator;
                }

                return _shared;
            }
        }
    }

    /// <summary><c>https://127.0.0.1:PORT/</c>.</summary>
    public Uri Endpoint { get; }

    public string ConnectionString => $"AccountEndpoint={Endpoint.AbsoluteUri};AccountKey={AccountKey};";

    /// <summary>
    /// The emulator's request log (<c>COSMOS_EMULATOR_LOG=1</c>): one line per HTTP request it answered, in order —
    /// what really went over the wire, metadata requests included.
    /// </summary>
    public IReadOnlyList<string> RequestLog => [.. _log];

    /// <summary>Store options for a database of this emulator, as the app builds them from a connection string.</summary>
    public CosmosStoreOptions StoreOptions(string database, bool countOperations = false) => new()
    {
        ConnectionString = ConnectionString,
        DatabaseName = database,
        AcceptLocalEmulatorCertificate = CosmosStoreOptions.IsLocalEmulator(ConnectionString),
        CountOperations = countOperations,
    };

    /// <summary>A database name no other test class uses.</summary>
    public static string NewDatabaseName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(5_000))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5_000);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static CosmosEmulator Start()
    {
        var folder = Path.Combine(Repository.Root, "tests", "emulators", "cosmos");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@vercel", "cosmosdb-server")))
        {
            NpmCi(folder);
        }

        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(folder, "server.js"));
        info.ArgumentList.Add("0");
        info.Environment["COSMOS_EMULATOR_LOG"] = "1";
        info.Environment.Remove("AZURE_COSMOS_USE_QUERY_PLAN_INTEROP_LINUX");

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start node for the Cosmos DB emulator.");
        var stderr = new ConcurrentQueue<string>();
        CosmosEmulator? emulator = null;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            if (emulator is { } ready)
            {
                ready._log.Enqueue(e.Data);
            }
            else
            {
                stderr.Enqueue(e.Data);
            }
        };
        process.BeginErrorReadLine();

        var readLine = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
                {
                    return line[ReadyPrefix.Length..].Trim();
                }
            }

            return null;
        });

        string? endpoint = null;
        try
        {
            endpoint = readLine.Wait(TimeSpan.FromSeconds(60)) ? readLine.Result : null;
        }
        catch (AggregateException)
        {
        }

        if (endpoint is null)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
            throw new InvalidOperationException("The Cosmos DB emulator did not start:\n" + string.Join('\n', stderr));
        }

        emulator = new CosmosEmulator(process, new Uri(endpoint));
        // Drain stdout so the pipe never fills.
        _ = Task.Run(async () =>
        {
            try
            {
                while (await process.StandardOutput.ReadLineAsync() is not null)
                {
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or ObjectDisposedException)
            {
            }
        });
        return emulator;
    }

    private static void NpmCi(string folder)
    {
        var info = new ProcessStartInfo("npm", "ci --no-audit --no-fund")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var npm = Process.Start(info) ?? throw new InvalidOperationException("Could not start npm to install the Cosmos DB emulator.");
        var output = npm.StandardOutput.ReadToEndAsync();
        var errors = npm.StandardError.ReadToEndAsync();
        if (!npm.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            npm.Kill(entireProcessTree: true);
            throw new InvalidOperationException("npm ci for the Cosmos DB emulator took more than 5 minutes.");
        }

        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci for the Cosmos DB emulator failed ({npm.ExitCode}):\n{output.Result}\n{errors.Result}");
        }
    }
}
