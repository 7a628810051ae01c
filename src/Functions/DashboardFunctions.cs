using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The dashboard's page, the invite link's page and their assets: one line each over the shared <see cref="DashboardPages"/>.</summary>
public static class DashboardFunctions
{
    [Function(nameof(Dashboard))]
    public static Task<IActionResult> Dashboard([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Dashboard)] HttpRequest req, string? home) =>
        DashboardPages.Home(req.HttpContext, home).AsAction();

    [Function(nameof(InvitePage))]
    public static Task<IActionResult> InvitePage([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.InvitePage)] HttpRequest req, string token) =>
        DashboardPages.Invite(req.HttpContext, token).AsAction();

    [Function(nameof(DashboardProject))]
    public static Task<IActionResult> DashboardProject([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DashboardProject)] HttpRequest req, string project) =>
        DashboardPages.Project(req.HttpContext, project).AsAction();

    [Function(nameof(DashboardAsset))]
    public static Task<IActionResult> DashboardAsset([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DashboardAsset)] HttpRequest req, string file) =>
        DashboardPages.Asset(req.HttpContext, file).AsAction();
}
