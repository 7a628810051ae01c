using KillToken.Core.Gateway;

namespace KillToken.Tests.Gateway;

/// <summary>
/// The writes calls leave under way: a reader waits for those started before it (it finds the call it was answered),
/// and a stopping host waits for all of them, including those started while it waits.
/// </summary>
[TestClass]
public sealed class PendingTraceWritesTests
{
    [TestMethod]
    public async Task WhenWritten_WaitsForTheWritesStartedBefore_AndNotForLaterOnes()
    {
        var pending = new PendingTraceWrites();
        var earlier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await pending.StartAsync(() => earlier.Task);
        var read = pending.WhenWrittenAsync();

        var later = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await pending.StartAsync(() => later.Task);
        await Task.Delay(50);
        Assert.IsFalse(read.IsCompleted, "a read waits for the write started before it");

        earlier.SetResult();
        await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.AreEqual(1, pending.Count, "the later write is still under way; the read did not wait for it");
        later.SetResult();
        await pending.DrainAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.AreEqual(0, pending.Count);
    }

    [TestMethod]
    public async Task Drain_WaitsForEveryWrite_IncludingOnesStartedWhileItWaits()
    {
        var pending = new PendingTraceWrites();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var written = 0;
        await pending.StartAsync(async () =>
        {
            await first.Task;
            Interlocked.Increment(ref written);
            // A call that finished during the stop starts its write while the drain waits.
            await pending.StartAsync(async () =>
            {
                await second.Task;
                Interlocked.Increment(ref written);
            });
        });

        var drain = pending.DrainAsync();
        first.SetResult();
        await Task.Delay(50);
        Assert.IsFalse(drain.IsCompleted, "the write started meanwhile is still under way");
        second.SetResult();
        await drain.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.AreEqual(2, written);
    }

    [TestMethod]
    public async Task AFailedWrite_DoesNotFailTheReaders()
    {
        var pending = new PendingTraceWrites();
        await pending.StartAsync(() => Task.FromException(new InvalidOperationException("store down")));
        await pending.WhenWrittenAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await pending.DrainAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.AreEqual(0, pending.Count);
    }

    [TestMethod]
    public async Task PastTheLimit_ACallWaitsForRoom_InsteadOfQueueingWithoutEnd()
    {
        var pending = new PendingTraceWrites();
        var store = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < PendingTraceWrites.MaxUnderWay; i++)
        {
            await pending.StartAsync(() => store.Task).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        var next = pending.StartAsync(() => Task.CompletedTask).AsTask();
        await Task.Delay(50);
        Assert.IsFalse(next.IsCompleted, "the call past the limit waits");
        Assert.AreEqual(PendingTraceWrites.MaxUnderWay, pending.Count);

        store.SetResult();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        await pending.DrainAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.AreEqual(0, pending.Count);
    }
}
