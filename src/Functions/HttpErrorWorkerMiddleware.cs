using KillToken.Api.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;

namespace KillToken.Functions;

/// <summary>
/// Runs the shared <see cref="UnhandledErrorMiddleware"/> around HTTP invocations: a function that throws answers the
/// contract's error shape, exactly as under the self-host. Other triggers (the timer) pass straight through.
/// </summary>
internal sealed class HttpErrorWorkerMiddleware(ILogger<UnhandledErrorMiddleware> logger) : IFunctionsWorkerMiddleware
{
    public Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        var http = context.GetHttpContext();
        return http is null
            ? next(context)
            : new UnhandledErrorMiddleware(_ => next(context), logger).InvokeAsync(http);
    }
}
