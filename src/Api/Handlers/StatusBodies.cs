using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// Bodies for the answers no handler wrote: an unknown route (404), a known route with another method (405), and any
/// other error status the framework sets with an empty body (a parameter it could not bind, a length it refused). Each
/// gets the contract's error shape, or the native SDK's on the wrapper routes, so a client's error handling always has
/// a code and a request id to show.
/// </summary>
public static class StatusBodies
{
    /// <summary>The Functions host's last route: whatever no function matched reaches <see cref="Unmatched"/>.</summary>
    public const string CatchAllRoute = "{*path}";

    /// <summary>The error for a status the framework set on its own, or null when the status is not an error.</summary>
    public static GatewayError? ForStatus(HttpContext context, int status)
    {
        ArgumentNullException.ThrowIfNull(context);
        return status switch
        {
            404 => new GatewayError(404, ErrorCodes.NotFound, "There is no such route. The routes are listed in the README."),
            405 => new GatewayError(405, ErrorCodes.MethodNotAllowed, AllowedMessage(context)),
            400 => GatewayError.BadRequest(ErrorCodes.InvalidRequest, "The request could not be read: a route or query value has the wrong form."),
            401 => new GatewayError(401, ErrorCodes.Unauthenticated, "Authentication is required."),
            403 => GatewayError.Forbidden("This request is not allowed."),
            413 => new GatewayError(413, ErrorCodes.RequestTooLarge, "The request is too large."),
            415 => new GatewayError(415, ErrorCodes.UnsupportedMediaType, "Send the body as application/json."),
            >= 400 and < 500 => GatewayError.BadRequest(ErrorCodes.InvalidRequest, "The request was refused.") with { Status = status },
            >= 500 and < 600 => new GatewayError(status, ErrorCodes.InternalError, "KillToken failed to handle this request."),
            _ => null,
        };
    }

    /// <summary>Writes the body of an error answer that has none yet (used after the endpoint ran).</summary>
    public static Task WriteAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var error = ForStatus(context, context.Response.StatusCode);
        return error is null ? Task.CompletedTask : WireFormats.Error(WireOf(context.Request.Path), context, error, null).ExecuteAsync(context);
    }

    /// <summary>
    /// The Functions host's catch-all: 405 when some function takes this path with other methods
    /// (<paramref name="allowedMethods"/>, listed in <c>Allow</c> as the self-host's routing does), else 404.
    /// </summary>
    public static IResult Unmatched(HttpContext context, IReadOnlyList<string> allowedMethods)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(allowedMethods);
        if (allowedMethods.Count > 0)
        {
            context.Response.Headers.Allow = string.Join(", ", allowedMethods);
        }

        var error = ForStatus(context, allowedMethods.Count > 0 ? 405 : 404)!;
        return WireFormats.Error(WireOf(context.Request.Path), context, error, null);
    }

    /// <summary>The wrapper routes answer in the shape of the API they imitate (their SDK parses only that).</summary>
    internal static Wire WireOf(PathString path)
    {
        var value = path.Value ?? string.Empty;
        return value.StartsWith("/v1/openai/", StringComparison.OrdinalIgnoreCase) || value.StartsWith("/proxy/openai/", StringComparison.OrdinalIgnoreCase)
            ? Wire.OpenAI
            : value.StartsWith("/v1/anthropic/", StringComparison.OrdinalIgnoreCase) || value.StartsWith("/proxy/anthropic/", StringComparison.OrdinalIgnoreCase)
                ? Wire.Anthropic
                : value.StartsWith("/v1/gemini/", StringComparison.OrdinalIgnoreCase) || value.StartsWith("/proxy/gemini/", StringComparison.OrdinalIgnoreCase)
                    ? Wire.Gemini
                    : Wire.KillToken;
    }

    private static string AllowedMessage(HttpContext context)
    {
        var allow = context.Response.Headers.Allow.ToString();
        return allow.Length == 0
            ? $"This route does not accept {context.Request.Method}."
            : $"This route does not accept {context.Request.Method}; it accepts {allow}.";
    }
}
