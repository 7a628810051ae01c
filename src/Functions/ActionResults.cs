using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace KillToken.Functions;

/// <summary>
/// A shared handler's <see cref="IResult"/> as the <see cref="IActionResult"/> that the Functions ASP.NET Core
/// integration executes against the request's HttpContext, so both hosts write the very same response.
/// </summary>
internal sealed class ResultActionResult(IResult result) : IActionResult
{
    public IResult Result { get; } = result;

    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Result.ExecuteAsync(context.HttpContext);
    }
}

internal static class ActionResults
{
    public static IActionResult AsAction(this IResult result) => new ResultActionResult(result);

    public static async Task<IActionResult> AsAction(this Task<IResult> result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new ResultActionResult(await result.ConfigureAwait(false));
    }
}
