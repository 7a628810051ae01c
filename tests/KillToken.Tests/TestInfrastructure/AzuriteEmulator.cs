using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// Azurite's Table service (tests/emulators/azurite, npm azurite), in memory on a free loopback port: one process per
/// test run, started on first use and stopped when the test process exits (its stdin pipe closing stops it even after a
/// crash). It holds the audit log of every gateway a test starts on Cosmos DB; tests keep apart by workspace id.
/// </summary>
internal sealed class AzuriteEmulator : IDisposable
{
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known account key (public, in Azurite's documentation); the SDK signs every request with it.</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly Lock SharedGate = new();
    private static AzuriteEmulator? _shared;

    private readonly Process _process;
    private int _disposed;

    private AzuriteEmulator(Process process, Uri tableEndpoint)
    {
        _process = process;
        TableEndpoint = tableEndpoint;
    }

    /// <summary>The run's emulator, started on first use.</summary>
    public static AzuriteEmulator Shared
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

    /// <summary><c>http://127.0.0.1:PORT/devstoreaccount1</c>.</summary>
    public Uri TableEndpoint { get; }

    /// <summary>What <c>AzureWebJobsStorage</c> holds for a gateway whose audit log lives here.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};TableEndpoint={TableEndpoint.AbsoluteUri.TrimEnd('/')};";

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

    private static AzuriteEmulator Start()
    {
        var folder = Path.Combine(Repository.Root, "tests", "emulators", "azurite");
        if (!File.Exists(Path.Combine(folder, "node_modules", "azurite", "package.json")))
        {
            NpmCi(folder);
        }

        // Azurite takes a port and cannot report one the system chose: another process may take the free port first, so try again.
        var failures = new List<string>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (TryStart(folder, FreePort(), out var emulator, out var failure))
            {
                return emulator;
            }

            failures.Add(failure);
        }

        throw new InvalidOperationException("Azurite's Table service did not start:\n" + string.Join("\n---\n", failures));
    }

    private static bool TryStart(string folder, int port, out AzuriteEmulator emulator, out string failure)
    {
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--require", Path.Combine(folder, "exit-with-parent.js"),
            Path.Combine(folder, "node_modules", "azurite", "dist", "src", "table", "main.js"),
            "--tableHost", "127.0.0.1",
            "--tablePort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--silent",
        })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start node for Azurite.");
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var endpoint = new Uri($"http://127.0.0.1:{port}/{AccountName}");
        if (WaitUntilItAnswers(process, endpoint))
        {
            emulator = new AzuriteEmulator(process, endpoint);
            failure = string.Empty;
            return true;
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
        emulator = null!;
        failure = $"port {port}:\n" + string.Join('\n', output);
        return false;
    }

    /// <summary>Any HTTP answer (an unsigned request gets 403) means the Table service is listening.</summary>
    private static bool WaitUntilItAnswers(Process process, Uri endpoint)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var response = client.GetAsync(endpoint).GetAwaiter().GetResult();
                return !process.HasExited;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Thread.Sleep(100);
            }
        }

        return false;
    }

    private static void Keep(ConcurrentQueue<string> output, string? line)
    {
        if (line is not null && output.Count < 200)
        {
            output.Enqueue(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void NpmCi(string folder)
    {
        var info = new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var npm = Process.Start(info) ?? throw new InvalidOperationException("Could not start npm to install Azurite.");
        var output = npm.StandardOutput.ReadToEndAsync();
        var errors = npm.StandardError.ReadToEndAsync();
        if (!npm.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            npm.Kill(entireProcessTree: true);
            throw new InvalidOperationException("npm ci for Azurite took more than 5 minutes.");
        }

        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci for Azurite failed ({npm.ExitCode}):\n{output.Result}\n{errors.Result}");
        }
    }
}
