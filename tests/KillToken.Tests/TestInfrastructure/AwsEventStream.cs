using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The test side of AWS's binary event stream (<c>application/vnd.amazon.eventstream</c>): an encoder with its own
/// CRC-32 (bitwise, independent of the gateway's table), Bedrock ConverseStream fixtures and an upstream handler that
/// writes messages one by one, flushing each.
/// </summary>
internal static class AwsEventStream
{
    public const string MediaType = "application/vnd.amazon.eventstream";

    /// <summary>One header value: a string (type 7) or, to exercise skipping, any raw typed value.</summary>
    public sealed record HeaderValue(byte Type, byte[] Value)
    {
        public static HeaderValue String(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            var encoded = new byte[2 + bytes.Length];
            BinaryPrimitives.WriteUInt16BigEndian(encoded, (ushort)bytes.Length);
            bytes.CopyTo(encoded, 2);
            return new HeaderValue(7, encoded);
        }
    }

    /// <summary>prelude (total length, headers length, CRC of those 8 bytes), headers, payload, CRC of everything before.</summary>
    public static byte[] Encode(IEnumerable<(string Name, HeaderValue Value)> headers, byte[] payload)
    {
        using var headerBytes = new MemoryStream();
        foreach (var (name, value) in headers)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            headerBytes.WriteByte((byte)nameBytes.Length);
            headerBytes.Write(nameBytes);
            headerBytes.WriteByte(value.Type);
            headerBytes.Write(value.Value);
        }

        var headersLength = (int)headerBytes.Length;
        var total = 12 + headersLength + payload.Length + 4;
        var message = new byte[total];
        BinaryPrimitives.WriteUInt32BigEndian(message, (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), (uint)headersLength);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8), Crc32(message.AsSpan(0, 8)));
        headerBytes.ToArray().CopyTo(message, 12);
        payload.CopyTo(message, 12 + headersLength);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(total - 4), Crc32(message.AsSpan(0, total - 4)));
        return message;
    }

    public static byte[] Event(string eventType, string json) => Encode(
    [
        (":event-type", HeaderValue.String(eventType)),
        (":content-type", HeaderValue.String("application/json")),
        (":message-type", HeaderValue.String("event")),
    ], Encoding.UTF8.GetBytes(json));

    public static byte[] Exception(string exceptionType, string message) => Encode(
    [
        (":exception-type", HeaderValue.String(exceptionType)),
        (":content-type", HeaderValue.String("application/json")),
        (":message-type", HeaderValue.String("exception")),
    ], Encoding.UTF8.GetBytes(new JsonObject { ["message"] = message }.ToJsonString()));

    /// <summary>
    /// A ConverseStream answer as the API reference lays it out (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html):
    /// messageStart, text deltas for block 0, contentBlockStop, messageStop, then metadata with usage and metrics.
    /// With <paramref name="toolCall"/>, a toolUse block 1 (contentBlockStart, partial-JSON input deltas) and stopReason tool_use.
    /// </summary>
    public static List<byte[]> ConverseStream(string[]? pieces = null, int input = 25, int output = 12, int cacheRead = 0, int cacheWrite = 0,
        bool toolCall = false, bool stop = true, bool metadata = true)
    {
        pieces ??= ["Hello", " from", " Bedrock!"];
        var messages = new List<byte[]> { Event("messageStart", """{"role":"assistant"}""") };
        messages.AddRange(pieces.Select(p => Event("contentBlockDelta",
            $$$"""{"contentBlockIndex":0,"delta":{"text":{{{JsonValue.Create(p).ToJsonString()}}}}}""")));
        messages.Add(Event("contentBlockStop", """{"contentBlockIndex":0}"""));
        if (toolCall)
        {
            messages.Add(Event("contentBlockStart", """{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"get_weather"}}}"""));
            messages.Add(Event("contentBlockDelta", """{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}}}"""));
            messages.Add(Event("contentBlockDelta", """{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Boston\"}"}}}"""));
            messages.Add(Event("contentBlockStop", """{"contentBlockIndex":1}"""));
        }

        if (stop)
        {
            messages.Add(Event("messageStop", toolCall ? """{"stopReason":"tool_use"}""" : """{"stopReason":"end_turn"}"""));
        }

        if (metadata)
        {
            messages.Add(Event("metadata", $$$"""{"usage":{"inputTokens":{{{input}}},"outputTokens":{{{output}}},"totalTokens":{{{input + output + cacheRead + cacheWrite}}},"cacheReadInputTokens":{{{cacheRead}}},"cacheWriteInputTokens":{{{cacheWrite}}}},"metrics":{"latencyMs":318}}"""));
        }

        return messages;
    }

    /// <summary>Writes <paramref name="messages"/> as an event stream, flushing after each message.</summary>
    public static Func<HttpContext, UpstreamRequest, Task> Serve(IReadOnlyList<byte[]> messages) => async (context, _) =>
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = MediaType;
        context.Response.Headers["x-amzn-RequestId"] = "3bc4f2b1-5b9e-4d43-9f0a-0d1b1c1ad6a2";
        foreach (var message in messages)
        {
            await context.Response.Body.WriteAsync(message, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    };

    /// <summary>CRC-32/ISO-HDLC computed bit by bit (polynomial 0xEDB88320, reflected, initial and final XOR 0xFFFFFFFF).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
            }
        }

        return ~crc;
    }
}
