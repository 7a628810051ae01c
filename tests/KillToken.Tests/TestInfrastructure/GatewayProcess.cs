using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The self-host as a process of its own (the same build the tests reference, started with <c>dotnet</c>), so a test can
/// kill it the way a crash would (SIGKILL: no shutdown, no flush), or stop it cleanly (SIGTERM), and start it again on
/// the same data folder.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    /// <summary>The process id, to read its memory, threads and handles from <c>/proc</c>.</summary>
    public int Pid => _process.Id;

    public static async Task<GatewayProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}/");
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KillToken.SelfHost.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseAddress.ToString().TrimEnd('/'));
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment["KILLTOKEN_DATA_DIR"] = dataDirectory;
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the gateway process.");
        // Drain its output so a full pipe never blocks it.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new GatewayProcess(process, baseAddress);
        for (var waited = 0; ; waited += 100)
        {
            try
            {
                using var health = await gateway.Client.GetAsync("health");
                if (health.IsSuccessStatusCode)
                {
                    return gateway;
                }
            }
            catch (HttpRequestException) when (waited < 60_000 && !process.HasExited)
            {
            }

            if (waited >= 60_000 || process.HasExited)
            {
                await gateway.DisposeAsync();
                throw new InvalidOperationException("The gateway process did not become healthy.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: the process gets no chance to flush, checkpoint or settle anything.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as a service manager or the platform stops an instance: the host shuts down cleanly.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            using var signal = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
                ?? throw new InvalidOperationException("Could not run kill.");
            await signal.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await KillAsync();
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
