using System.Collections.Concurrent;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// Counter increments held in memory, summed per document key, until a flush writes each key's sum with one write.
/// Adding never waits on a write: a key being written keeps collecting the next sum. A flush of a key also waits for the
/// writes of that key already under way, so a read after it sees everything this instance was holding. A sum whose
/// write fails is held again, all of it or the part not applied, when <c>holdAgain</c> says so (else it is left to the
/// daily reconciliation).
/// </summary>
/// <summary>What of a failed write's sum to hold for the next flush: nothing, all of it, or what was not applied.</summary>
internal readonly record struct HoldAgain<TSum>(bool Keep, TSum Sum);

internal sealed class CosmosPendingSums<TKey, TSum>(Func<TSum, TSum, TSum> merge) where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Slot> _slots = new();

    /// <summary>Nothing held and nothing being written.</summary>
    public bool IsEmpty => _slots.IsEmpty;

    public void Add(TKey key, TSum value)
    {
        while (true)
        {
            var slot = _slots.GetOrAdd(key, static _ => new Slot());
            lock (slot.Gate)
            {
                if (slot.Removed)
                {
                    continue; // emptied and dropped by a write that just finished: take a fresh slot
                }

                slot.Sum = slot.HasSum ? merge(slot.Sum, value) : value;
                slot.HasSum = true;
                return;
            }
        }
    }

    /// <summary>Writes the sums of the keys <paramref name="which"/> selects (every key when null) and waits for their writes.</summary>
    public Task FlushAsync(Func<TKey, bool>? which, Func<TKey, TSum, Task> write, Func<TKey, TSum, Exception, HoldAgain<TSum>> holdAgain)
    {
        var writes = new List<Task>();
        foreach (var (key, slot) in _slots)
        {
            if (which is null || which(key))
            {
                writes.Add(Flush(key, slot, write, holdAgain));
            }
        }

        return writes.Count == 0 ? Task.CompletedTask : Task.WhenAll(writes);
    }

    /// <summary>Writes one key's sum, if any, and waits for its writes: a dictionary lookup when nothing is held.</summary>
    public Task FlushAsync(TKey key, Func<TKey, TSum, Task> write, Func<TKey, TSum, Exception, HoldAgain<TSum>> holdAgain) =>
        _slots.TryGetValue(key, out var slot) ? Flush(key, slot, write, holdAgain) : Task.CompletedTask;

    private Task Flush(TKey key, Slot slot, Func<TKey, TSum, Task> write, Func<TKey, TSum, Exception, HoldAgain<TSum>> holdAgain)
    {
        TSum sum;
        TaskCompletionSource written;
        Task all;
        lock (slot.Gate)
        {
            if (!slot.HasSum)
            {
                return slot.Written;
            }

            (sum, slot.Sum, slot.HasSum) = (slot.Sum, default!, false);
            written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            slot.Writes++;
            slot.Written = all = slot.Writes == 1 ? written.Task : Task.WhenAll(slot.Written, written.Task);
        }

        _ = WriteAsync(key, slot, sum, write, holdAgain, written);
        return all;
    }

    private async Task WriteAsync(TKey key, Slot slot, TSum sum, Func<TKey, TSum, Task> write, Func<TKey, TSum, Exception, HoldAgain<TSum>> holdAgain, TaskCompletionSource written)
    {
        try
        {
            await write(key, sum);
        }
        catch (Exception ex)
        {
            var again = holdAgain(key, sum, ex);
            if (again.Keep)
            {
                Add(key, again.Sum);
            }
        }
        finally
        {
            lock (slot.Gate)
            {
                slot.Writes--;
                if (slot.Writes == 0)
                {
                    slot.Written = Task.CompletedTask;
                    if (!slot.HasSum)
                    {
                        slot.Removed = true;
                        _slots.TryRemove(new KeyValuePair<TKey, Slot>(key, slot));
                    }
                }
            }

            written.TrySetResult();
        }
    }

    private sealed class Slot
    {
        public readonly Lock Gate = new();
        public TSum Sum = default!;
        public bool HasSum;
        public int Writes;
        public Task Written = Task.CompletedTask;
        public bool Removed;
    }
}
