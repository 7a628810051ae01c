using System.Diagnostics;
using System.Globalization;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// The built worker started as the Functions host starts it: <c>dotnet KillToken.Functions.dll</c> in its own folder,
/// with the host's <c>--functions-*</c> switches and environment. Its stdout and stderr go to the <see cref="OutputLog"/>.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    public const string AssemblyName = "KillToken.Functions.dll";

    /// <summary>What the host passes: protobuf's own limit, so no message is refused for its size.</summary>
    private const string GrpcMaxMessageLength = "2147483647";

    /// <summary>Workers still running; killed if the test process ends first (the worker stops only on WorkerTerminate).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Process, byte> Live = new();

    private readonly Process _process;
    private readonly CancellationTokenSource _exited = new();

    static WorkerProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in Live.Keys)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
    };

    private WorkerProcess(Process process)
    {
        _process = process;
        Live.TryAdd(process, 0);
        _process.Exited += (_, _) => SignalExited();
        _process.EnableRaisingEvents = true;
        if (_process.HasExited)
        {
            SignalExited();
        }
    }

    /// <summary>Cancelled when the process exits, so a wait on the worker ends at once instead of at its timeout.</summary>
    public CancellationToken ExitedToken => _exited.Token;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static WorkerProcess Start(string workerDirectory, Uri grpcUri, string workerId, IDictionary<string, string?> appSettings, OutputLog output)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workerDirectory,
        };
        start.ArgumentList.Add(Path.Combine(workerDirectory, AssemblyName));
        foreach (var argument in new[]
        {
            "--functions-uri", grpcUri.ToString(),
            "--functions-worker-id", workerId,
            "--functions-request-id", Guid.NewGuid().ToString(),
            "--functions-grpc-max-message-length", GrpcMaxMessageLength,
        })
        {
            start.ArgumentList.Add(argument);
        }

        // The worker's own Kestrel listens where the HTTP integration says; an inherited URL would move it.
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        // host.json is read from here (routePrefix): without it every route would get the default "api/" prefix.
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = workerDirectory;
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = workerDirectory;
        start.Environment["AzureWebJobsStorage"] = "UseDevelopmentStorage=true";
        foreach (var (name, value) in appSettings)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the Functions worker process.");
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, line) => Record(output, "stdout", line.Data);
        process.ErrorDataReceived += (_, line) => Record(output, "stderr", line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>Waits for the process to end on its own, then kills it; returns its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan grace)
    {
        using (var wait = new CancellationTokenSource(grace))
        {
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        // Also drains the redirected output, so the log is complete.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        // Also drains the redirected output, so the log is complete.
        _process.WaitForExit();
        Live.TryRemove(_process, out _);
        _process.Dispose();
        _exited.Dispose();
    }

    public override string ToString() =>
        _process.HasExited ? string.Create(CultureInfo.InvariantCulture, $"exited with code {_process.ExitCode}") : "running";

    private void SignalExited()
    {
        try
        {
            _exited.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The event came after Dispose: nobody is waiting any more.
        }
    }

    private static void Record(OutputLog output, string stream, string? line)
    {
        if (line is not null)
        {
            output.Add($"[{stream}] {line}");
        }
    }
}
