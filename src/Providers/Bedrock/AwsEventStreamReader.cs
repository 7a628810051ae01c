using System.Buffers.Binary;
using System.Text;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.Bedrock;

/// <summary>One message of AWS's binary event stream: its string headers (other header types are skipped) and its payload.</summary>
internal sealed record AwsEventStreamMessage(IReadOnlyDictionary<string, string> Headers, ReadOnlyMemory<byte> Payload)
{
    public string? Header(string name) => Headers.GetValueOrDefault(name);
}

/// <summary>
/// Decodes <c>application/vnd.amazon.eventstream</c> as the bytes arrive, one message at a time: a 12-byte prelude (total
/// length, headers length, CRC32 of those 8 bytes), headers, payload, CRC32 of all that precedes it — all big-endian.
/// A bad CRC, an impossible length or a body that ends inside a message throws <see cref="InvalidDataException"/>.
/// Each <c>event</c> message becomes a <see cref="ServerSentEvent"/> named by its <c>:event-type</c>, its JSON payload as data;
/// an <c>exception</c> message one named by its <c>:exception-type</c> (as the API's stream union names them).
/// </summary>
internal sealed class AwsEventStreamReader(Stream stream) : IProviderEventReader
{
    /// <summary>The format's own limits: payload up to 16 MiB, headers up to 128 KiB.</summary>
    public const int MaxMessageBytes = (16 * 1024 * 1024) + (128 * 1024) + 16;

    private const int PreludeBytes = 12;
    private const int CrcBytes = 4;

    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private bool _eof;

    public async ValueTask<ServerSentEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        while (await ReadMessageAsync(cancellationToken) is { } message)
        {
            if (ToEvent(message) is { } sse)
            {
                return sse;
            }
        }

        return null;
    }

    /// <summary>The next message, or null when the body ended cleanly between messages.</summary>
    public async ValueTask<AwsEventStreamMessage?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var available = _end - _start;
            var total = available >= PreludeBytes ? CheckPrelude(_buffer.AsSpan(_start, PreludeBytes)) : 0;
            if (total > 0 && available >= total)
            {
                var message = Decode(_buffer.AsSpan(_start, total));
                _start += total;
                return message;
            }

            if (_eof)
            {
                return available == 0 ? null : throw new InvalidDataException($"the event stream ended inside a message ({available} bytes of it arrived).");
            }

            MakeRoom(Math.Max(total, PreludeBytes));
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            _eof = read == 0;
            _end += read;
        }
    }

    /// <summary>The message's total length, once its prelude checks out.</summary>
    private static int CheckPrelude(ReadOnlySpan<byte> prelude)
    {
        var total = BinaryPrimitives.ReadUInt32BigEndian(prelude);
        var headers = BinaryPrimitives.ReadUInt32BigEndian(prelude[4..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(prelude[8..]) != Crc32.Compute(prelude[..8]))
        {
            throw new InvalidDataException("an event stream message's prelude CRC does not match.");
        }

        if (total < PreludeBytes + CrcBytes || total > MaxMessageBytes || headers > total - PreludeBytes - CrcBytes)
        {
            throw new InvalidDataException($"an event stream message claims an impossible length ({total} bytes, {headers} of headers).");
        }

        return (int)total;
    }

    private static AwsEventStreamMessage Decode(ReadOnlySpan<byte> message)
    {
        var crcAt = message.Length - CrcBytes;
        if (BinaryPrimitives.ReadUInt32BigEndian(message[crcAt..]) != Crc32.Compute(message[..crcAt]))
        {
            throw new InvalidDataException("an event stream message's CRC does not match.");
        }

        var headersLength = (int)BinaryPrimitives.ReadUInt32BigEndian(message[4..]);
        var headers = ReadHeaders(message.Slice(PreludeBytes, headersLength));
        return new AwsEventStreamMessage(headers, message[(PreludeBytes + headersLength)..crcAt].ToArray());
    }

    /// <summary>Each header: name length (1 byte), name, value type (1 byte), value. Only strings (type 7) are kept.</summary>
    private static Dictionary<string, string> ReadHeaders(ReadOnlySpan<byte> bytes)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        var at = 0;
        while (at < bytes.Length)
        {
            var nameLength = bytes[at++];
            var name = Encoding.UTF8.GetString(Take(bytes, ref at, nameLength));
            var type = Take(bytes, ref at, 1)[0];
            switch (type)
            {
                case 0 or 1: // true, false: no value bytes
                    break;
                case 2:
                    Take(bytes, ref at, 1);
                    break;
                case 3:
                    Take(bytes, ref at, 2);
                    break;
                case 4:
                    Take(bytes, ref at, 4);
                    break;
                case 5 or 8: // long, timestamp
                    Take(bytes, ref at, 8);
                    break;
                case 6 or 7: // byte array, string: 2-byte length first
                    var length = BinaryPrimitives.ReadUInt16BigEndian(Take(bytes, ref at, 2));
                    var value = Take(bytes, ref at, length);
                    if (type == 7)
                    {
                        headers[name] = Encoding.UTF8.GetString(value);
                    }

                    break;
                case 9: // uuid
                    Take(bytes, ref at, 16);
                    break;
                default:
                    throw new InvalidDataException($"an event stream header has an unknown value type {type}.");
            }
        }

        return headers;
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> bytes, ref int at, int count)
    {
        if (count > bytes.Length - at)
        {
            throw new InvalidDataException("an event stream header runs past the headers' length.");
        }

        var slice = bytes.Slice(at, count);
        at += count;
        return slice;
    }

    /// <summary>Events and exceptions as server-sent events; other message types (none in Converse) are skipped.</summary>
    private static ServerSentEvent? ToEvent(AwsEventStreamMessage message)
    {
        var data = Encoding.UTF8.GetString(message.Payload.Span);
        return message.Header(":message-type") switch
        {
            "event" => ServerSentEvent.Create(message.Header(":event-type") ?? "unknown", data),
            "exception" => ServerSentEvent.Create(message.Header(":exception-type") ?? BedrockStream.ErrorEvent, data),
            "error" => ServerSentEvent.Json(BedrockStream.ErrorEvent, new System.Text.Json.Nodes.JsonObject
            {
                ["code"] = message.Header(":error-code"),
                ["message"] = message.Header(":error-message"),
            }),
            _ => null,
        };
    }

    /// <summary>Shifts the unread bytes to the front and grows the buffer until <paramref name="needed"/> bytes fit.</summary>
    private void MakeRoom(int needed)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length || needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, Math.Min(_buffer.Length * 2, MaxMessageBytes)));
        }
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of AWS event stream messages.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
