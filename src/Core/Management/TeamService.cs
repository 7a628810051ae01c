using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;

namespace KillToken.Core.Management;

public sealed record MemberView(string UserId, string Email, string? Name, string Role, DateTimeOffset JoinedAt);

public sealed record InviterView(string UserId, string Email, string? Name);

public sealed record InviteView(string Id, string Email, string Role, string Status, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt, InviterView? InvitedBy);

/// <summary>What the invite link shows before signing in: no ids of people, no other invites.</summary>
public sealed record InvitePreview(InvitePreview.Details Invite, InvitePreview.WorkspaceName Workspace)
{
    public sealed record Details(string Id, string Email, string Role, string Status, DateTimeOffset ExpiresAt, Inviter? InvitedBy);

    public sealed record Inviter(string Email, string? Name);

    public sealed record WorkspaceName(string Id, string Name);
}

/// <summary>A new or resent invite with the one copy of its token, for the link and the email.</summary>
public sealed record IssuedInvite(InviteRecord Record, InviteView View, string Token, WorkspaceRecord Workspace);

/// <summary>
/// Seed 002's team: members and their roles, invites by emailed link, leaving. The rules a user meets:
/// <list type="bullet">
/// <item>owner — everything; admin — invites, and the roles and removal of members and admins (never of an owner, never
/// granting owner); member — reads, and may leave.</item>
/// <item>A workspace keeps at least one owner: the last one cannot be demoted, removed or leave (409 <c>last_owner</c>).
/// Ownership passes by making another member owner (several owners are allowed), after which the old one may step down.</item>
/// <item>Roles are read from the store on every request, so a removal or demotion applies to the very next request.</item>
/// <item>Invites last 7 days, are single use, and are accepted only by a signed-in user with the invited email.</item>
/// </list>
/// </summary>
public sealed class TeamService(AccountService accounts, IWorkspaceStore workspaces, IUserStore users, IInviteStore invites, TimeProvider time)
{
    public static readonly TimeSpan InviteLifetime = TimeSpan.FromDays(7);

    /// <summary>256 random bits; the link carries them base64url-encoded (43 characters).</summary>
    private const int TokenBytes = 32;

    public async Task<(IReadOnlyList<MemberView>? Members, GatewayError? Error)> ListMembersAsync(string userId, string workspaceId, CancellationToken cancellationToken = default)
    {
        var (_, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Member, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        var views = new List<MemberView>();
        foreach (var member in (await workspaces.ListMembersAsync(workspaceId, cancellationToken)).OrderBy(m => m.JoinedAt))
        {
            views.Add(await ViewAsync(member, cancellationToken));
        }

        return (views, null);
    }

    /// <summary><c>PATCH …/members/{userId} {role}</c>. Returns the member before and after (equal when nothing changed).</summary>
    public async Task<(MembershipRecord? Before, MemberView? After, GatewayError? Error)> ChangeRoleAsync(
        string userId, string workspaceId, string targetUserId, JsonObject body, CancellationToken cancellationToken = default)
    {
        var role = ChatRequestParser.AsString(body["role"]);
        if (!WorkspaceRoles.IsKnown(role))
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'role' must be 'owner', 'admin' or 'member'."));
        }

        var (_, caller, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, cancellationToken);
        if (error is not null)
        {
            return (null, null, error);
        }

        MembershipRecord updated;
        MembershipRecord? target;
        await using (await workspaces.LockMembersAsync(workspaceId, cancellationToken))
        {
            // Read under the lock: a member removed meanwhile is not brought back, and the owner count is current.
            var members = await workspaces.ListMembersAsync(workspaceId, cancellationToken);
            target = members.FirstOrDefault(m => m.UserId == targetUserId);
            if (target is null)
            {
                return (null, null, GatewayError.NotFound("Member"));
            }

            if (caller!.Role != WorkspaceRoles.Owner && (target.Role == WorkspaceRoles.Owner || role == WorkspaceRoles.Owner))
            {
                return (null, null, GatewayError.Forbidden("Only an owner can change an owner's role or make someone an owner."));
            }

            if (target.Role == role)
            {
                return (target, await ViewAsync(target, cancellationToken), null);
            }

            if (target.Role == WorkspaceRoles.Owner && IsLastOwner(members))
            {
                return (null, null, LastOwner("demoted"));
            }

            updated = target with { Role = role! };
            await workspaces.SaveMembershipAsync(updated, cancellationToken);
        }

        return (target, await ViewAsync(updated, cancellationToken), null);
    }

    /// <summary><c>DELETE …/members/{userId}</c>: removes someone, or — for the caller's own id — leaves.</summary>
    public async Task<(MembershipRecord? Removed, GatewayError? Error)> RemoveMemberAsync(string userId, string workspaceId, string targetUserId, CancellationToken cancellationToken = default)
    {
        // Leaving needs only membership; removing someone else needs admin.
        var leaving = userId == targetUserId;
        var (_, caller, error) = await accounts.RequireRoleAsync(userId, workspaceId, leaving ? WorkspaceRoles.Member : WorkspaceRoles.Admin, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        await using (await workspaces.LockMembersAsync(workspaceId, cancellationToken))
        {
            var members = await workspaces.ListMembersAsync(workspaceId, cancellationToken);
            var target = members.FirstOrDefault(m => m.UserId == targetUserId);
            if (target is null)
            {
                return (null, GatewayError.NotFound("Member"));
            }

            if (!leaving && caller!.Role != WorkspaceRoles.Owner && target.Role == WorkspaceRoles.Owner)
            {
                return (null, GatewayError.Forbidden("Only an owner can remove an owner."));
            }

            if (target.Role == WorkspaceRoles.Owner && IsLastOwner(members))
            {
                return (null, LastOwner(leaving ? "leave" : "removed"));
            }

            return await workspaces.RemoveMembershipAsync(workspaceId, targetUserId, cancellationToken)
                ? (target, null)
                : (null, GatewayError.NotFound("Member"));
        }
    }

    /// <summary><c>POST …/invites {email, role}</c> (owner or admin): a pending invite with a new token, valid 7 days.</summary>
    public async Task<(IssuedInvite? Invite, GatewayError? Error)> CreateInviteAsync(string userId, string workspaceId, JsonObject body, CancellationToken cancellationToken = default)
    {
        var (workspace, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        if (!JsonFields.TryString(body, "email", true, 254, out var email, out error))
        {
            return (null, error);
        }

        email = email!.ToLowerInvariant();
        var role = ChatRequestParser.AsString(body["role"]);
        if (!AccountService.IsEmail(email))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'email' must be an email address."));
        }

        if (role is not (WorkspaceRoles.Admin or WorkspaceRoles.Member))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                "'role' must be 'admin' or 'member'; to make someone an owner, invite them and then change their role."));
        }

        var existing = await users.FindByEmailAsync(email, cancellationToken);
        if (existing is not null && await workspaces.GetMembershipAsync(workspaceId, existing.Id, cancellationToken) is not null)
        {
            return (null, new GatewayError(409, ErrorCodes.Conflict, "This person is already a member of the workspace."));
        }

        var now = time.GetUtcNow();
        var token = NewToken();
        var invite = new InviteRecord
        {
            Id = Ids.New("inv"),
            WorkspaceId = workspaceId,
            Email = email,
            Role = role,
            TokenHash = HashToken(token),
            Status = InviteStatus.Pending,
            ExpiresAt = now + InviteLifetime,
            InvitedByUserId = userId,
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (!await invites.TryCreateAsync(invite, cancellationToken))
        {
            return (null, new GatewayError(409, ErrorCodes.Conflict, "This email already has a pending invite to the workspace; resend or cancel it."));
        }

        return (await IssueAsync(invite, token, workspace!, cancellationToken), null);
    }

    /// <summary>Pending invites, expired ones included (they can be resent), newest first.</summary>
    public async Task<(IReadOnlyList<InviteView>? Invites, GatewayError? Error)> ListInvitesAsync(string userId, string workspaceId, CancellationToken cancellationToken = default)
    {
        var (_, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        var now = time.GetUtcNow();
        var views = new List<InviteView>();
        foreach (var invite in (await invites.ListPendingAsync(workspaceId, cancellationToken)).OrderByDescending(i => i.CreatedAt))
        {
            views.Add(View(invite, now, await InviterAsync(invite, cancellationToken)));
        }

        return (views, null);
    }

    /// <summary>A new token (the old link stops working) and a new 7-day expiry; an expired invite can be resent.</summary>
    public async Task<(IssuedInvite? Invite, GatewayError? Error)> ResendInviteAsync(string userId, string workspaceId, string inviteId, CancellationToken cancellationToken = default)
    {
        var (workspace, invite, error) = await PendingInviteAsync(userId, workspaceId, inviteId, cancellationToken, cancelledIsGone: false);
        if (error is not null)
        {
            return (null, error);
        }

        var now = time.GetUtcNow();
        var token = NewToken();
        var resent = invite! with { TokenHash = HashToken(token), ExpiresAt = now + InviteLifetime, UpdatedAt = now, Revision = invite.Revision + 1 };
        if (!await invites.TryUpdateAsync(resent, invite.TokenHash, cancellationToken))
        {
            return (null, ChangedMeanwhile());
        }

        return (await IssueAsync(resent, token, workspace!, cancellationToken), null);
    }

    public async Task<(InviteRecord? Cancelled, GatewayError? Error)> CancelInviteAsync(string userId, string workspaceId, string inviteId, CancellationToken cancellationToken = default)
    {
        var (_, invite, error) = await PendingInviteAsync(userId, workspaceId, inviteId, cancellationToken, cancelledIsGone: true);
        if (error is not null)
        {
            return (null, error);
        }

        var cancelled = invite! with { Status = InviteStatus.Cancelled, UpdatedAt = time.GetUtcNow(), Revision = invite.Revision + 1 };
        return await invites.TryUpdateAsync(cancelled, cancellationToken: cancellationToken) ? (cancelled, null) : (null, ChangedMeanwhile());
    }

    /// <summary><c>GET /api/invites/{token}</c>, without signing in: the workspace, the inviter and the invite's state.</summary>
    public async Task<(InvitePreview? Preview, GatewayError? Error)> PreviewAsync(string token, CancellationToken cancellationToken = default)
    {
        var (invite, workspace) = await FindLiveAsync(token, cancellationToken);
        if (invite is null)
        {
            return (null, GatewayError.NotFound("Invite"));
        }

        var inviter = await users.GetAsync(invite.InvitedByUserId, cancellationToken);
        return (new InvitePreview(
            new InvitePreview.Details(invite.Id, invite.Email, invite.Role, invite.StatusAt(time.GetUtcNow()), invite.ExpiresAt,
                inviter is null ? null : new InvitePreview.Inviter(inviter.Email, inviter.Name)),
            new InvitePreview.WorkspaceName(workspace!.Id, workspace.Name)), null);
    }

    /// <summary>
    /// <c>POST /api/invites/{token}/accept</c>: the signed-in user joins with the invited role. A user with another
    /// email gets 409 <c>invite_email_mismatch</c> and the invite stays usable by the right person; someone already a
    /// member keeps their role and the invite is used up.
    /// </summary>
    public async Task<(WorkspaceView? Workspace, InviteRecord? Accepted, GatewayError? Error)> AcceptAsync(string userId, string token, CancellationToken cancellationToken = default)
    {
        var (invite, workspace) = await FindLiveAsync(token, cancellationToken);
        if (invite is null || invite.Status == InviteStatus.Cancelled)
        {
            return (null, null, GatewayError.NotFound("Invite"));
        }

        if (invite.Status == InviteStatus.Accepted)
        {
            return (null, null, new GatewayError(409, ErrorCodes.Conflict, "This invite has already been used."));
        }

        var now = time.GetUtcNow();
        if (invite.StatusAt(now) == InviteStatus.Expired)
        {
            return (null, null, new GatewayError(409, ErrorCodes.InviteExpired, "This invite has expired; ask for it to be sent again."));
        }

        var user = await users.GetAsync(userId, cancellationToken);
        if (user is null)
        {
            return (null, null, new GatewayError(401, ErrorCodes.Unauthenticated, "This account no longer exists."));
        }

        if (!string.Equals(user.Email, invite.Email, StringComparison.OrdinalIgnoreCase))
        {
            return (null, null, new GatewayError(409, ErrorCodes.InviteEmailMismatch,
                "This invite was sent to another email address: sign in with that address to accept it."));
        }

        // The membership first: if marking the invite used then fails, the person has joined and a retry finds the
        // invite still pending (joining twice changes nothing); the other order could use up the invite and join no one.
        var accepted = invite with { Status = InviteStatus.Accepted, AcceptedAt = now, AcceptedByUserId = userId, UpdatedAt = now, Revision = invite.Revision + 1 };
        MembershipRecord? membership;
        await using (await workspaces.LockMembersAsync(workspace!.Id, cancellationToken))
        {
            membership = await workspaces.GetMembershipAsync(workspace.Id, userId, cancellationToken);
            var joined = membership is null;
            if (joined)
            {
                membership = new MembershipRecord { WorkspaceId = workspace.Id, UserId = userId, Role = invite.Role, JoinedAt = now };
                await workspaces.SaveMembershipAsync(membership, cancellationToken);
            }

            if (!await invites.TryUpdateAsync(accepted, cancellationToken: cancellationToken))
            {
                // Another accept won (the invite is used), or a resend or cancel replaced this link meanwhile: a join made
                // by this attempt is undone, under the same lock.
                if (joined)
                {
                    await workspaces.RemoveMembershipAsync(workspace.Id, userId, CancellationToken.None);
                }

                return (null, null, await invites.GetAsync(invite.WorkspaceId, invite.Id, cancellationToken) is { Status: InviteStatus.Accepted }
                    ? new GatewayError(409, ErrorCodes.Conflict, "This invite has already been used.")
                    : GatewayError.NotFound("Invite"));
            }
        }

        return (await accounts.ViewAsync(workspace, membership!.Role, cancellationToken), accepted, null);
    }

    /// <summary>SHA-256 of the token, hex: tokens are 256 random bits, so no salt or slow hash is needed to keep them from a reader of the store.</summary>
    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));

    private async Task<(InviteRecord? Invite, WorkspaceRecord? Workspace)> FindLiveAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 100)
        {
            return (null, null);
        }

        var invite = await invites.FindByTokenHashAsync(HashToken(token), cancellationToken);
        var workspace = invite is null ? null : await workspaces.GetAsync(invite.WorkspaceId, cancellationToken);
        return invite is null || invite.Status == InviteStatus.Cancelled || workspace is not { DeletedAt: null } ? (null, null) : (invite, workspace);
    }

    /// <param name="cancelledIsGone">Cancelling a cancelled invite finds nothing (404); resending one is refused (409): it cannot be revived.</param>
    private async Task<(WorkspaceRecord? Workspace, InviteRecord? Invite, GatewayError? Error)> PendingInviteAsync(
        string userId, string workspaceId, string inviteId, CancellationToken cancellationToken, bool cancelledIsGone)
    {
        var (workspace, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, cancellationToken);
        if (error is not null)
        {
            return (null, null, error);
        }

        var invite = await invites.GetAsync(workspaceId, inviteId, cancellationToken);
        return invite?.Status switch
        {
            null => (null, null, GatewayError.NotFound("Invite")),
            InviteStatus.Cancelled when cancelledIsGone => (null, null, GatewayError.NotFound("Invite")),
            InviteStatus.Cancelled => (null, null, new GatewayError(409, ErrorCodes.Conflict, "This invite was cancelled; send a new one.")),
            InviteStatus.Accepted => (null, null, new GatewayError(409, ErrorCodes.Conflict, "This invite has already been accepted.")),
            _ => (workspace, invite, null),
        };
    }

    private static bool IsLastOwner(IReadOnlyList<MembershipRecord> members) => members.Count(m => m.Role == WorkspaceRoles.Owner) <= 1;

    private async Task<IssuedInvite> IssueAsync(InviteRecord invite, string token, WorkspaceRecord workspace, CancellationToken cancellationToken) =>
        new(invite, View(invite, time.GetUtcNow(), await InviterAsync(invite, cancellationToken)), token, workspace);

    private async Task<InviterView?> InviterAsync(InviteRecord invite, CancellationToken cancellationToken) =>
        await users.GetAsync(invite.InvitedByUserId, cancellationToken) is { } inviter ? new InviterView(inviter.Id, inviter.Email, inviter.Name) : null;

    private static InviteView View(InviteRecord invite, DateTimeOffset now, InviterView? inviter) =>
        new(invite.Id, invite.Email, invite.Role, invite.StatusAt(now), invite.ExpiresAt, invite.CreatedAt, inviter);

    private async Task<MemberView> ViewAsync(MembershipRecord member, CancellationToken cancellationToken)
    {
        var user = await users.GetAsync(member.UserId, cancellationToken);
        return new MemberView(member.UserId, user?.Email ?? string.Empty, user?.Name, member.Role, member.JoinedAt);
    }

    private static GatewayError LastOwner(string what) => new(409, ErrorCodes.LastOwner, what switch
    {
        "leave" => "You are the workspace's last owner: make another member owner before you leave.",
        "removed" => "The workspace's last owner cannot be removed: make another member owner first.",
        _ => "The workspace's last owner cannot be demoted: make another member owner first.",
    });

    private static GatewayError ChangedMeanwhile() => new(409, ErrorCodes.Conflict, "The invite changed meanwhile; reload and try again.");
}
