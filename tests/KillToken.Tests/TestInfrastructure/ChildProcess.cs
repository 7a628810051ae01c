using System.Diagnostics;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>Runs node, npm or dotnet from a test as a person would, without the test run's own MSBuild variables.</summary>
internal static class ChildProcess
{
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
