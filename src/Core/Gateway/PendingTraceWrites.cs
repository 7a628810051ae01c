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
    private readonly ConcurrentDictionary<long, Task> _inFlight = new();
    private long _lastId;

    /// <summary>Writes started and not yet finished.</summary>
    public int Count => _inFlight.Count;

    /// <summary>Starts <paramref name="write"/> on the thread pool and keeps it until it ends. The write must not throw.</summary>
    public void Start(Func<Task> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var id = Interlocked.Increment(ref _lastId);
        var task = Task.Run(write);
        _inFlight[id] = task;
        // Registered after the add, so a write that already ended is removed at once.
        task.ContinueWith(_ => _inFlight.TryRemove(id, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
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
