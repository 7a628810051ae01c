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

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, maxBytes) + 1);
        while (true)
        {
            var memory = buffer.GetMemory(8192);
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

        if (buffer.WrittenCount == 0)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidJson, "The request body is empty."));
        }

        return (buffer.WrittenSpan.ToArray(), null);
    }

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
