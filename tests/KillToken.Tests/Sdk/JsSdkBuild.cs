using System.Diagnostics;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Sdk;

/// <summary>
/// Builds sdk/js (TypeScript → dist/) once per test process, so the SDK's tests and the examples run the source as it is
/// now: <c>npm ci</c> when its node_modules is missing (CI installs it up front), then <c>npm run build</c>.
/// </summary>
internal static class JsSdkBuild
{
    private static readonly Lazy<Task> Build = new(BuildAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Folder => Path.Combine(Repository.Root, "sdk", "js");

    public static Task EnsureBuiltAsync() => Build.Value;

    private static async Task BuildAsync()
    {
        if (!File.Exists(Path.Combine(Folder, "node_modules", "typescript", "package.json")))
        {
            await RunAsync("npm", "ci --no-audit --no-fund --loglevel=error");
        }

        await RunAsync("npm", "run build --silent");
    }

    private static async Task RunAsync(string program, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(deadline.Token);
        Assert.AreEqual(0, process.ExitCode, $"{program} {arguments} failed in sdk/js.\nstdout: {await stdout}\nstderr: {await stderr}");
    }
}
