using System.Buffers;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Http;

/// <summary>Reads a JSON body within the size limit (413 request_too_large) and content type (415).</summary>
public static class RequestBody
{
    public static async Task<(byte[]? Body, GatewayError? Error)> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (!IsJson(request.ContentType))
        {
            return (null, new GatewayError(415, ErrorCodes.UnsupportedMediaType, "Send the body as application/json."));
        }

        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        try
        {
            return await ReadAsync(request, maxBytes, cancellationToken);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // The server's own limit (Kestrel's, at the setting's ceiling) stopped a chunked body first.
            return (null, TooLarge(maxBytes));
        }
    }

    private static async Task<(byte[]? Body, GatewayError? Error)> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } length)
        {
            return length == 0 ? (null, Empty()) : (await ReadExactlyAsync(request.Body, (int)length, cancellationToken), null);
        }

        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            var memory = buffer.GetMemory(4096);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes)
            {
                return (null, TooLarge(maxBytes));
            }
        }

        return buffer.WrittenCount == 0 ? (null, Empty()) : (buffer.WrittenSpan.ToArray(), null);
    }

    /// <summary>
    /// A body of a declared length (within the limit) read into one array of that size: no growing buffer, no copy.
    /// The server never reads past the declared length; a body cut short is what arrived (and fails as JSON).
    /// </summary>
    private static async Task<byte[]> ReadExactlyAsync(Stream body, int length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        var filled = 0;
        while (filled < length)
        {
            var read = await body.ReadAsync(bytes.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return bytes[..filled];
            }

            filled += read;
        }

        return bytes;
    }

    private static GatewayError Empty() => GatewayError.BadRequest(ErrorCodes.InvalidJson, "The request body is empty.");

    private static GatewayError TooLarge(long maxBytes) =>
        new(413, ErrorCodes.RequestTooLarge, $"The request body is larger than {maxBytes} bytes.");

    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }
}
