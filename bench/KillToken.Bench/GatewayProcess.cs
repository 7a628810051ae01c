using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KillToken.Bench;

/// <summary>
/// The Release self-host as a separate process (so its memory and CPU are its own), on a free loopback port, with a
/// throw-away data folder. Its stdout/stderr go to a file through <c>sh -c 'exec …'</c>, so the pid is the gateway's
/// and draining its logs costs the load generator nothing.
/// </summary>
internal sealed class GatewayProcess : MeasuredProcess, IAsyncDisposable
{
    private GatewayProcess(Process process, Uri baseAddress, string rootDirectory, string logPath)
        : base(process, logPath)
    {
        BaseAddress = baseAddress;
        RootDirectory = rootDirectory;
    }

    public override string Name => "killtoken";
    public Uri BaseAddress { get; }
    /// <summary>The throw-away folder holding data/, cwd/ and gateway.log.</summary>
    public string RootDirectory { get; }
    public bool KeepData { get; set; }

    public static async Task<GatewayProcess> StartAsync(
        string dllPath, Uri upstream, IReadOnlyList<KeyValuePair<string, string>> extraEnvironment, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
        // <root>/data is KILLTOKEN_DATA_DIR, <root>/cwd the (empty) working directory and so the content root, and the
        // log sits beside them: the host watches its content root for appsettings changes (inotify, recursive), and
        // the bench's own log and the SQLite WAL must not feed that watcher events a real deployment would not have.
        var root = Path.Combine(Path.GetTempPath(), "killtoken-bench", Guid.NewGuid().ToString("N"));
        var dataDirectory = Path.Combine(root, "data");
        var workingDirectory = Path.Combine(root, "cwd");
        Directory.CreateDirectory(dataDirectory);
        Directory.CreateDirectory(workingDirectory);
        var logPath = Path.Combine(root, "gateway.log");

        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        // sh -c 'exec "$0" "$@" > "$KILLTOKEN_BENCH_LOG" 2>&1' dotnet <dll> --urls <url>
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" >\"$KILLTOKEN_BENCH_LOG\" 2>&1");
        start.ArgumentList.Add(DotnetHost());
        start.ArgumentList.Add(dllPath);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseAddress.ToString().TrimEnd('/'));
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment["KILLTOKEN_BENCH_LOG"] = logPath;
        start.Environment["KILLTOKEN_DATA_DIR"] = dataDirectory;
        start.Environment["KILLTOKEN_OPENAI_BASE_URL"] = upstream.ToString().TrimEnd('/') + "/v1";
        foreach (var (key, value) in extraEnvironment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the gateway.");
        var gateway = new GatewayProcess(process, baseAddress, root, logPath);
        try
        {
            await Readiness.WaitForOkAsync(gateway, gateway.BaseAddress, "health", "The gateway", TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        if (KeepData)
        {
            return ValueTask.CompletedTask;
        }

        try
        {
            Directory.Delete(RootDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: it is under the temp folder.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return ValueTask.CompletedTask;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The <c>dotnet</c> muxer running this process when there is one, else the one on PATH.</summary>
    internal static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.Ordinal))
        {
            return self;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
    }
}
