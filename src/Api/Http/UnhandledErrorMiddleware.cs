using KillToken.Api.Handlers;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace KillToken.Api.Http;

/// <summary>
/// The last line: a bug answers the contract's error shape with a request id, logs only the exception type and
/// stack (never request content), and a client that went away is not reported as a server error. A store or vault that
/// could not answer is a 503 with its code and Retry-After (<see cref="DependencyUnavailableException"/>).
/// </summary>
internal sealed partial class UnhandledErrorMiddleware(RequestDelegate next, ILogger<UnhandledErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            context.Response.StatusCode = 499;
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            var error = ex.StatusCode switch
            {
                413 => new GatewayError(413, ErrorCodes.RequestTooLarge, "The request body is too large."),
                // The server's minimum body rate (KILLTOKEN_MIN_BODY_BYTES_PER_SECOND): the connection closes after this.
                408 => new GatewayError(408, ErrorCodes.InvalidRequest, "The request body arrived too slowly."),
                _ => GatewayError.BadRequest(ErrorCodes.InvalidRequest, "The request could not be read."),
            };
            await GatewayJson.Error(context, error).ExecuteAsync(context);
        }
        catch (DependencyUnavailableException ex) when (!context.Response.HasStarted)
        {
            // The store or the vault could not answer (after its client's own retries): a 503 the client may retry, in
            // the shape of the API the route imitates, never a 500.
            Log.Unavailable(logger, RequestIds.Get(context), ex.Code, ex.InnerException?.GetType().Name ?? ex.GetType().Name);
            await WireFormats.Error(StatusBodies.WireOf(context.Request.Path), context, GatewayError.Unavailable(ex), null).ExecuteAsync(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            Log.Unhandled(logger, RequestIds.Get(context), ex.GetType().FullName ?? "exception", ex.StackTrace ?? string.Empty);
            await GatewayJson.Error(context, new GatewayError(500, "internal_error", "KillToken failed to handle this request.")).ExecuteAsync(context);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Unhandled {ExceptionType} in request {RequestId}: {StackTrace}")]
        public static partial void Unhandled(ILogger logger, string requestId, string exceptionType, string stackTrace);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Request {RequestId} answered 503 {Code} ({Cause})")]
        public static partial void Unavailable(ILogger logger, string requestId, string code, string cause);
    }
}

public static class UnhandledErrorMiddlewareExtensions
{
    public static Microsoft.AspNetCore.Builder.IApplicationBuilder UseKillTokenErrors(this Microsoft.AspNetCore.Builder.IApplicationBuilder app) =>
        Microsoft.AspNetCore.Builder.UseMiddlewareExtensions.UseMiddleware<UnhandledErrorMiddleware>(app);
}
