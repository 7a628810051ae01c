using KillToken.Core.Domain;

namespace KillToken.Core.Ports;

// Store ports, written for Cosmos DB's shape: documents partitioned by workspace, point reads,
// a small global lookup space for unique keys. SQLite and Cosmos DB implement the same contract.

public interface IUserStore
{
    /// <summary>Creates the user; false when the email is taken (emails are unique, compared lower-case).</summary>
    Task<bool> TryCreateAsync(UserRecord user, CancellationToken cancellationToken = default);
    Task<UserRecord?> FindByEmailAsync(string email, CancellationToken cancellationToken = default);
    Task<UserRecord?> GetAsync(string userId, CancellationToken cancellationToken = default);
    /// <summary>Replaces the user's password hash (a rehash at today's work factor); nothing when the user is gone.</summary>
    Task SetPasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default);
}

public interface IWorkspaceStore
{
    Task CreateAsync(WorkspaceRecord workspace, MembershipRecord owner, CancellationToken cancellationToken = default);
    /// <summary>The workspace, deleted or not; callers decide what a soft-deleted one means.</summary>
    Task<WorkspaceRecord?> GetAsync(string workspaceId, CancellationToken cancellationToken = default);
    Task UpdateAsync(WorkspaceRecord workspace, CancellationToken cancellationToken = default);
    Task<MembershipRecord?> GetMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<MembershipRecord>> ListMembershipsOfUserAsync(string userId, CancellationToken cancellationToken = default);

    /// <summary>Adds the member or changes its role: the member document and the user's own list of workspaces.</summary>
    Task SaveMembershipAsync(MembershipRecord membership, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes the member; false when the user was not one. The member document goes first: every role check reads it,
    /// so access ends with that write, before the user's list of workspaces is updated.
    /// </summary>
    Task<bool> RemoveMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Serialises the membership changes of one workspace (role changes, removals, joins), also across instances, so a
    /// rule over all its members — a workspace keeps an owner — is checked and kept in one step, and a change cannot
    /// bring back a member removed meanwhile. Dispose the result to release it.
    /// </summary>
    Task<IAsyncDisposable> LockMembersAsync(string workspaceId, CancellationToken cancellationToken = default);

    /// <summary>The members of one workspace, every role (one partition).</summary>
    Task<IReadOnlyList<MembershipRecord>> ListMembersAsync(string workspaceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every workspace that is not soft-deleted, read page by page as the caller iterates. This is a cross-partition
    /// scan, acceptable only for scheduled work such as the monthly digest — never on a request path.
    /// </summary>
    IAsyncEnumerable<WorkspaceRecord> ListAllAsync(CancellationToken cancellationToken = default);
}

/// <summary>Invites of a workspace (its partition), and a global pointer from a token's hash to its invite.</summary>
public interface IInviteStore
{
    /// <summary>Creates the invite and its token pointer; false when the workspace has a pending invite for the same email.</summary>
    Task<bool> TryCreateAsync(InviteRecord invite, CancellationToken cancellationToken = default);

    Task<InviteRecord?> GetAsync(string workspaceId, string inviteId, CancellationToken cancellationToken = default);

    /// <summary>The workspace's pending invites, expired ones included (one partition; answered invites are not read).</summary>
    Task<IReadOnlyList<InviteRecord>> ListPendingAsync(string workspaceId, CancellationToken cancellationToken = default);

    /// <summary>The invite whose current token has this hash; null for an unknown or replaced token.</summary>
    Task<InviteRecord?> FindByTokenHashAsync(string tokenHash, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves <paramref name="invite"/> when the stored one is still at revision <c>invite.Revision - 1</c>; false when it
    /// changed since it was read (an accept, resend or cancel won). A new token hash resolves at once and
    /// <paramref name="previousTokenHash"/>, when given, stops resolving.
    /// </summary>
    Task<bool> TryUpdateAsync(InviteRecord invite, string? previousTokenHash = null, CancellationToken cancellationToken = default);
}

public interface IProjectStore
{
    /// <summary>Creates the project and registers its key hash for lookup.</summary>
    Task CreateAsync(ProjectRecord project, CancellationToken cancellationToken = default);
    Task<ProjectRecord?> GetAsync(string projectId, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<ProjectRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default);
    /// <summary>Saves settings; when the key hash changed, the old hash stops resolving at once.</summary>
    Task UpdateAsync(ProjectRecord project, string? previousKeyHash = null, CancellationToken cancellationToken = default);
    Task<ProjectRecord?> FindByKeyHashAsync(string keyHash, CancellationToken cancellationToken = default);
}

public interface ICredentialStore
{
    Task CreateAsync(CredentialRecord credential, CancellationToken cancellationToken = default);
    Task<CredentialRecord?> GetAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default);
    Task<IReadOnlyList<CredentialRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default);
    Task UpdateAsync(CredentialRecord credential, CancellationToken cancellationToken = default);
    Task<bool> DeleteAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default);
}

public sealed record TraceQuery
{
    /// <summary>The provider the call asked for.</summary>
    public string? Provider { get; init; }
    /// <summary>The model that answered (exact).</summary>
    public string? Model { get; init; }
    /// <summary>The provider that answered, after any fallback (the analytics' and their export's <c>provider</c>).</summary>
    public string? FinalProvider { get; init; }
    /// <summary>A case-insensitive part of the model that answered (seed 002's partial <c>model</c> filter).</summary>
    public string? ModelContains { get; init; }
    public string? Mode { get; init; }
    public string? CacheStatus { get; init; }
    public string? Feature { get; init; }
    public string? ProjectId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    /// <summary>Opaque cursor returned by the previous page.</summary>
    public string? Cursor { get; init; }
    public int Limit { get; init; } = 50;
}

public sealed record TracePage(IReadOnlyList<RequestTrace> Items, string? NextCursor);

/// <summary>
/// What a finished call owes the budget counters: its project's and its workspace's (<see cref="Budgets.WorkspaceBudget"/>)
/// each get its real cost, and each gives back what it held — the workspace's only when the reservation was also held
/// there (<paramref name="IncludesWorkspace"/>: the workspace had a limit when the call was admitted).
/// </summary>
public sealed record BudgetSettlement(string ProjectId, Budgets.BudgetPeriods Periods, decimal ReservedUsd, decimal ActualUsd, bool IncludesWorkspace = false)
{
    public decimal WorkspaceReservedUsd => IncludesWorkspace ? ReservedUsd : 0m;
}

public interface ITraceStore
{
    /// <summary>
    /// Records a finished call: its trace, its share of the daily rollups and, when given, its budget settlement —
    /// so that reports, traces and budget spend agree after a crash. The embedded store writes all three in one
    /// transaction; Cosmos DB writes the trace, then the settlement, then the rollups, and the daily close reconciles
    /// an ended day's rollups and spend with its traces. When it throws, the settlement was not written.
    /// </summary>
    Task AppendAsync(RequestTrace trace, BudgetSettlement? settlement = null, CancellationToken cancellationToken = default);
    Task<RequestTrace?> GetAsync(string workspaceId, string requestId, CancellationToken cancellationToken = default);
    /// <summary>Newest first, within one workspace.</summary>
    Task<TracePage> QueryAsync(string workspaceId, TraceQuery query, CancellationToken cancellationToken = default);
}

/// <summary>
/// One entry of a workspace's audit log: who did what to which target, when and from where, with a small set of
/// non-secret details and, for a change, the fields' values before and after. Never a key, a secret or prompt text.
/// </summary>
/// <param name="ActorType"><c>user</c> (a dashboard session), <c>api_key</c> (a project key) or <c>system</c> (scheduled work).</param>
/// <param name="ActorId">The user's id, the project's id for a project key, or the job's name.</param>
/// <param name="Target">The id of what was acted on: a workspace, project, credential, invite or user id, or an export's route.</param>
/// <param name="Changes">For an update: each changed field's value before and after (non-secret fields only).</param>
public sealed record AuditEvent(
    string Id,
    string WorkspaceId,
    string Event,
    string ActorType,
    string ActorId,
    string? Target,
    DateTimeOffset At,
    string? ClientAddress,
    IReadOnlyDictionary<string, string?> Details,
    IReadOnlyDictionary<string, AuditChange>? Changes = null);

/// <summary>A field's value before and after a change, as text (null = not set).</summary>
public sealed record AuditChange(string? Before, string? After);

/// <summary>The audit log's event names and actor types (seed 002's events plus KillToken's own).</summary>
public static class AuditEvents
{
    public const string WorkspaceCreated = "workspace_created";
    public const string WorkspaceUpdated = "workspace_updated";
    public const string WorkspaceDeleted = "workspace_deleted";
    public const string MemberInvited = "member_invited";
    public const string InviteResent = "invite_resent";
    public const string InviteAccepted = "invite_accepted";
    public const string InviteCancelled = "invite_cancelled";
    public const string MemberRoleChanged = "member_role_changed";
    public const string MemberRemoved = "member_removed";
    public const string ProjectCreated = "project_created";
    public const string ProjectUpdated = "project_updated";
    public const string BudgetChanged = "budget_changed";
    public const string KeyRegenerated = "key_regenerated";
    public const string ProjectDeactivated = "project_deactivated";
    public const string ProjectActivated = "project_activated";
    public const string PricingChanged = "pricing_changed";
    public const string CredentialCreated = "credential_created";
    public const string CredentialUpdated = "credential_updated";
    public const string CredentialRotated = "credential_rotated";
    public const string CredentialDisabled = "credential_disabled";
    public const string CredentialEnabled = "credential_enabled";
    public const string CredentialDeleted = "credential_deleted";
    public const string CredentialTested = "credential_tested";
    public const string ExportDownloaded = "export_downloaded";
    public const string DigestSent = "digest_sent";
    public const string BudgetAlert = "budget_alert";

    /// <summary>Every event name above: the audit route's <c>event</c> filter accepts only these.</summary>
    public static IReadOnlySet<string> All { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        WorkspaceCreated, WorkspaceUpdated, WorkspaceDeleted, MemberInvited, InviteResent, InviteAccepted, InviteCancelled,
        MemberRoleChanged, MemberRemoved, ProjectCreated, ProjectUpdated, BudgetChanged, KeyRegenerated, ProjectDeactivated,
        ProjectActivated, PricingChanged, CredentialCreated, CredentialUpdated, CredentialRotated, CredentialDisabled,
        CredentialEnabled, CredentialDeleted, CredentialTested, ExportDownloaded, DigestSent, BudgetAlert,
    };

    public const string ActorUser = "user";
    public const string ActorApiKey = "api_key";
    public const string ActorSystem = "system";
}

/// <summary>A page of the audit log: optional filters by event name and actor id, newest first.</summary>
public sealed record AuditQuery
{
    public string? Event { get; init; }
    public string? ActorId { get; init; }
    /// <summary>Opaque cursor returned by the previous page.</summary>
    public string? Cursor { get; init; }
    public int Limit { get; init; } = 50;
}

public sealed record AuditPage(IReadOnlyList<AuditEvent> Items, string? NextCursor);

/// <summary>
/// The append-only audit log, one per workspace, read newest first (events of the same instant by id). There is no
/// update and no delete. A cursor the store did not issue is an <see cref="InvalidCursorException"/>.
/// </summary>
public interface IAuditLog
{
    Task AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default);

    /// <summary>One page of the workspace's events matching <paramref name="query"/>, newest first (at most 1,000).</summary>
    Task<AuditPage> ListAsync(string workspaceId, AuditQuery query, CancellationToken cancellationToken = default);
}

/// <summary>A page cursor the store did not issue; the API answers 400.</summary>
public sealed class InvalidCursorException : Exception
{
    public InvalidCursorException() : base("The cursor is not valid.") { }
    public InvalidCursorException(string message) : base(message) { }
    public InvalidCursorException(string message, Exception inner) : base(message, inner) { }
}
