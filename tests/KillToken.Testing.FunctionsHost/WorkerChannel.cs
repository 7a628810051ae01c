using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KillToken.Testing.FunctionsHost.Rpc;
using GrpcException = Grpc.Core.RpcException;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// The host's end of the worker's one <c>EventStream</c>: sends requests (one write at a time, as gRPC requires) and
/// pairs each response with its request by what it answers (init, metadata, a function id, an invocation id), since
/// the worker answers in any order and logs in between. Every InvocationResponse is also recorded.
/// </summary>
internal sealed class WorkerChannel : IDisposable
{
    private const string InitKey = "init";
    private const string MetadataKey = "metadata";

    private readonly string _workerId;
    private readonly OutputLog _output;
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _pending = new();
    private readonly ConcurrentDictionary<string, string> _invocationFunctions = new();
    private readonly ConcurrentQueue<InvocationResult> _invocations = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private IServerStreamWriter<StreamingMessage>? _writer;
    private volatile bool _closed;

    public WorkerChannel(string workerId, OutputLog output)
    {
        _workerId = workerId;
        _output = output;
    }

    /// <summary>Completes when the worker has opened the stream with its StartStream.</summary>
    public Task Connected => _connected.Task;

    public bool IsOpen => _writer is not null && !_closed;

    public IReadOnlyList<InvocationResult> Invocations => [.. _invocations];

    public async Task<WorkerInitResponse> InitializeAsync(WorkerInitRequest request, CancellationToken ct)
    {
        var response = await ExchangeAsync(new StreamingMessage { WorkerInitRequest = request }, InitKey, ct);
        return await response.WaitAsync(ct) is { WorkerInitResponse: { } init } ? init : throw Unexpected(InitKey);
    }

    public async Task<FunctionMetadataResponse> GetMetadataAsync(FunctionsMetadataRequest request, CancellationToken ct)
    {
        var response = await ExchangeAsync(new StreamingMessage { FunctionsMetadataRequest = request }, MetadataKey, ct);
        return await response.WaitAsync(ct) is { FunctionMetadataResponse: { } metadata } ? metadata : throw Unexpected(MetadataKey);
    }

    /// <summary>Sends the load request; the returned task completes with the worker's FunctionLoadResponse.</summary>
    public async Task<Task<FunctionLoadResponse>> StartLoadAsync(FunctionLoadRequest request, CancellationToken ct)
    {
        var key = LoadKey(request.FunctionId);
        var response = await ExchangeAsync(new StreamingMessage { FunctionLoadRequest = request }, key, ct);
        return LoadResultOf(response, key);
    }

    /// <summary>Sends the invocation; the returned task completes when its InvocationResponse arrives (already recorded then).</summary>
    public async Task<Task<InvocationResult>> StartInvocationAsync(InvocationRequest request, string functionName, CancellationToken ct)
    {
        _invocationFunctions[request.InvocationId] = functionName;
        var response = await ExchangeAsync(new StreamingMessage { InvocationRequest = request }, InvocationKey(request.InvocationId), ct);
        return ResultOf(response, functionName, request.InvocationId);
    }

    /// <summary>The worker stops its host on this and closes the stream; it sends no answer.</summary>
    public Task TerminateAsync(TimeSpan gracePeriod, CancellationToken ct) =>
        WriteAsync(new StreamingMessage { WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(gracePeriod) } }, ct);

    /// <summary>The body of the gRPC call: accepts the worker's StartStream, then reads until the worker or the host ends it.</summary>
    public async Task RunAsync(IAsyncStreamReader<StreamingMessage> requests, IServerStreamWriter<StreamingMessage> responses, CancellationToken callAborted)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(callAborted, _stopping.Token);
        if (!await requests.MoveNext(reading.Token))
        {
            return;
        }

        var first = requests.Current;
        if (first.StartStream is null || first.StartStream.WorkerId != _workerId)
        {
            _output.Add($"[host] refused a stream that did not open with this worker's StartStream: {first}");
            throw new GrpcException(new Status(StatusCode.FailedPrecondition, "Expected StartStream from worker " + _workerId));
        }

        if (Interlocked.CompareExchange(ref _writer, responses, null) is not null)
        {
            throw new GrpcException(new Status(StatusCode.AlreadyExists, "The worker's stream is already open."));
        }

        _connected.TrySetResult();
        try
        {
            while (await requests.MoveNext(reading.Token))
            {
                Dispatch(requests.Current);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || _stopping.IsCancellationRequested)
        {
            // The host is stopping, or the worker went away without closing the stream (killed).
        }
        finally
        {
            Close("The worker's stream closed.");
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        Close("The host stopped.");
    }

    private static string LoadKey(string functionId) => "load/" + functionId;

    private static string InvocationKey(string invocationId) => "invocation/" + invocationId;

    private static InvalidOperationException Unexpected(string key) => new($"The worker answered '{key}' with another kind of message.");

    /// <summary>Registers the wait for the answer before sending, so an answer cannot arrive unobserved.</summary>
    private async Task<Task<StreamingMessage>> ExchangeAsync(StreamingMessage request, string responseKey, CancellationToken ct)
    {
        var answer = new TaskCompletionSource<StreamingMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_pending.TryAdd(responseKey, answer))
        {
            throw new InvalidOperationException($"A request for '{responseKey}' is already waiting for its answer.");
        }

        try
        {
            await WriteAsync(request, ct);
        }
        catch
        {
            _pending.TryRemove(responseKey, out _);
            throw;
        }

        return answer.Task;
    }

    private async Task WriteAsync(StreamingMessage message, CancellationToken ct)
    {
        await Connected.WaitAsync(ct);
        await _writeLock.WaitAsync(ct);
        try
        {
            if (_closed)
            {
                throw new InvalidOperationException("The worker's stream is closed.");
            }

            await _writer!.WriteAsync(message, ct);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Dispatch(StreamingMessage message)
    {
        switch (message.ContentCase)
        {
            case StreamingMessage.ContentOneofCase.RpcLog:
                _output.Add(Describe(message.RpcLog));
                break;
            case StreamingMessage.ContentOneofCase.WorkerInitResponse:
                Answer(InitKey, message);
                break;
            case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
                Answer(MetadataKey, message);
                break;
            case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                Answer(LoadKey(message.FunctionLoadResponse.FunctionId), message);
                break;
            case StreamingMessage.ContentOneofCase.InvocationResponse:
                Record(message.InvocationResponse);
                Answer(InvocationKey(message.InvocationResponse.InvocationId), message);
                break;
            case StreamingMessage.ContentOneofCase.None when message.CalculateSize() == 0:
                // The worker answers every request, WorkerTerminate included, and that answer has no content.
                _output.Add("[host] the worker sent an empty message (its answer to WorkerTerminate)");
                break;
            default:
                _output.Add($"[host] ignored a message this host does not handle: {message}");
                break;
        }
    }

    private void Answer(string key, StreamingMessage message)
    {
        if (_pending.TryRemove(key, out var answer))
        {
            answer.TrySetResult(message);
        }
        else
        {
            _output.Add($"[host] an answer nobody asked for ('{key}'): {message}");
        }
    }

    private void Record(InvocationResponse response)
    {
        _invocationFunctions.TryRemove(response.InvocationId, out var functionName);
        _invocations.Enqueue(ToResult(response, functionName ?? "(unknown)"));
    }

    private static async Task<FunctionLoadResponse> LoadResultOf(Task<StreamingMessage> response, string key) =>
        (await response).FunctionLoadResponse ?? throw Unexpected(key);

    private static async Task<InvocationResult> ResultOf(Task<StreamingMessage> response, string functionName, string invocationId)
    {
        var message = await response;
        return message.InvocationResponse is { } invocation
            ? ToResult(invocation, functionName)
            : throw Unexpected(InvocationKey(invocationId));
    }

    private static InvocationResult ToResult(InvocationResponse response, string functionName) =>
        new(functionName, response.InvocationId, (response.Result?.Status ?? StatusResult.Types.Status.Failure).ToString(),
            response.Result?.Exception?.Message is { Length: > 0 } message ? message : null);

    private static string Describe(RpcLog log)
    {
        var exception = log.Exception is null ? "" : $" | {(log.Exception.Type.Length > 0 ? log.Exception.Type + ": " : "")}{log.Exception.Message}";
        return $"[rpc {log.Level} {log.Category}] {log.Message}{exception}";
    }

    /// <summary>Ends every wait still open: no answer can come once the stream is gone.</summary>
    private void Close(string reason)
    {
        _closed = true;
        _connected.TrySetException(new InvalidOperationException(reason));
        foreach (var key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out var answer))
            {
                answer.TrySetException(new InvalidOperationException($"{reason} No answer came for '{key}'."));
            }
        }
    }
}
