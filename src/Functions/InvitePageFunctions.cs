using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The invite link's page and its assets: one line each over the shared <see cref="InvitePage"/>.</summary>
public static class InvitePageFunctions
{
    [Function(nameof(InvitePageHtml))]
    public static Task<IActionResult> InvitePageHtml([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.InvitePage)] HttpRequest req, string token) =>
        InvitePage.Page(req.HttpContext, token).AsAction();

    [Function(nameof(InvitePageScript))]
    public static Task<IActionResult> InvitePageScript([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.InvitePageScript)] HttpRequest req) =>
        InvitePage.Script(req.HttpContext).AsAction();

    [Function(nameof(InvitePageStyles))]
    public static Task<IActionResult> InvitePageStyles([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.InvitePageStyles)] HttpRequest req) =>
        InvitePage.Styles(req.HttpContext).AsAction();
}
