using System.Diagnostics;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Wrappers;

/// <summary>
/// Runs a script of tests/emulators/sdk (the official `openai` and `@anthropic-ai/sdk` npm packages) with node and reads
/// the JSON object it prints. Installs the pinned packages with <c>npm ci</c> first when node_modules is missing.
/// </summary>
internal static class NodeSdk
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    public static string Folder => Path.Combine(Repository.Root, "tests", "emulators", "sdk");

    public static async Task<JsonObject> RunAsync(string script, IReadOnlyDictionary<string, string> environment)
    {
        await EnsureInstalledAsync();
        var start = new ProcessStartInfo("node", script)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} did not finish within 90 s. stderr: {await stderr}");
        }

        var output = await stdout;
        Assert.AreEqual(0, process.ExitCode, $"node {script} failed. stderr: {await stderr}\nstdout: {output}");
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return JsonNode.Parse(line)!.AsObject();
    }

    private static async Task EnsureInstalledAsync()
    {
        await InstallGate.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(Folder, "node_modules", "openai")) && Directory.Exists(Path.Combine(Folder, "node_modules", "@anthropic-ai", "sdk")))
            {
                return;
            }

            using var install = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = Folder })!;
            await install.WaitForExitAsync();
            Assert.AreEqual(0, install.ExitCode, "npm ci failed in tests/emulators/sdk");
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
