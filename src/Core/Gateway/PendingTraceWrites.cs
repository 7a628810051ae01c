using System.Collections.Concurrent;

namespace KillToken.Core.Gateway;

/// <summary>
/// The trace writes (each with its budget settlement) that calls started and did not wait for: the answer goes out while
/// its trace is committed, so the store's write is no longer part of the latency a caller sees. Reads that report on
/// traces wait for the writes started before them (<see cref="WhenWrittenAsync"/>: a caller reads its own call), and a
/// clean shutdown waits for all of them (<see cref="DrainAsync"/>). What a crash can lose is the writes still in here:
/// the calls answered in the last moments before it, never more than those in flight.
/// </summary>
public sealed class PendingTraceWrites
{
    /// <summary>
    /// Writes allowed under way at once. Past it a call waits for room before its answer goes out, so a store slower
    /// than the traffic slows the calls (as a write on the request path did) instead of queueing traces without end.
    /// </summary>
    public const int MaxUnderWay = 256;

    private readonly ConcurrentDictionary<long, Task> _inFlight = new();
    private readonly SemaphoreSlim _room = new(MaxUnderWay, MaxUnderWay);
    private long _lastId;

    /// <summary>Writes started and not yet finished.</summary>
    public int Count => _inFlight.Count;

    /// <summary>
    /// Starts <paramref name="write"/> on the thread pool and keeps it until it ends; completes once it has started
    /// (at once unless <see cref="MaxUnderWay"/> writes are under way). The write must not throw.
    /// </summary>
    public async ValueTask StartAsync(Func<Task> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (!_room.Wait(0))
        {
            await _room.WaitAsync();
        }

        var id = Interlocked.Increment(ref _lastId);
        var task = Task.Run(write);
        _inFlight[id] = task;
        // Registered after the add, so a write that already ended is removed at once.
        _ = task.ContinueWith(_ =>
        {
            _inFlight.TryRemove(id, out var _);
            _room.Release();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes when every write started before this call has ended (those started after are not waited for).</summary>
    public Task WhenWrittenAsync(CancellationToken cancellationToken = default)
    {
        if (_inFlight.IsEmpty)
        {
            return Task.CompletedTask;
        }

        var started = _inFlight.Values.ToArray();
        return Task.WhenAll(started).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
            .WaitAsync(cancellationToken);
    }

    /// <summary>Waits until no write is left, including those started while waiting (a host stopping after its last calls).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        while (!_inFlight.IsEmpty)
        {
            await WhenWrittenAsync(cancellationToken);
        }
    }
}
