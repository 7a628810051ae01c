using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The gateway (API-key auth): one line each, bound to the shared <see cref="GatewayHandlers"/>.</summary>
public sealed class GatewayFunctions(GatewayHandlers gateway)
{
    [Function(nameof(Chat))]
    public Task<IActionResult> Chat([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Chat)] HttpRequest req) =>
        gateway.ChatAsync(req.HttpContext).AsAction();

    [Function(nameof(Summary))]
    public Task<IActionResult> Summary([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Summary)] HttpRequest req) =>
        gateway.SummaryAsync(req.HttpContext).AsAction();

    [Function(nameof(RoiReport))]
    public Task<IActionResult> RoiReport([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.RoiReport)] HttpRequest req) =>
        gateway.RoiAsync(req.HttpContext).AsAction();

    [Function(nameof(ListRequests))]
    public Task<IActionResult> ListRequests([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Requests)] HttpRequest req) =>
        gateway.ListRequestsAsync(req.HttpContext).AsAction();

    [Function(nameof(GetRequest))]
    public Task<IActionResult> GetRequest([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.RequestById)] HttpRequest req, string requestId) =>
        gateway.GetRequestAsync(req.HttpContext, requestId).AsAction();
}
