using System.Globalization;
using KillToken.Core;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Management;
using KillToken.Core.Ports;
using KillToken.Api.Hosting;
using KillToken.Api.Http;
using KillToken.Api.Notifications;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>Seed 002's team routes (JWT session): members, invites, the invite link, and the audit log.</summary>
public sealed class TeamHandlers(
    TeamService team,
    AccountService accounts,
    SessionTokens sessions,
    AuditRecorder audit,
    IAuditLog auditLog,
    SmtpInviteSender inviteSender,
    KillTokenSettings settings,
    GatewayOptions options)
{
    public const int MaxAuditPage = 200;

    public Task<IResult> ListMembersAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (members, error) = await team.ListMembersAsync(userId, workspaceId, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(new { data = members });
    });

    public Task<IResult> ChangeRoleAsync(HttpContext context, string workspaceId, string memberId) => WithUserAsync(context, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (before, after, changeError) = await team.ChangeRoleAsync(userId, workspaceId, memberId, body!, context.RequestAborted);
        if (changeError is not null)
        {
            return GatewayJson.Error(context, changeError);
        }

        if (before!.Role != after!.Role)
        {
            await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.MemberRoleChanged, memberId,
                changes: new AuditChanges().Add("role", before.Role, after.Role).ToDictionary());
        }

        return GatewayJson.Ok(after);
    });

    public Task<IResult> RemoveMemberAsync(HttpContext context, string workspaceId, string memberId) => WithUserAsync(context, async userId =>
    {
        var (removed, error) = await team.RemoveMemberAsync(userId, workspaceId, memberId, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var details = new Dictionary<string, string?> { ["role"] = removed!.Role };
        if (memberId == userId)
        {
            details["left"] = "true";
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.MemberRemoved, memberId, details);
        return Results.NoContent();
    });

    public Task<IResult> ListInvitesAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (invites, error) = await team.ListInvitesAsync(userId, workspaceId, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(new { data = invites });
    });

    public Task<IResult> CreateInviteAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (invite, createError) = await team.CreateInviteAsync(userId, workspaceId, body!, context.RequestAborted);
        if (createError is not null)
        {
            return GatewayJson.Error(context, createError);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.MemberInvited, invite!.Record.Id, InviteDetails(invite.Record));
        return Issued(context, invite, 201);
    });

    public Task<IResult> ResendInviteAsync(HttpContext context, string workspaceId, string inviteId) => WithUserAsync(context, async userId =>
    {
        var (invite, error) = await team.ResendInviteAsync(userId, workspaceId, inviteId, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.InviteResent, inviteId, InviteDetails(invite!.Record));
        return Issued(context, invite, 200);
    });

    public Task<IResult> CancelInviteAsync(HttpContext context, string workspaceId, string inviteId) => WithUserAsync(context, async userId =>
    {
        var (cancelled, error) = await team.CancelInviteAsync(userId, workspaceId, inviteId, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.InviteCancelled, inviteId, InviteDetails(cancelled!));
        return Results.NoContent();
    });

    /// <summary><c>GET /api/invites/{token}</c>: no session; the token is the secret.</summary>
    public async Task<IResult> PreviewInviteAsync(HttpContext context, string token)
    {
        var (preview, error) = await team.PreviewAsync(token, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(preview!);
    }

    public Task<IResult> AcceptInviteAsync(HttpContext context, string token) => WithUserAsync(context, async userId =>
    {
        var (workspace, accepted, error) = await team.AcceptAsync(userId, token, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), accepted!.WorkspaceId, AuditEvents.InviteAccepted, accepted.Id, InviteDetails(accepted));
        return GatewayJson.Ok(new { workspace });
    });

    /// <summary><c>GET /api/workspaces/{id}/audit?event=&amp;actor=&amp;limit=&amp;cursor=</c> (owner or admin), newest first.</summary>
    public Task<IResult> ListAuditAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (_, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var q = context.Request.Query;
        var limit = 50;
        if (!string.IsNullOrEmpty(q["limit"]) && (!int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxAuditPage))
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'limit' must be a whole number from 1 to {MaxAuditPage}."));
        }

        var eventName = Text(q["event"]);
        if (eventName is not null && !AuditEvents.All.Contains(eventName))
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'event' must be one of: {string.Join(", ", AuditEvents.All.Order(StringComparer.Ordinal))}."));
        }

        var query = new AuditQuery { Event = eventName, ActorId = Text(q["actor"]), Cursor = Text(q["cursor"]), Limit = limit };
        try
        {
            var page = await auditLog.ListAsync(workspaceId, query, context.RequestAborted);
            return GatewayJson.Ok(new { data = page.Items, nextCursor = page.NextCursor });
        }
        catch (InvalidCursorException)
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'cursor' is not a cursor this API issued."));
        }
    });

    private IResult Issued(HttpContext context, IssuedInvite invite, int status)
    {
        var link = settings.Frontend.Invite(invite.Token, $"{context.Request.Scheme}://{context.Request.Host}");
        return GatewayJson.Ok(new { invite = invite.View, inviteUrl = link, emailDelivery = inviteSender.Queue(invite, link) }, status);
    }

    private static Dictionary<string, string?> InviteDetails(InviteRecord invite) => new() { ["email"] = invite.Email, ["role"] = invite.Role };

    private static string? Text(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private async Task<IResult> WithUserAsync(HttpContext context, Func<string, Task<IResult>> action)
    {
        var (userId, error) = await sessions.AuthenticateAsync(context.Request);
        return error is not null ? GatewayJson.Error(context, error) : await action(userId!);
    }
}
