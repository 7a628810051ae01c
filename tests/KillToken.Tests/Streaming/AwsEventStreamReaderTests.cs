using System.Text;
using KillToken.Core.Providers;
using KillToken.Providers.Bedrock;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Streaming;

/// <summary>The decoder of AWS's binary event stream: any chunking of the bytes, every header type, CRCs checked, truncation caught.</summary>
[TestClass]
public sealed class AwsEventStreamReaderTests
{
    private static async Task<List<ServerSentEvent>> ReadAllAsync(byte[] bytes, int chunkSize)
    {
        var reader = new AwsEventStreamReader(new TrickleStream(bytes, chunkSize));
        var events = new List<ServerSentEvent>();
        while (await reader.ReadAsync(CancellationToken.None) is { } next)
        {
            events.Add(next);
        }

        return events;
    }

    [TestMethod]
    public void Crc32_MatchesTheStandardCheckValue()
    {
        var check = Encoding.ASCII.GetBytes("123456789");
        Assert.AreEqual(0xCBF43926u, Crc32.Compute(check));
        Assert.AreEqual(0xCBF43926u, AwsEventStream.Crc32(check), "the test encoder's own CRC agrees");
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(5)]
    [DataRow(13)]
    [DataRow(65536)]
    public async Task DecodesMessages_HoweverTheBytesArrive(int chunkSize)
    {
        var bytes = AwsEventStream.ConverseStream(toolCall: true, cacheRead: 7).SelectMany(m => m).ToArray();

        var events = await ReadAllAsync(bytes, chunkSize);

        CollectionAssert.AreEqual(new[]
        {
            "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockStop",
            "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
        }, events.Select(e => e.Name).ToList());
        Assert.AreEqual("""{"contentBlockIndex":0,"delta":{"text":" from"}}""", events[2].Data);
        Assert.AreEqual("event: contentBlockDelta\ndata: {\"contentBlockIndex\":0,\"delta\":{\"text\":\" from\"}}\n\n", Encoding.UTF8.GetString(events[2].Raw.Span));
        StringAssert.Contains(events[^1].Data, "\"cacheReadInputTokens\":7");
    }

    [TestMethod]
    public async Task HeadersOfEveryType_AreSkippedButStringsKept()
    {
        var message = AwsEventStream.Encode(
        [
            ("flag-true", new AwsEventStream.HeaderValue(0, [])),
            ("flag-false", new AwsEventStream.HeaderValue(1, [])),
            ("byte", new AwsEventStream.HeaderValue(2, [0x7f])),
            ("short", new AwsEventStream.HeaderValue(3, [0x01, 0x02])),
            ("int", new AwsEventStream.HeaderValue(4, [0, 0, 1, 0])),
            ("long", new AwsEventStream.HeaderValue(5, new byte[8])),
            ("bytes", new AwsEventStream.HeaderValue(6, [0, 3, 1, 2, 3])),
            (":event-type", AwsEventStream.HeaderValue.String("messageStart")),
            ("timestamp", new AwsEventStream.HeaderValue(8, new byte[8])),
            ("uuid", new AwsEventStream.HeaderValue(9, new byte[16])),
            (":message-type", AwsEventStream.HeaderValue.String("event")),
        ], Encoding.UTF8.GetBytes("""{"role":"assistant"}"""));

        var events = await ReadAllAsync(message, 3);

        Assert.AreEqual(1, events.Count);
        Assert.AreEqual("messageStart", events[0].Name);
        Assert.AreEqual("""{"role":"assistant"}""", events[0].Data);
    }

    [TestMethod]
    public async Task AnExceptionMessage_IsAnEventNamedByItsType()
    {
        var events = await ReadAllAsync(AwsEventStream.Exception("throttlingException", "Too many requests, please wait before trying again."), 4);

        Assert.AreEqual("throttlingException", events.Single().Name);
        StringAssert.Contains(events[0].Data, "Too many requests");
    }

    [TestMethod]
    [DataRow(20, DisplayName = "a header byte")]
    [DataRow(-1, DisplayName = "the message CRC")]
    [DataRow(9, DisplayName = "the prelude CRC")]
    [DataRow(2, DisplayName = "the total length")]
    public async Task ACorruptedByte_IsInvalidData(int at)
    {
        var messages = AwsEventStream.ConverseStream();
        var corrupted = messages[1].ToArray();
        corrupted[at < 0 ? corrupted.Length + at : at] ^= 0x5a;
        var bytes = messages[0].Concat(corrupted).ToArray();

        var reader = new AwsEventStreamReader(new TrickleStream(bytes, 1));
        Assert.AreEqual("messageStart", (await reader.ReadAsync(CancellationToken.None))!.Name, "the intact message before it still decodes");
        await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadAsync(CancellationToken.None));
    }

    [TestMethod]
    [DataRow(5, DisplayName = "inside the prelude")]
    [DataRow(30, DisplayName = "inside the payload")]
    public async Task ABodyEndingInsideAMessage_IsInvalidData(int keep)
    {
        var messages = AwsEventStream.ConverseStream();
        var bytes = messages[0].Concat(messages[1].Take(keep)).ToArray();

        var reader = new AwsEventStreamReader(new TrickleStream(bytes, 2));
        Assert.IsNotNull(await reader.ReadAsync(CancellationToken.None));
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadAsync(CancellationToken.None));
        StringAssert.Contains(error.Message, "ended inside a message");
    }

    [TestMethod]
    public async Task AnEmptyBody_HasNoEvents()
    {
        Assert.AreEqual(0, (await ReadAllAsync([], 1)).Count);
    }

    /// <summary>A stream that hands out at most <c>chunkSize</c> bytes per read, like a slow network.</summary>
    private sealed class TrickleStream(byte[] bytes, int chunkSize) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunkSize)], cancellationToken);
    }
}
