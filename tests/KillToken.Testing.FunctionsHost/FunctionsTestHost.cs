using System.Diagnostics;
using KillToken.Testing.FunctionsHost.Rpc;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// Plays the Azure Functions host for the built isolated worker (Core Tools cannot be installed here): serves the
/// host's side of the worker's gRPC protocol, starts <c>dotnet KillToken.Functions.dll</c> as the host does, loads
/// every function, and offers a front door that routes HTTP calls to them as the host does. Timer functions are
/// invoked on demand. The protocol facts it follows are in shared/notes/functions-worker-protocol.md.
/// </summary>
public sealed class FunctionsTestHost : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan TerminateGracePeriod = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);
    private const int OutputTailLines = 40;
    private static readonly TimeSpan TimerInvocationWait = TimeSpan.FromSeconds(60);

    private readonly HostServer _server;
    private readonly WorkerProcess _worker;
    private readonly WorkerChannel _channel;
    private readonly FrontDoor _frontDoor;
    private readonly OutputLog _output;
    private readonly IReadOnlyList<RpcFunctionMetadata> _functions;
    private readonly Stopwatch _sinceWorkerStart;
    private int _disposed;

    private FunctionsTestHost(HostServer server, WorkerProcess worker, WorkerChannel channel, FrontDoor frontDoor, OutputLog output, LoadedWorker loaded, Stopwatch sinceWorkerStart)
    {
        _sinceWorkerStart = sinceWorkerStart;
        _server = server;
        _worker = worker;
        _channel = channel;
        _frontDoor = frontDoor;
        _output = output;
        _functions = loaded.Functions;
        StartupTimings = loaded.Timings;
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The front door: requests here reach the functions as through the Functions host.</summary>
    public Uri BaseAddress => _server.FrontDoorUri;

    public HttpClient Client { get; }

    public StartupTimings StartupTimings { get; }

    /// <summary>Time since the worker process was started: what a cold start is measured from.</summary>
    public TimeSpan SinceWorkerStart => _sinceWorkerStart.Elapsed;

    public IReadOnlyList<string> FunctionNames => [.. _functions.Select(f => f.Name)];

    /// <summary>The worker's stdout and stderr lines and its RpcLog messages, with the host's own notes, in order.</summary>
    public IReadOnlyList<string> WorkerOutput => _output.Snapshot();

    /// <summary>Every InvocationResponse so far, HTTP and timer alike.</summary>
    public IReadOnlyList<InvocationResult> Invocations => _channel.Invocations;

    /// <summary>The worker's exit code, once <see cref="DisposeAsync"/> has stopped it.</summary>
    public int? WorkerExitCode { get; private set; }

    /// <summary>
    /// Starts the host and the worker built in <paramref name="workerDirectory"/> (the folder holding
    /// KillToken.Functions.dll, functions.metadata and host.json); returns once every function is loaded.
    /// <paramref name="appSettings"/> become the worker's environment variables (null removes one).
    /// </summary>
    public static async Task<FunctionsTestHost> StartAsync(string workerDirectory, IDictionary<string, string?> appSettings, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(appSettings);
        workerDirectory = Path.GetFullPath(workerDirectory);
        if (!File.Exists(Path.Combine(workerDirectory, WorkerProcess.AssemblyName)))
        {
            throw new FileNotFoundException($"No built Functions worker in '{workerDirectory}'.", Path.Combine(workerDirectory, WorkerProcess.AssemblyName));
        }

        var output = new OutputLog();
        var workerId = Guid.NewGuid().ToString();
        var channel = new WorkerChannel(workerId, output);
        var frontDoor = new FrontDoor(channel, output);
        var handshake = new WorkerHandshake(channel, workerDirectory);
        HostServer? server = null;
        WorkerProcess? worker = null;
        try
        {
            server = await HostServer.StartAsync(channel, frontDoor.HandleAsync, ct);
            var sinceProcessStart = Stopwatch.StartNew();
            worker = WorkerProcess.Start(workerDirectory, server.GrpcUri, workerId, appSettings, output);

            using var startup = CancellationTokenSource.CreateLinkedTokenSource(ct, worker.ExitedToken);
            startup.CancelAfter(StartupTimeout);
            var loaded = await handshake.RunAsync(sinceProcessStart, startup.Token);

            frontDoor.Start(HttpRouteTable.Build(loaded.Functions, HostJson.RoutePrefix(workerDirectory)), loaded.HttpUri);
            return new FunctionsTestHost(server, worker, channel, frontDoor, output, loaded, sinceProcessStart);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            var exited = worker?.HasExited == true ? worker.ToString() : null;
            await StopQuietlyAsync(worker, channel, server, frontDoor);
            var timedOut = exited is null && ex is OperationCanceledException;
            var what = exited is not null ? $"The Functions worker {exited} at step: {handshake.Step}."
                : timedOut ? $"The Functions worker timed out after {StartupTimeout.TotalSeconds:0} s at step: {handshake.Step}."
                : $"The Functions worker failed at step: {handshake.Step}. {ex.Message}";
            var message = $"{what}{Environment.NewLine}--- worker output, last {OutputTailLines} lines ---{Environment.NewLine}{output.Tail(OutputTailLines)}";
            throw timedOut ? new TimeoutException(message, ex) : new InvalidOperationException(message, ex);
        }
        catch
        {
            await StopQuietlyAsync(worker, channel, server, frontDoor);
            throw;
        }
    }

    /// <summary>Invokes a timer-triggered function now, as its schedule would, and waits for its InvocationResponse.</summary>
    public async Task<InvocationResult> InvokeTimerAsync(string functionName, CancellationToken ct = default)
    {
        var function = _functions.SingleOrDefault(f => f.Name == functionName)
            ?? throw new ArgumentException($"No function named '{functionName}'.", nameof(functionName));
        var trigger = RawBinding.TriggerOf(function);
        if (!trigger.Type.Equals("timerTrigger", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{functionName}' is triggered by {trigger.Type}, not a timer.", nameof(functionName));
        }

        var request = InvocationMessages.ForTimer(Guid.NewGuid().ToString(), function, trigger);
        var response = await _channel.StartInvocationAsync(request, function.Name, ct);
        // Bounded, so a function that never answers fails its test instead of hanging the run.
        return await response.WaitAsync(TimerInvocationWait, ct);
    }

    /// <summary>WorkerTerminate, then the worker's own exit (killed after 10 s), then the host's Kestrel.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Client.Dispose();
        if (_channel.IsOpen && !_worker.HasExited)
        {
            try
            {
                using var sending = new CancellationTokenSource(ExitWait);
                await _channel.TerminateAsync(TerminateGracePeriod, sending.Token);
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
            {
                _output.Add($"[host] WorkerTerminate could not be sent: {ex.Message}");
            }
        }

        WorkerExitCode = await _worker.StopAsync(ExitWait);
        await StopQuietlyAsync(_worker, _channel, _server, _frontDoor);
    }

    private static async Task StopQuietlyAsync(WorkerProcess? worker, WorkerChannel channel, HostServer? server, FrontDoor frontDoor)
    {
        worker?.Dispose();
        channel.Dispose();
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        frontDoor.Dispose();
    }
}
