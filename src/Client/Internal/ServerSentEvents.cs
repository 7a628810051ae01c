using System.Runtime.CompilerServices;
using System.Text;

namespace KillToken.Client.Internal;

/// <summary>One server-sent event: its <c>event:</c> name (if any) and its data lines joined by newlines.</summary>
internal sealed record ServerSentEvent(string? Name, string Data);

/// <summary>Reads <c>text/event-stream</c> as events arrive (the WHATWG parsing rules that matter here: comments, multi-line data, CRLF).</summary>
internal static class ServerSentEvents
{
    public static async IAsyncEnumerable<ServerSentEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? name = null;
        StringBuilder? data = null;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    yield return new ServerSentEvent(name, data.ToString());
                }

                (name, data) = (null, null);
                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? string.Empty : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            if (field == "event")
            {
                name = value;
            }
            else if (field == "data")
            {
                data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value);
            }
        }

        // An event the stream ended in the middle of is dropped, as the WHATWG rules say.
    }
}
