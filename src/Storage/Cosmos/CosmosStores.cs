using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using KillToken.Storage.Sqlite;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using static KillToken.Storage.Cosmos.CosmosStoreContext;

namespace KillToken.Storage.Cosmos;

// The SQLite layout on Cosmos DB. Cross-container writes have no transaction, so every multi-document write is ordered
// so that a crash half-way leaves only unreachable leftovers, never a dangling pointer that resolves.

/// <summary>Lookup ids (container <c>lookups</c>, partition = id) and tenant document ids (container <c>workspaces</c>).</summary>
internal static class CosmosKeys
{
    public static string User(string userId) => CosmosIds.Key("user", userId);
    /// <summary>Always hashed: an email is personal data, and ids travel in request URLs and diagnostics.</summary>
    public static string Email(string email) => CosmosIds.HashedKey("email", email);
    public static string Memberships(string userId) => CosmosIds.Key("memberships", userId);
    public static string Project(string projectId) => CosmosIds.Key("project", projectId);
    public static string KeyHash(string hash) => CosmosIds.Key("key", hash);
    public static string Member(string userId) => CosmosIds.Key("member", userId);
    public static string InviteToken(string tokenHash) => CosmosIds.Key("invite-token", tokenHash);
    /// <summary>The slot a workspace's pending invite for one email holds (hashed: an email is personal data).</summary>
    public static string InviteEmail(string workspaceId, string email) => CosmosIds.HashedKey("invite-email", workspaceId + "\n" + email);
}

/// <summary>Document and lookup <c>type</c> values.</summary>
internal static class CosmosTypes
{
    public const string Workspace = "workspace";
    public const string Member = "member";
    public const string Project = "project";
    public const string Credential = "credential";
    public const string Trace = "trace";
    public const string User = "user";
    public const string Email = "email";
    public const string Memberships = "memberships";
    public const string ProjectPointer = "project";
    public const string KeyPointer = "key";
    public const string Invite = "invite";
    public const string InviteToken = "invite-token";
    public const string InviteEmail = "invite-email";
    public const string MembersLease = "members-lock";
}

internal sealed class CosmosUserStore(CosmosStoreContext db) : IUserStore
{
    public async Task<bool> TryCreateAsync(UserRecord user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        await db.EnsureReadyAsync(cancellationToken);

        // The user document first, under its new id (a 409 means this id exists: nothing of ours to undo); then the
        // email, whose 409 is the unique check. A crash in between leaves a user no email points at: unreachable.
        var userKey = CosmosKeys.User(user.Id);
        using (var document = Lookup(userKey, CosmosTypes.User, user))
        {
            if (!await CosmosStoreContext.TryCreateAsync(db.Lookups, document, userKey, cancellationToken))
            {
                return false;
            }
        }

        var emailKey = CosmosKeys.Email(user.Email);
        bool created;
        using (var document = Lookup(emailKey, CosmosTypes.Email, user.Id))
        {
            created = await CosmosStoreContext.TryCreateAsync(db.Lookups, document, emailKey, cancellationToken);
        }

        if (!created)
        {
            await DeleteAsync(db.Lookups, userKey, userKey, CancellationToken.None);
        }

        return created;
    }

    public async Task<UserRecord?> FindByEmailAsync(string email, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (userId, _) = await db.ReadLookupAsync<string>(CosmosKeys.Email(email), CosmosTypes.Email, cancellationToken);
        return userId is null ? null : await GetAsync(userId, cancellationToken);
    }

    public async Task<UserRecord?> GetAsync(string userId, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        return (await db.ReadLookupAsync<UserRecord>(CosmosKeys.User(userId), CosmosTypes.User, cancellationToken)).Value;
    }

    public async Task SetPasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var key = CosmosKeys.User(userId);
        var (user, etag) = await db.ReadLookupAsync<UserRecord>(key, CosmosTypes.User, cancellationToken);
        if (user is null || etag is null)
        {
            return;
        }

        // Guarded by the etag: when another sign-in rehashed first, its hash (of the same password) stays.
        using var document = Lookup(key, CosmosTypes.User, user with { PasswordHash = passwordHash });
        await CosmosStoreContext.TryReplaceAsync(db.Lookups, key, document, key, etag, cancellationToken);
    }
}

internal sealed partial class CosmosWorkspaceStore(CosmosStoreContext db, ILogger<CosmosWorkspaceStore> logger) : IWorkspaceStore
{
    private const int MaxAttempts = 10;
    private const int WorkspacePageSize = 100;

    public async Task CreateAsync(WorkspaceRecord workspace, MembershipRecord owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        ArgumentNullException.ThrowIfNull(owner);
        RequirePlain(workspace.Id);
        await db.EnsureReadyAsync(cancellationToken);

        // Workspace, then member, then the user's list: until the list names it, no one reaches the workspace.
        using (var document = Document(workspace, CosmosTypes.Workspace))
        {
            await UpsertAsync(db.Workspaces, document, workspace.Id, cancellationToken);
        }

        await UpsertMemberAsync(owner, cancellationToken);
        await AddMembershipAsync(owner, cancellationToken);
    }

    public async Task<WorkspaceRecord?> GetAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId))
        {
            return null;
        }

        await db.EnsureReadyAsync(cancellationToken);
        return await ReadAsync<WorkspaceRecord>(db.Workspaces, workspaceId, workspaceId, CosmosTypes.Workspace, cancellationToken);
    }

    public async Task UpdateAsync(WorkspaceRecord workspace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        RequirePlain(workspace.Id);
        await db.EnsureReadyAsync(cancellationToken);
        using var document = Document(workspace, CosmosTypes.Workspace);
        await UpsertAsync(db.Workspaces, document, workspace.Id, cancellationToken);
    }

    public async Task<MembershipRecord?> GetMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId))
        {
            return null;
        }

        await db.EnsureReadyAsync(cancellationToken);
        return await ReadAsync<MembershipRecord>(db.Workspaces, CosmosKeys.Member(userId), workspaceId, CosmosTypes.Member, cancellationToken);
    }

    public async Task<IReadOnlyList<MembershipRecord>> ListMembershipsOfUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (list, _) = await db.ReadLookupAsync<UserMemberships>(CosmosKeys.Memberships(userId), CosmosTypes.Memberships, cancellationToken);
        return list is null
            ? []
            : [.. list.Items.Select(i => new MembershipRecord { WorkspaceId = i.WorkspaceId, UserId = userId, Role = i.Role, JoinedAt = i.JoinedAt })];
    }

    public async Task SaveMembershipAsync(MembershipRecord membership, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(membership);
        RequirePlain(membership.WorkspaceId);
        await db.EnsureReadyAsync(cancellationToken);
        await UpsertMemberAsync(membership, cancellationToken);
        await AddMembershipAsync(membership, cancellationToken);
    }

    public async Task<bool> RemoveMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId))
        {
            return false;
        }

        await db.EnsureReadyAsync(cancellationToken);
        if (!await DeleteAsync(db.Workspaces, CosmosKeys.Member(userId), workspaceId, cancellationToken))
        {
            return false;
        }

        // Access ended with the member document (every role check reads it); a crash before this line leaves the
        // workspace named in the user's list, where every route on it still answers 404.
        await ChangeMembershipsAsync(userId, list => list.Items.RemoveAll(i => i.WorkspaceId == workspaceId), cancellationToken);
        return true;
    }

    /// <summary>
    /// A lease document in the workspace's partition: created (409 while someone holds it), taken over with a conditional
    /// replace once expired (a holder that crashed), deleted on release. Waits up to <see cref="LockWait"/>.
    /// </summary>
    public async Task<IAsyncDisposable> LockMembersAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        RequirePlain(workspaceId);
        await db.EnsureReadyAsync(cancellationToken);
        var deadline = DateTimeOffset.UtcNow + LockWait;
        for (var attempt = 1; ; attempt++)
        {
            using (var lease = Document(new MembersLease(workspaceId, DateTimeOffset.UtcNow + LeaseLifetime), CosmosTypes.MembersLease, MembersLeaseId))
            {
                if (await TryCreateAsync(db.Workspaces, lease, workspaceId, cancellationToken))
                {
                    return new LeaseRelease(db.Workspaces, workspaceId);
                }
            }

            var (held, etag) = await db.ReadWithETagAsync<MembersLease>(db.Workspaces, MembersLeaseId, workspaceId, CosmosTypes.MembersLease, cancellationToken);
            if (held is not null && etag is not null && held.ExpiresAt < DateTimeOffset.UtcNow)
            {
                using var takeover = Document(new MembersLease(workspaceId, DateTimeOffset.UtcNow + LeaseLifetime), CosmosTypes.MembersLease, MembersLeaseId);
                if (await TryReplaceAsync(db.Workspaces, MembersLeaseId, takeover, workspaceId, etag, cancellationToken))
                {
                    return new LeaseRelease(db.Workspaces, workspaceId);
                }
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new CosmosConcurrencyException($"The members of a workspace stayed locked for {LockWait.TotalSeconds:0} s.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(10, 20 + (10 * Math.Min(attempt, 10)))), cancellationToken);
        }
    }

    private const string MembersLeaseId = "members-lock";
    private static readonly TimeSpan LeaseLifetime = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);

    private sealed record MembersLease(string WorkspaceId, DateTimeOffset ExpiresAt);

    private sealed class LeaseRelease(Container container, string workspaceId) : IAsyncDisposable
    {
        // Not the caller's token: a lease must be given back even when the request was cancelled.
        public async ValueTask DisposeAsync() => await DeleteAsync(container, MembersLeaseId, workspaceId, CancellationToken.None);
    }

    public async Task<IReadOnlyList<MembershipRecord>> ListMembersAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId))
        {
            return [];
        }

        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", CosmosTypes.Member);
        return await QueryAsync<MembershipRecord>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken);
    }

    /// <summary>
    /// A cross-partition query (one workspace document per partition), read a page at a time as the caller iterates:
    /// fine for the monthly job this serves, never used on the request path. Soft-deleted workspaces are skipped here
    /// rather than in the query, so the filter cannot depend on how a null <c>deletedAt</c> was written.
    /// </summary>
    public async IAsyncEnumerable<WorkspaceRecord> ListAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.type = @type").WithParameter("@type", CosmosTypes.Workspace);
        await foreach (var workspace in QueryAcrossPartitionsAsync<WorkspaceRecord>(db.Workspaces, query, WorkspacePageSize, cancellationToken))
        {
            if (workspace.DeletedAt is null)
            {
                yield return workspace;
            }
        }
    }

    private async Task UpsertMemberAsync(MembershipRecord membership, CancellationToken cancellationToken)
    {
        using var document = Document(membership, CosmosTypes.Member, CosmosKeys.Member(membership.UserId));
        await UpsertAsync(db.Workspaces, document, membership.WorkspaceId, cancellationToken);
    }

    private Task AddMembershipAsync(MembershipRecord membership, CancellationToken cancellationToken) =>
        ChangeMembershipsAsync(membership.UserId, list =>
        {
            list.Items.RemoveAll(i => i.WorkspaceId == membership.WorkspaceId);
            list.Items.Add(new UserMembershipEntry(membership.WorkspaceId, membership.Role, membership.JoinedAt));
        }, cancellationToken);

    /// <summary>Read-modify-write of the user's membership list, guarded by its etag (create-if-absent guarded by 409).</summary>
    private async Task ChangeMembershipsAsync(string userId, Action<UserMemberships> change, CancellationToken cancellationToken)
    {
        var key = CosmosKeys.Memberships(userId);
        for (var attempt = 1; ; attempt++)
        {
            var (list, etag) = await db.ReadLookupAsync<UserMemberships>(key, CosmosTypes.Memberships, cancellationToken);
            list ??= new UserMemberships([]);
            change(list);
            using var document = Lookup(key, CosmosTypes.Memberships, list);
            var saved = etag is null
                ? await TryCreateAsync(db.Lookups, document, key, cancellationToken)
                : await TryReplaceAsync(db.Lookups, key, document, key, etag, cancellationToken);
            if (saved)
            {
                return;
            }

            if (attempt == MaxAttempts)
            {
                throw new CosmosConcurrencyException($"The memberships of a user kept changing; gave up after {MaxAttempts} attempts.");
            }

            LogMembershipsRetry(logger, userId, attempt);
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), cancellationToken);
        }
    }

    internal static void RequirePlain(string id)
    {
        if (!CosmosIds.IsPlain(id))
        {
            throw new ArgumentException("Record ids must be plain ([A-Za-z0-9._:@-], at most 200 characters) to be Cosmos DB document ids.", nameof(id));
        }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "The memberships of user {UserId} changed concurrently; retrying (attempt {Attempt})")]
    private static partial void LogMembershipsRetry(ILogger logger, string userId, int attempt);
}

/// <summary>
/// Invites as documents of their workspace's partition. Two lookups: the token's hash → the invite (a point read for
/// the invite link), and the workspace + email → its pending invite, whose create-or-conditional-replace makes "one
/// pending invite per email" hold across instances. Pointers are checked against the invite they name, so one left
/// behind by a crash resolves to nothing.
/// </summary>
internal sealed class CosmosInviteStore(CosmosStoreContext db) : IInviteStore
{
    private const int MaxAttempts = 10;
    private static readonly TimeSpan AbandonedClaim = TimeSpan.FromMinutes(1);

    public async Task<bool> TryCreateAsync(InviteRecord invite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invite);
        CosmosWorkspaceStore.RequirePlain(invite.WorkspaceId);
        CosmosWorkspaceStore.RequirePlain(invite.Id);
        await db.EnsureReadyAsync(cancellationToken);

        var slotKey = CosmosKeys.InviteEmail(invite.WorkspaceId, invite.Email);
        for (var attempt = 1; ; attempt++)
        {
            var (slot, etag) = await db.ReadLookupAsync<InviteEmailSlot>(slotKey, CosmosTypes.InviteEmail, cancellationToken);
            if (slot is not null)
            {
                // Held by a pending invite, or by one being created right now (claimed, its document not written yet).
                // A claim whose invite never appeared (a crash in between) is taken over once it is old.
                var holder = await GetAsync(invite.WorkspaceId, slot.InviteId, cancellationToken);
                if (holder is { Status: InviteStatus.Pending } || (holder is null && DateTimeOffset.UtcNow - slot.ClaimedAt < AbandonedClaim))
                {
                    return false;
                }
            }

            using var claim = Lookup(slotKey, CosmosTypes.InviteEmail, new InviteEmailSlot(invite.Id, DateTimeOffset.UtcNow));
            var claimed = etag is null
                ? await CosmosStoreContext.TryCreateAsync(db.Lookups, claim, slotKey, cancellationToken)
                : await TryReplaceAsync(db.Lookups, slotKey, claim, slotKey, etag, cancellationToken);
            if (claimed)
            {
                break;
            }

            if (attempt == MaxAttempts)
            {
                throw new CosmosConcurrencyException($"Invites for one email kept changing; gave up after {MaxAttempts} attempts.");
            }
        }

        // The invite, then its token pointer: the link works once the invite behind it exists.
        using (var document = Document(invite, CosmosTypes.Invite))
        {
            await UpsertAsync(db.Workspaces, document, invite.WorkspaceId, cancellationToken);
        }

        await SavePointerAsync(invite, cancellationToken);
        return true;
    }

    public async Task<InviteRecord?> GetAsync(string workspaceId, string inviteId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId) || !CosmosIds.IsPlain(inviteId))
        {
            return null;
        }

        await db.EnsureReadyAsync(cancellationToken);
        return await ReadAsync<InviteRecord>(db.Workspaces, inviteId, workspaceId, CosmosTypes.Invite, cancellationToken);
    }

    public async Task<IReadOnlyList<InviteRecord>> ListPendingAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId))
        {
            return [];
        }

        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type AND c.status = @pending")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", CosmosTypes.Invite)
            .WithParameter("@pending", InviteStatus.Pending);
        return await QueryAsync<InviteRecord>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken);
    }

    public async Task<InviteRecord?> FindByTokenHashAsync(string tokenHash, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (pointer, _) = await db.ReadLookupAsync<InvitePointer>(CosmosKeys.InviteToken(tokenHash), CosmosTypes.InviteToken, cancellationToken);
        var invite = pointer is null ? null : await GetAsync(pointer.WorkspaceId, pointer.InviteId, cancellationToken);
        return invite?.TokenHash == tokenHash ? invite : null;
    }

    public async Task<bool> TryUpdateAsync(InviteRecord invite, string? previousTokenHash = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invite);
        if (!CosmosIds.IsPlain(invite.WorkspaceId) || !CosmosIds.IsPlain(invite.Id))
        {
            return false;
        }

        await db.EnsureReadyAsync(cancellationToken);
        var (stored, etag) = await db.ReadWithETagAsync<InviteRecord>(db.Workspaces, invite.Id, invite.WorkspaceId, CosmosTypes.Invite, cancellationToken);
        if (stored is null || etag is null || stored.Revision != invite.Revision - 1)
        {
            return false;
        }

        var newToken = previousTokenHash is not null && previousTokenHash != invite.TokenHash;
        if (newToken)
        {
            // Before the invite names it, the new pointer resolves to nothing (the hashes differ).
            await SavePointerAsync(invite, cancellationToken);
        }

        using (var document = Document(invite, CosmosTypes.Invite))
        {
            if (!await TryReplaceAsync(db.Workspaces, invite.Id, document, invite.WorkspaceId, etag, cancellationToken))
            {
                return false;
            }
        }

        if (newToken)
        {
            await DeleteAsync(db.Lookups, CosmosKeys.InviteToken(previousTokenHash!), CosmosKeys.InviteToken(previousTokenHash!), cancellationToken);
        }

        return true;
    }

    private async Task SavePointerAsync(InviteRecord invite, CancellationToken cancellationToken)
    {
        var key = CosmosKeys.InviteToken(invite.TokenHash);
        using var pointer = Lookup(key, CosmosTypes.InviteToken, new InvitePointer(invite.WorkspaceId, invite.Id));
        await UpsertAsync(db.Lookups, pointer, key, cancellationToken);
    }
}

/// <summary>Which invite holds a workspace's email, and since when.</summary>
internal sealed record InviteEmailSlot(string InviteId, DateTimeOffset ClaimedAt);

internal sealed class CosmosProjectStore(CosmosStoreContext db) : IProjectStore
{
    public async Task CreateAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        CosmosWorkspaceStore.RequirePlain(project.Id);
        CosmosWorkspaceStore.RequirePlain(project.WorkspaceId);
        await db.EnsureReadyAsync(cancellationToken);

        // The project, then its id pointer, then the key-hash pointer last: the key works once everything behind it exists.
        using (var document = Document(project, CosmosTypes.Project))
        {
            await UpsertAsync(db.Workspaces, document, project.WorkspaceId, cancellationToken);
        }

        var pointer = new ProjectPointer(project.WorkspaceId, project.Id);
        await UpsertPointerAsync(CosmosKeys.Project(project.Id), CosmosTypes.ProjectPointer, pointer, cancellationToken);
        await UpsertPointerAsync(CosmosKeys.KeyHash(project.KeyHash), CosmosTypes.KeyPointer, pointer, cancellationToken);
    }

    public async Task<ProjectRecord?> GetAsync(string projectId, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (pointer, _) = await db.ReadLookupAsync<ProjectPointer>(CosmosKeys.Project(projectId), CosmosTypes.ProjectPointer, cancellationToken);
        return pointer is null ? null : await ReadAsync<ProjectRecord>(db.Workspaces, pointer.ProjectId, pointer.WorkspaceId, CosmosTypes.Project, cancellationToken);
    }

    public async Task<IReadOnlyList<ProjectRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", CosmosTypes.Project);
        return await QueryAsync<ProjectRecord>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken);
    }

    public async Task UpdateAsync(ProjectRecord project, string? previousKeyHash = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        CosmosWorkspaceStore.RequirePlain(project.Id);
        await db.EnsureReadyAsync(cancellationToken);
        var keyChanged = previousKeyHash is not null && previousKeyHash != project.KeyHash;
        if (keyChanged)
        {
            // The new pointer may exist before the project names the new hash: FindByKeyHash checks the hash it
            // reaches, so the switch from old key to new key happens at the one project write below.
            await UpsertPointerAsync(CosmosKeys.KeyHash(project.KeyHash), CosmosTypes.KeyPointer, new ProjectPointer(project.WorkspaceId, project.Id), cancellationToken);
        }

        using (var document = Document(project, CosmosTypes.Project))
        {
            await UpsertAsync(db.Workspaces, document, project.WorkspaceId, cancellationToken);
        }

        if (keyChanged)
        {
            var oldKey = CosmosKeys.KeyHash(previousKeyHash!);
            await DeleteAsync(db.Lookups, oldKey, oldKey, cancellationToken);
        }
    }

    public async Task<ProjectRecord?> FindByKeyHashAsync(string keyHash, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var (pointer, _) = await db.ReadLookupAsync<ProjectPointer>(CosmosKeys.KeyHash(keyHash), CosmosTypes.KeyPointer, cancellationToken);
        var project = pointer is null
            ? null
            : await ReadAsync<ProjectRecord>(db.Workspaces, pointer.ProjectId, pointer.WorkspaceId, CosmosTypes.Project, cancellationToken);
        // A stale pointer (key regenerated, or a pointer left by a crash) must not authenticate.
        return project is not null && project.KeyHash == keyHash ? project : null;
    }

    private async Task UpsertPointerAsync(string key, string type, ProjectPointer pointer, CancellationToken cancellationToken)
    {
        using var document = Lookup(key, type, pointer);
        await UpsertAsync(db.Lookups, document, key, cancellationToken);
    }
}

internal sealed class CosmosCredentialStore(CosmosStoreContext db) : ICredentialStore
{
    public Task CreateAsync(CredentialRecord credential, CancellationToken cancellationToken = default) => UpdateAsync(credential, cancellationToken);

    public async Task<CredentialRecord?> GetAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId) || !CosmosIds.IsPlain(credentialId))
        {
            return null;
        }

        await db.EnsureReadyAsync(cancellationToken);
        return await ReadAsync<CredentialRecord>(db.Workspaces, credentialId, workspaceId, CosmosTypes.Credential, cancellationToken);
    }

    public async Task<IReadOnlyList<CredentialRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", CosmosTypes.Credential);
        return await QueryAsync<CredentialRecord>(db.Workspaces, query, workspaceId, int.MaxValue, cancellationToken);
    }

    public async Task UpdateAsync(CredentialRecord credential, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credential);
        CosmosWorkspaceStore.RequirePlain(credential.Id);
        await db.EnsureReadyAsync(cancellationToken);
        using var document = Document(credential, CosmosTypes.Credential);
        await UpsertAsync(db.Workspaces, document, credential.WorkspaceId, cancellationToken);
    }

    public async Task<bool> DeleteAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default)
    {
        // Only a credential may be deleted through this port, never the workspace or a project sharing the partition.
        if (await GetAsync(workspaceId, credentialId, cancellationToken) is null)
        {
            return false;
        }

        return await CosmosStoreContext.DeleteAsync(db.Workspaces, credentialId, workspaceId, cancellationToken);
    }
}

/// <summary>
/// Traces on Cosmos DB. Recording a call takes separate documents (the trace, the budget counters, its rollup rows) and
/// Cosmos DB offers no transaction across them here, so the trace is written first and is the record: when it cannot be
/// written nothing else is (the caller settles on its own). Then a reservation is given back, with the call's spend, in
/// one immediate patch of its counter; spend that gives nothing back and the rollup rows are summed in memory and written
/// within a second (<see cref="CosmosDeferredCounters"/>). A settlement that fails, an instance that crashes before its
/// flush, or rows that cannot be written leave spend and reports short of the traces — and
/// <see cref="CosmosDayReconciler"/> (run by the daily close) brings them to what the traces say.
/// </summary>
internal sealed partial class CosmosTraceStore(CosmosStoreContext db, CosmosBudgetLedger ledger, CosmosDeferredCounters counters, ILogger<CosmosTraceStore> logger) : ITraceStore
{
    /// <summary>Tries of a settlement that failed without being applied (throttled, unavailable), behind the answer.</summary>
    internal const int SettleAttempts = 4;

    public async Task AppendAsync(RequestTrace trace, BudgetSettlement? settlement = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trace);
        CosmosWorkspaceStore.RequirePlain(trace.Id);
        // An upsert, so an append tried again (its trace written, the answer lost) writes the same document once. When it
        // throws nothing else was written, and the caller may try the whole append again.
        await WriteTraceAsync(trace, cancellationToken);
        if (settlement is not null)
        {
            await SettleAsync(trace.Id, trace.WorkspaceId, settlement.ProjectId, settlement.Periods, settlement.ReservedUsd, settlement.ActualUsd);
            await SettleAsync(trace.Id, trace.WorkspaceId, WorkspaceBudget.LedgerId, settlement.Periods, settlement.WorkspaceReservedUsd, settlement.ActualUsd);
        }

        counters.AddRollups(trace);
    }

    /// <summary>
    /// A reservation is given back at once (with the spend, one patch); spend alone waits for the next flush. The trace is
    /// written, so this never throws (the caller would settle a second time): a patch that was not applied (429, 503) is
    /// tried again a few times; one whose answer was lost is not (an increment sent twice counts twice) — the daily
    /// reconciliation makes the day's spend its traced cost and releases what it still holds.
    /// </summary>
    private async Task SettleAsync(string requestId, string workspaceId, string ledgerId, BudgetPeriods periods, decimal reservedUsd, decimal actualUsd)
    {
        if (reservedUsd == 0)
        {
            counters.AddSpend(workspaceId, ledgerId, periods, actualUsd);
            return;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ledger.SettleAsync(workspaceId, ledgerId, periods, reservedUsd, actualUsd, CancellationToken.None);
                return;
            }
            catch (StoreUnavailableException ex) when (!ex.OutcomeUnknown && attempt < SettleAttempts)
            {
                await Task.Delay(ex.RetryAfter ?? TimeSpan.FromMilliseconds(250 * (1 << attempt)), CancellationToken.None);
            }
            catch (Exception ex) when (ex is StoreUnavailableException or CosmosException or HttpRequestException or OperationCanceledException or InvalidOperationException)
            {
                LogRecordIncomplete(logger, requestId, ex.GetType().Name);
                return;
            }
        }
    }

    /// <summary>The first of the call's writes, alone: what an instance stopped right after it leaves behind.</summary>
    internal async Task WriteTraceAsync(RequestTrace trace, CancellationToken cancellationToken)
    {
        await db.EnsureReadyAsync(cancellationToken);
        using var document = Document(trace, CosmosTypes.Trace, id: null, ("orderKey", OrderKey(trace.CreatedAt.UtcTicks, trace.Id)));
        await UpsertAsync(db.Traces, document, trace.WorkspaceId, cancellationToken);
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Trace {RequestId} written, its settlement not ({ErrorType}); the daily reconciliation repairs it")]
    private static partial void LogRecordIncomplete(ILogger logger, string requestId, string errorType);

    public async Task<RequestTrace?> GetAsync(string workspaceId, string requestId, CancellationToken cancellationToken = default)
    {
        if (!CosmosIds.IsPlain(workspaceId) || !CosmosIds.IsPlain(requestId))
        {
            return null;
        }

        await db.EnsureReadyAsync(cancellationToken);
        return await ReadAsync<RequestTrace>(db.Traces, requestId, workspaceId, CosmosTypes.Trace, cancellationToken);
    }

    /// <summary>
    /// Newest first by <c>orderKey</c> = 19-digit UTC ticks + '|' + id: one string, so ORDER BY needs no composite index,
    /// ties break by id as in SQLite, and the page cursor (the same as SQLite's) becomes a range filter — a keyset page.
    /// </summary>
    public async Task<TracePage> QueryAsync(string workspaceId, TraceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        string? cursorKey = null;
        if (query.Cursor is not null)
        {
            if (!TraceCursor.TryDecode(query.Cursor, out var cursorTicks, out var cursorId) || cursorTicks < 0)
            {
                throw new InvalidCursorException();
            }

            cursorKey = OrderKey(cursorTicks, cursorId);
        }

        await db.EnsureReadyAsync(cancellationToken);
        var limit = Math.Clamp(query.Limit, 1, 500);
        var sql = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"SELECT TOP {limit + 1} * FROM c WHERE c.workspaceId = @ws"));
        var parameters = new List<(string Name, object Value)> { ("@ws", workspaceId) };
        void Filter(string field, string name, string? value)
        {
            if (value is not null)
            {
                sql.Append(CultureInfo.InvariantCulture, $" AND c.{field} = @{name}");
                parameters.Add(("@" + name, value));
            }
        }

        Filter("provider", "provider", query.Provider);
        Filter("finalModel", "model", query.Model);
        Filter("optimizationMode", "mode", query.Mode);
        Filter("cacheStatus", "cache", query.CacheStatus);
        Filter("feature", "feature", query.Feature);
        Filter("projectId", "project", query.ProjectId);
        if (query.FinalProvider is not null)
        {
            // As the rollups count it: the provider that answered, else (a trace without one) the provider asked for.
            sql.Append(" AND (c.finalProvider = @finalProvider OR ((NOT IS_DEFINED(c.finalProvider) OR IS_NULL(c.finalProvider)) AND c.provider = @finalProvider))");
            parameters.Add(("@finalProvider", query.FinalProvider));
        }
        if (query.ModelContains is not null)
        {
            sql.Append(" AND CONTAINS(LOWER(c.finalModel), @modelPart)");
            parameters.Add(("@modelPart", query.ModelContains.ToLowerInvariant()));
        }

        if (query.From is { } from)
        {
            sql.Append(" AND c.orderKey >= @from");
            parameters.Add(("@from", Ticks(from.UtcTicks)));
        }

        if (query.To is { } to)
        {
            // Inclusive of every trace at exactly 'to': below the next tick.
            sql.Append(" AND c.orderKey < @to");
            parameters.Add(("@to", Ticks(to.UtcTicks + 1)));
        }

        if (cursorKey is not null)
        {
            sql.Append(" AND c.orderKey < @cursor");
            parameters.Add(("@cursor", cursorKey));
        }

        sql.Append(" ORDER BY c.orderKey DESC");
        var definition = new QueryDefinition(sql.ToString());
        foreach (var (name, value) in parameters)
        {
            definition = definition.WithParameter(name, value);
        }

        var items = await CosmosStoreContext.QueryAsync<RequestTrace>(db.Traces, definition, workspaceId, limit + 1, cancellationToken);
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveRange(limit, items.Count - limit);
            var last = items[^1];
            next = TraceCursor.Encode(last.CreatedAt.UtcTicks, last.Id);
        }

        return new TracePage(items, next);
    }

    /// <summary>Every trace of one workspace's UTC day: one single-partition range query on <c>orderKey</c>.</summary>
    internal static async Task<List<RequestTrace>> ListDayAsync(CosmosStoreContext db, string workspaceId, string day, CancellationToken cancellationToken)
    {
        var start = DateTimeOffset.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        await db.EnsureReadyAsync(cancellationToken);
        var query = new QueryDefinition("SELECT * FROM c WHERE c.workspaceId = @ws AND c.type = @type AND c.orderKey >= @from AND c.orderKey < @to")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", CosmosTypes.Trace)
            .WithParameter("@from", Ticks(start.UtcTicks))
            .WithParameter("@to", Ticks(start.AddDays(1).UtcTicks));
        return await CosmosStoreContext.QueryAsync<RequestTrace>(db.Traces, query, workspaceId, int.MaxValue, cancellationToken);
    }

    internal static string Ticks(long ticks) => ticks.ToString("D19", CultureInfo.InvariantCulture);

    internal static string OrderKey(long ticks, string id) => Ticks(ticks) + "|" + id;
}

/// <summary>The <c>store</c> readiness check: one point read through the client, database and container.</summary>
internal sealed class CosmosHealthCheck(CosmosStoreContext db) : IHealthCheck
{
    private const string ProbeId = "health:probe";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await db.EnsureReadyAsync(cancellationToken);
            // A point read of an id that never exists: ~1 RU, proves endpoint, credential, database and container.
            using var response = await db.Lookups.ReadItemStreamAsync(ProbeId, new PartitionKey(ProbeId), cancellationToken: cancellationToken);
            var healthy = response.StatusCode == HttpStatusCode.OK || IsMissingItem(response);
            return healthy ? HealthCheckResult.Healthy("cosmos") : HealthCheckResult.Unhealthy($"cosmos status {(int)response.StatusCode}");
        }
        catch (CosmosException ex)
        {
            return HealthCheckResult.Unhealthy($"cosmos status {(int)ex.StatusCode}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"cosmos unreachable ({ex.GetType().Name})");
        }
    }
}

/// <summary>A conditional write kept losing to concurrent writers.</summary>
public sealed class CosmosConcurrencyException : Exception
{
    public CosmosConcurrencyException() : base("A Cosmos DB document kept changing concurrently.") { }
    public CosmosConcurrencyException(string message) : base(message) { }
    public CosmosConcurrencyException(string message, Exception inner) : base(message, inner) { }
}
