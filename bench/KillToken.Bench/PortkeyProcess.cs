using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

namespace KillToken.Bench;

/// <summary>
/// The peer gateway: Portkey's open-source gateway (<c>@portkey-ai/gateway</c>, pinned in <c>bench/portkey</c>) as a
/// separate node process on a free port, headless, routing to the same fake upstream through its OpenAI provider with
/// a custom host. Like <see cref="GatewayProcess"/>, its output goes to a file through <c>sh -c 'exec …'</c>, so the
/// pid is node's and its CPU and memory are read from <c>/proc/&lt;pid&gt;</c> the same way.
/// </summary>
internal sealed class PortkeyProcess : MeasuredProcess, IAsyncDisposable
{
    private const string Package = "@portkey-ai/gateway";

    private PortkeyProcess(Process process, Uri baseAddress, string logPath, string version, string nodeVersion)
        : base(process, logPath)
    {
        BaseAddress = baseAddress;
        Version = version;
        NodeVersion = nodeVersion;
    }

    public override string Name => "portkey";
    public Uri BaseAddress { get; }
    /// <summary>The installed package's version (from its package.json).</summary>
    public string Version { get; }
    public string NodeVersion { get; }

    /// <summary>The OpenAI-compatible route the load goes to.</summary>
    public Uri ChatUrl => new(BaseAddress, "v1/chat/completions");

    /// <summary>
    /// The headers that make Portkey call the fake: its OpenAI provider, with the fake as custom host (loopback is in
    /// its default trusted hosts). The bearer is the upstream key, which Portkey forwards as the provider key.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> RouteHeaders(Uri upstream) =>
    [
        new("x-portkey-provider", "openai"),
        new("x-portkey-custom-host", upstream.ToString().TrimEnd('/') + "/v1"),
    ];

    /// <summary>
    /// Installs the pinned package with <c>npm ci</c> when <c>node_modules</c> lacks it (or holds another version), then
    /// starts <c>build/start-server.js --port=N --headless</c> with <c>NODE_ENV=production</c> (no UI routes) and waits
    /// for <c>GET /</c>.
    /// </summary>
    public static async Task<PortkeyProcess> StartAsync(string portkeyDirectory, string logPath, CancellationToken cancellationToken)
    {
        var nodeVersion = (await RunAsync("node", ["--version"], portkeyDirectory, cancellationToken)).Trim();
        var pinned = PinnedVersion(portkeyDirectory);
        var installed = InstalledVersion(portkeyDirectory);
        if (installed != pinned)
        {
            Console.WriteLine($"# portkey: installing {Package}@{pinned} with npm ci in {portkeyDirectory} (found {installed ?? "nothing"}) …");
            await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], portkeyDirectory, cancellationToken);
            installed = InstalledVersion(portkeyDirectory);
            if (installed != pinned)
            {
                throw new InvalidOperationException($"npm ci did not install {Package}@{pinned} (found {installed ?? "nothing"}).");
            }
        }

        var port = GatewayProcess.FreePort();
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = portkeyDirectory };
        // sh -c 'exec "$0" "$@" > "$KILLTOKEN_BENCH_LOG" 2>&1' node <server> --port=N --headless
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" \"$@\" >\"$KILLTOKEN_BENCH_LOG\" 2>&1");
        start.ArgumentList.Add("node");
        start.ArgumentList.Add(Path.Combine(portkeyDirectory, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js"));
        start.ArgumentList.Add($"--port={port}");
        start.ArgumentList.Add("--headless");
        start.Environment["KILLTOKEN_BENCH_LOG"] = logPath;
        start.Environment["NODE_ENV"] = "production";
        start.Environment.Remove("PORT");

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        var portkey = new PortkeyProcess(process, new Uri($"http://127.0.0.1:{port}/"), logPath, installed!, nodeVersion);
        try
        {
            // Its root route answers "AI Gateway says hey!" once the server listens.
            await Readiness.WaitForOkAsync(portkey, portkey.BaseAddress, "/", "Portkey", TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch
        {
            await portkey.DisposeAsync();
            throw;
        }

        return portkey;
    }

    private static string PinnedVersion(string portkeyDirectory)
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(portkeyDirectory, "package.json")));
        return manifest?["dependencies"]?[Package]?.GetValue<string>()
            ?? throw new InvalidOperationException($"{portkeyDirectory}/package.json does not depend on {Package}.");
    }

    private static string? InstalledVersion(string portkeyDirectory)
    {
        var path = Path.Combine(portkeyDirectory, "node_modules", "@portkey-ai", "gateway", "package.json");
        return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))?["version"]?.GetValue<string>() : null;
    }

    private static async Task<string> RunAsync(string file, string[] args, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"'{file}' is not on PATH ({ex.Message}); Portkey needs node and npm (or run with --peer none).", ex);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
            }

            return await stdout;
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }
}
