using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>
/// BYOK credentials by project key (<c>/v1/provider-credentials</c>) and by session
/// (<c>/api/workspaces/{workspaceId}/provider-credentials</c>): one line each, bound to the shared <see cref="CredentialHandlers"/>.
/// </summary>
public sealed class CredentialFunctions(CredentialHandlers credentials)
{
    // --- project key ---

    [Function(nameof(ListCredentials))]
    public Task<IActionResult> ListCredentials([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Credentials)] HttpRequest req) =>
        credentials.ListByKeyAsync(req.HttpContext).AsAction();

    [Function(nameof(CreateCredential))]
    public Task<IActionResult> CreateCredential([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Credentials)] HttpRequest req) =>
        credentials.CreateByKeyAsync(req.HttpContext).AsAction();

    [Function(nameof(GetCredential))]
    public Task<IActionResult> GetCredential([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.CredentialById)] HttpRequest req, string credentialId) =>
        credentials.GetByKeyAsync(req.HttpContext, credentialId).AsAction();

    [Function(nameof(UpdateCredential))]
    public Task<IActionResult> UpdateCredential([HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.CredentialById)] HttpRequest req, string credentialId) =>
        credentials.UpdateByKeyAsync(req.HttpContext, credentialId).AsAction();

    [Function(nameof(DeleteCredential))]
    public Task<IActionResult> DeleteCredential([HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.CredentialById)] HttpRequest req, string credentialId) =>
        credentials.DeleteByKeyAsync(req.HttpContext, credentialId).AsAction();

    [Function(nameof(TestCredential))]
    public Task<IActionResult> TestCredential([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.CredentialTest)] HttpRequest req, string credentialId) =>
        credentials.TestByKeyAsync(req.HttpContext, credentialId).AsAction();

    // --- dashboard session ---

    [Function(nameof(ListWorkspaceCredentials))]
    public Task<IActionResult> ListWorkspaceCredentials([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceCredentials)] HttpRequest req, string workspaceId) =>
        credentials.ListBySessionAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(CreateWorkspaceCredential))]
    public Task<IActionResult> CreateWorkspaceCredential([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.WorkspaceCredentials)] HttpRequest req, string workspaceId) =>
        credentials.CreateBySessionAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(UpdateWorkspaceCredential))]
    public Task<IActionResult> UpdateWorkspaceCredential([HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.WorkspaceCredentialById)] HttpRequest req, string workspaceId, string credentialId) =>
        credentials.UpdateBySessionAsync(req.HttpContext, workspaceId, credentialId).AsAction();

    [Function(nameof(DeleteWorkspaceCredential))]
    public Task<IActionResult> DeleteWorkspaceCredential([HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.WorkspaceCredentialById)] HttpRequest req, string workspaceId, string credentialId) =>
        credentials.DeleteBySessionAsync(req.HttpContext, workspaceId, credentialId).AsAction();

    [Function(nameof(TestWorkspaceCredential))]
    public Task<IActionResult> TestWorkspaceCredential([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.WorkspaceCredentialTest)] HttpRequest req, string workspaceId, string credentialId) =>
        credentials.TestBySessionAsync(req.HttpContext, workspaceId, credentialId).AsAction();
}
