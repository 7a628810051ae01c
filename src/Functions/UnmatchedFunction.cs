using KillToken.Api.Handlers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>
/// The last route: the host tries it only when no other function's route and method match, so unknown routes (404) and
/// wrong methods (405) answer the contract's error body instead of the host's empty one.
/// </summary>
public sealed class UnmatchedFunction(FunctionRouteTable routes)
{
    [Function("Unmatched")]
    public IActionResult Unmatched(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "put", "patch", "delete", "head", "options", Route = StatusBodies.CatchAllRoute)] HttpRequest req) =>
        StatusBodies.Unmatched(req.HttpContext, routes.MethodsFor(req.Path)).AsAction();
}
