using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KillToken.Functions;

/// <summary>The team API (members, invites, the invite link, the audit log): one line each over the shared <see cref="TeamHandlers"/>.</summary>
public sealed class TeamFunctions(TeamHandlers team)
{
    [Function(nameof(ListMembers))]
    public Task<IActionResult> ListMembers([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceMembers)] HttpRequest req, string workspaceId) =>
        team.ListMembersAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(ChangeMemberRole))]
    public Task<IActionResult> ChangeMemberRole([HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.WorkspaceMemberById)] HttpRequest req, string workspaceId, string userId) =>
        team.ChangeRoleAsync(req.HttpContext, workspaceId, userId).AsAction();

    [Function(nameof(RemoveMember))]
    public Task<IActionResult> RemoveMember([HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.WorkspaceMemberById)] HttpRequest req, string workspaceId, string userId) =>
        team.RemoveMemberAsync(req.HttpContext, workspaceId, userId).AsAction();

    [Function(nameof(ListInvites))]
    public Task<IActionResult> ListInvites([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceInvites)] HttpRequest req, string workspaceId) =>
        team.ListInvitesAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(CreateInvite))]
    public Task<IActionResult> CreateInvite([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.WorkspaceInvites)] HttpRequest req, string workspaceId) =>
        team.CreateInviteAsync(req.HttpContext, workspaceId).AsAction();

    [Function(nameof(ResendInvite))]
    public Task<IActionResult> ResendInvite([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.WorkspaceInviteResend)] HttpRequest req, string workspaceId, string inviteId) =>
        team.ResendInviteAsync(req.HttpContext, workspaceId, inviteId).AsAction();

    [Function(nameof(CancelInvite))]
    public Task<IActionResult> CancelInvite([HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.WorkspaceInviteById)] HttpRequest req, string workspaceId, string inviteId) =>
        team.CancelInviteAsync(req.HttpContext, workspaceId, inviteId).AsAction();

    [Function(nameof(PreviewInvite))]
    public Task<IActionResult> PreviewInvite([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.InviteByToken)] HttpRequest req, string token) =>
        team.PreviewInviteAsync(req.HttpContext, token).AsAction();

    [Function(nameof(AcceptInvite))]
    public Task<IActionResult> AcceptInvite([HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.InviteAccept)] HttpRequest req, string token) =>
        team.AcceptInviteAsync(req.HttpContext, token).AsAction();

    [Function(nameof(ListAudit))]
    public Task<IActionResult> ListAudit([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.WorkspaceAudit)] HttpRequest req, string workspaceId) =>
        team.ListAuditAsync(req.HttpContext, workspaceId).AsAction();
}
