using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary><c>/health</c> and <c>/ready</c>: one line each, bound to the shared <see cref="HealthHandlers"/>.</summary>
public sealed class HealthFunctions(HealthHandlers health)
{
    [Function(nameof(Health))]
    public IActionResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Health)] HttpRequest req) =>
        health.Health().AsAction();

    [Function(nameof(Ready))]
    public Task<IActionResult> Ready([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Ready)] HttpRequest req) =>
        health.ReadyAsync(req.HttpContext).AsAction();
}
