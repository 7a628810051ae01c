using System.Diagnostics;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Sdk;

/// <summary>
/// Builds sdk/js (<c>@killtoken/sdk</c>) once per test process, so the SDK's tests and the examples run the source as it
/// is now — <c>npm ci</c> when its node_modules is missing (CI installs it up front), then <c>npm run build</c>
/// (tsc → dist/) — and runs node/npm from tests without the test run's own MSBuild variables.
/// Shared by every test that runs the SDK (its own node tests, the examples that use it); classes run two at a time, so
/// the build is behind a gate and a failed build is tried again by the next caller.
/// </summary>
internal static class JsSdkBuild
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static bool _built;

    /// <summary>sdk/js in the checkout the tests run from.</summary>
    public static string Folder => Path.Combine(Repository.Root, "sdk", "js");

    /// <summary>dist/index.js and dist/index.d.ts exist and were built from the current sources by this test process.</summary>
    public static async Task EnsureBuiltAsync()
    {
        await BuildGate.WaitAsync();
        try
        {
            if (_built)
            {
                return;
            }

            Assert.IsTrue(File.Exists(Path.Combine(Folder, "package.json")), $"no SDK at {Folder}");
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", "typescript")))
            {
                var install = await RunAsync("npm", "ci --no-audit --no-fund --loglevel=error", Folder, timeout: TimeSpan.FromMinutes(5));
                Assert.AreEqual(0, install.ExitCode, $"npm ci failed in sdk/js.\nstdout: {install.Stdout}\nstderr: {install.Stderr}");
            }

            var build = await RunAsync("npm", "run build", Folder, timeout: TimeSpan.FromMinutes(5));
            Assert.AreEqual(0, build.ExitCode, $"npm run build failed in sdk/js.\nstdout: {build.Stdout}\nstderr: {build.Stderr}");
            foreach (var file in new[] { "index.js", "index.d.ts" })
            {
                Assert.IsTrue(File.Exists(Path.Combine(Folder, "dist", file)), $"the build made no dist/{file}");
            }

            _built = true;
        }
        finally
        {
            BuildGate.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="program"/> in <paramref name="folder"/> with <paramref name="environment"/> added to this
    /// process's environment less its MSBuild variables; kills it (and its children) if it outlives <paramref name="timeout"/>.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(string program, string arguments, string folder,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // `dotnet test` sets MSBuild variables for its own build; nothing started from it should inherit them.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["NO_UPDATE_NOTIFIER"] = "1";
        start.Environment["npm_config_update_notifier"] = "false";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(3);
        using var deadline = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new ProcessResult(-1, await stdout, await stderr + $"\n[killed: {program} {arguments} did not finish within {limit.TotalSeconds:0} s]", TimedOut: true);
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr, TimedOut: false);
    }
}

/// <summary>How a process ended and what it wrote.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut);
