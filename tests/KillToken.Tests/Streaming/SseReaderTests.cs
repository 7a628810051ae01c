using System.Text;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Tests.Streaming;

/// <summary>The event-stream splitter the passthrough rests on: every line ending, any chunking of the bytes, exact bytes kept.</summary>
[TestClass]
public sealed class SseReaderTests
{
    private static async Task<List<ServerSentEvent>> ReadAllAsync(string text, int chunkSize)
    {
        var reader = new SseReader(new TrickleStream(Encoding.UTF8.GetBytes(text), chunkSize));
        var events = new List<ServerSentEvent>();
        while (await reader.ReadAsync(CancellationToken.None) is { } next)
        {
            events.Add(next);
        }

        return events;
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    [DataRow(4096)]
    public async Task SplitsEvents_OnLfCrlfAndCr_HoweverTheBytesArrive(int chunkSize)
    {
        const string text = "event: message_start\ndata: {\"a\":1}\n\n"
            + "data: one\r\ndata: two\r\n\r\n"
            + ": keep-alive\r\r"
            + "data: [DONE]\n\n";

        var events = await ReadAllAsync(text, chunkSize);

        Assert.HasCount(4, events);
        Assert.AreEqual("message_start", events[0].Name);
        Assert.AreEqual("{\"a\":1}", events[0].Data);
        Assert.AreEqual("one\ntwo", events[1].Data, "data lines join with LF");
        Assert.IsNull(events[2].Name);
        Assert.AreEqual(string.Empty, events[2].Data, "a comment is an event with no data, forwarded as it is");
        Assert.AreEqual("[DONE]", events[3].Data);
        Assert.AreEqual(text, string.Concat(events.Select(e => Encoding.UTF8.GetString(e.Raw.Span))), "the bytes are kept exactly");
    }

    [TestMethod]
    public async Task LastEventWithoutItsBlankLine_StillCounts_AndMultibyteTextSurvivesSplitting()
    {
        var events = await ReadAllAsync("data: héllo – 世界\n\ndata: tail", chunkSize: 1);

        Assert.HasCount(2, events);
        Assert.AreEqual("héllo – 世界", events[0].Data);
        Assert.AreEqual("tail", events[1].Data);
    }

    [TestMethod]
    public async Task AnEventLargerThanTheLimit_IsAnError_NotUnboundedMemory()
    {
        var reader = new SseReader(new MemoryStream(Encoding.UTF8.GetBytes("data: " + new string('x', 100_000))), maxEventBytes: 32 * 1024);
        await Assert.ThrowsExactlyAsync<InvalidDataException>(async () => await reader.ReadAsync(CancellationToken.None));
    }

    /// <summary>Hands out at most <c>chunkSize</c> bytes per read, like a network that splits anywhere.</summary>
    private sealed class TrickleStream(byte[] bytes, int chunkSize) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunkSize)], cancellationToken);
    }
}
