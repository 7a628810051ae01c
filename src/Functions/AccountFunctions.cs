using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The dashboard's account API (JWT session): one line each, bound to the shared <see cref="AccountHandlers"/>.</summary>
public sealed class AccountFunctions(AccountHandlers accounts)
{
    [Function(nameof(SignUp))]
    public Task<IActionResult> SignUp([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.SignUp)] HttpRequest req) =>
        accounts.SignUpAsync(req.HttpContext).AsAction();

    [Function(nameof(Login))]
    public Task<IActionResult> Login([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Login)] HttpRequest req) =>
        accounts.LoginAsync(req.HttpContext).AsAction();

    [Function(nameof(Me))]
    public Task<IActionResult> Me([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Me)] HttpRequest req) =>
        accounts.MeAsync(req.HttpContext).AsAction();

    [Function(nameof(ListWorkspaces))]
    public Task<IActionResult> ListWorkspaces([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Workspaces)] HttpRequest req) =>
        accounts.ListWorkspacesAsync(req.HttpContext).AsAction();

    [Function(nameof(CreateWorkspace))]
    public Task<IActionResult> CreateWorkspace([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Workspaces)] HttpRequest req) =>
        accounts.CreateWorkspaceAsync(req.HttpContext).AsAction();

    [Function(nameof(GetWorkspace))]
    public Task<IActionResult> GetWorkspace([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceById)] HttpRequest req, string workspaceId) =>
        accounts.GetWorkspaceAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(UpdateWorkspace))]
    public Task<IActionResult> UpdateWorkspace([HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.WorkspaceById)] HttpRequest req, string workspaceId) =>
        accounts.UpdateWorkspaceAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(DeleteWorkspace))]
    public Task<IActionResult> DeleteWorkspace([HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.WorkspaceById)] HttpRequest req, string workspaceId) =>
        accounts.DeleteWorkspaceAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(ListProjects))]
    public Task<IActionResult> ListProjects([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceProjects)] HttpRequest req, string workspaceId) =>
        accounts.ListProjectsAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(CreateProject))]
    public Task<IActionResult> CreateProject([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.WorkspaceProjects)] HttpRequest req, string workspaceId) =>
        accounts.CreateProjectAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(GetProject))]
    public Task<IActionResult> GetProject([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ProjectById)] HttpRequest req, string projectId) =>
        accounts.GetProjectAsync(req.HttpContext, projectId).AsAction();

    [Function(nameof(UpdateProject))]
    public Task<IActionResult> UpdateProject([HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.ProjectById)] HttpRequest req, string projectId) =>
        accounts.UpdateProjectAsync(req.HttpContext, projectId).AsAction();

    [Function(nameof(RegenerateProjectKey))]
    public Task<IActionResult> RegenerateProjectKey([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProjectRegenerateKey)] HttpRequest req, string projectId) =>
        accounts.RegenerateKeyAsync(req.HttpContext, projectId).AsAction();

    [Function(nameof(DeactivateProject))]
    public Task<IActionResult> DeactivateProject([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProjectDeactivate)] HttpRequest req, string projectId) =>
        accounts.DeactivateAsync(req.HttpContext, projectId).AsAction();

    [Function(nameof(ActivateProject))]
    public Task<IActionResult> ActivateProject([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ProjectActivate)] HttpRequest req, string projectId) =>
        accounts.ActivateAsync(req.HttpContext, projectId).AsAction();

    [Function(nameof(GetWorkspacePricing))]
    public Task<IActionResult> GetWorkspacePricing([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspacePricing)] HttpRequest req, string workspaceId) =>
        accounts.GetPricingAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(SetWorkspacePricing))]
    public Task<IActionResult> SetWorkspacePricing([HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = Routes.WorkspacePricing)] HttpRequest req, string workspaceId) =>
        accounts.SetPricingAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(ListWorkspaceRequests))]
    public Task<IActionResult> ListWorkspaceRequests([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceRequests)] HttpRequest req, string workspaceId) =>
        accounts.ListWorkspaceRequestsAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(TestMonthlyDigest))]
    public Task<IActionResult> TestMonthlyDigest([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.MonthlyDigestTest)] HttpRequest req) =>
        accounts.TestMonthlyDigestAsync(req.HttpContext).AsAction();
}
