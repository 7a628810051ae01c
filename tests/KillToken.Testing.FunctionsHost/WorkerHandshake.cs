using System.Diagnostics;
using KillToken.Testing.FunctionsHost.Rpc;

namespace KillToken.Testing.FunctionsHost;

/// <summary>The worker once loaded: where its own Kestrel listens, its functions, and how long it took.</summary>
internal sealed record LoadedWorker(Uri HttpUri, IReadOnlyList<RpcFunctionMetadata> Functions, StartupTimings Timings);

/// <summary>
/// The host's startup conversation, in the host's order: StartStream, WorkerInitRequest, FunctionsMetadataRequest (the
/// worker indexes itself), then one FunctionLoadRequest per function. <see cref="Step"/> names the step under way,
/// for the error when one never finishes.
/// </summary>
internal sealed class WorkerHandshake(WorkerChannel channel, string appDirectory)
{
    /// <summary>Reported to the worker; it only logs it.</summary>
    private const string HostVersion = "4.0.0-killtoken-test-host";

    /// <summary>The capability the ASP.NET Core integration sets: the base address of the worker's own Kestrel.</summary>
    private const string HttpUriCapability = "HttpUri";

    public string Step { get; private set; } = "starting the process";

    public async Task<LoadedWorker> RunAsync(Stopwatch sinceProcessStart, CancellationToken ct)
    {
        Step = "waiting for StartStream";
        await channel.Connected.WaitAsync(ct);
        var streamStarted = sinceProcessStart.Elapsed;

        Step = "WorkerInitRequest";
        var init = await channel.InitializeAsync(
            new WorkerInitRequest { HostVersion = HostVersion, WorkerDirectory = appDirectory, FunctionAppDirectory = appDirectory }, ct);
        EnsureSucceeded(init.Result, "WorkerInitRequest");
        if (!init.Capabilities.TryGetValue(HttpUriCapability, out var httpUri) || !Uri.TryCreate(httpUri, UriKind.Absolute, out var workerHttpUri))
        {
            throw new InvalidOperationException($"The worker did not report its '{HttpUriCapability}' capability (is the ASP.NET Core integration on?): {init.Capabilities}");
        }

        var initialized = sinceProcessStart.Elapsed;

        Step = "FunctionsMetadataRequest";
        var metadata = await channel.GetMetadataAsync(new FunctionsMetadataRequest { FunctionAppDirectory = appDirectory }, ct);
        EnsureSucceeded(metadata.Result, "FunctionsMetadataRequest");
        if (metadata.UseDefaultMetadataIndexing)
        {
            throw new InvalidOperationException("The worker asked the host to index functions.metadata itself; this host only supports worker indexing.");
        }

        Step = $"{metadata.FunctionMetadataResults.Count} FunctionLoadRequests";
        var functions = metadata.FunctionMetadataResults.ToList();
        // All requests first, then all answers, as the host does; the worker loads them in any order.
        var loads = new List<Task<FunctionLoadResponse>>();
        foreach (var function in functions)
        {
            loads.Add(await channel.StartLoadAsync(new FunctionLoadRequest { FunctionId = function.FunctionId, Metadata = function }, ct));
        }

        foreach (var (function, response) in functions.Zip(await Task.WhenAll(loads).WaitAsync(ct)))
        {
            EnsureSucceeded(response.Result, $"FunctionLoadRequest for {function.Name}");
        }

        return new LoadedWorker(workerHttpUri, functions, new StartupTimings(streamStarted, initialized, sinceProcessStart.Elapsed));
    }

    private static void EnsureSucceeded(StatusResult? result, string step)
    {
        if (result?.Status != StatusResult.Types.Status.Success)
        {
            throw new InvalidOperationException($"The worker answered {step} with {result?.Status.ToString() ?? "no status"}: {result?.Exception?.Message}");
        }
    }
}
