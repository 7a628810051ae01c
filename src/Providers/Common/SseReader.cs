using System.Text;
using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>
/// Splits a text/event-stream into events as the bytes arrive (html.spec.whatwg.org/multipage/server-sent-events.html):
/// lines end in CRLF, LF or CR; a blank line ends an event. Each event keeps its exact bytes, so it can be forwarded
/// unchanged, and its parsed <c>event</c> and <c>data</c> fields.
/// </summary>
internal sealed class SseReader(Stream stream, int maxEventBytes = SseReader.DefaultMaxEventBytes) : IProviderEventReader
{
    public const int DefaultMaxEventBytes = 8 * 1024 * 1024;

    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>The next event, or null at the end of the stream. A last event without its blank line still counts.</summary>
    public async ValueTask<ServerSentEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var length = FindEventEnd(_eof);
            if (length > 0)
            {
                var raw = _buffer.AsMemory(_start, length).ToArray();
                _start += length;
                var parsed = Parse(raw);
                if (parsed is not null)
                {
                    return parsed;
                }

                continue; // blank lines between events
            }

            if (_eof)
            {
                return null;
            }

            MakeRoom();
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                _eof = true;
            }

            _end += read;
        }
    }

    /// <summary>The length of the first complete event in the buffer (through its blank line), or 0 when more bytes are needed.</summary>
    private int FindEventEnd(bool atEnd)
    {
        var lineStart = _start;
        for (var i = _start; i < _end; i++)
        {
            var b = _buffer[i];
            if (b is not ((byte)'\r' or (byte)'\n'))
            {
                continue;
            }

            int terminator;
            if (b == '\r')
            {
                if (i + 1 >= _end && !atEnd)
                {
                    return 0; // a CR at the buffer's end may be half of a CRLF
                }

                terminator = i + 1 < _end && _buffer[i + 1] == '\n' ? 2 : 1;
            }
            else
            {
                terminator = 1;
            }

            if (i == lineStart)
            {
                return i + terminator - _start; // a blank line: the event ends here
            }

            i += terminator - 1;
            lineStart = i + 1;
        }

        return atEnd && _end > _start ? _end - _start : 0;
    }

    private void MakeRoom()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= maxEventBytes)
            {
                throw new InvalidDataException($"A server-sent event is larger than {maxEventBytes} bytes.");
            }

            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, maxEventBytes));
        }
    }

    /// <summary>The event's fields; null for blank lines only.</summary>
    private static ServerSentEvent? Parse(byte[] raw)
    {
        var text = Encoding.UTF8.GetString(raw);
        string? name = null;
        StringBuilder? data = null;
        var sawLine = false;
        foreach (var line in text.Split(["\r\n", "\n", "\r"], StringSplitOptions.None))
        {
            if (line.Length == 0)
            {
                continue;
            }

            sawLine = true;
            if (line[0] == ':')
            {
                continue; // a comment (keep-alive)
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event":
                    name = value;
                    break;
                case "data":
                    if (data is null)
                    {
                        data = new StringBuilder();
                    }
                    else
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    break;
            }
        }

        return sawLine ? new ServerSentEvent(raw, name, data?.ToString() ?? string.Empty) : null;
    }
}
