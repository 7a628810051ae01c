using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;

namespace KillToken.Core.Management;

public sealed record UserView(string Id, string Email, string? Name, DateTimeOffset CreatedAt)
{
    public static UserView From(UserRecord u) => new(u.Id, u.Email, u.Name, u.CreatedAt);
}

/// <param name="MonthlyBudgetUsd">Seed 002's workspace budget: a monthly limit across all its projects (null = none).</param>
/// <param name="Month">This month's spend and reservations against that limit; present when the workspace has one.</param>
public sealed record WorkspaceView(string Id, string Name, string Role, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    decimal? MonthlyBudgetUsd = null, PeriodSpendView? Month = null)
{
    public static WorkspaceView From(WorkspaceRecord w, string role, PeriodSpendView? month = null) =>
        new(w.Id, w.Name, role, w.CreatedAt, w.UpdatedAt, w.MonthlyBudgetUsd, month);
}

public sealed record ProjectView(
    string Id, string WorkspaceId, string Name, decimal? DailyBudgetUsd, decimal? MonthlyBudgetUsd,
    string? FallbackModel, string? FallbackProvider, string? AlertEmail, bool Active, string KeyPreview, IReadOnlyList<string> Scopes,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? LastUsedAt, ProjectSpendView? Spend = null)
{
    public static ProjectView From(ProjectRecord p, Budgets.BudgetPlan? plan = null) => new(p.Id, p.WorkspaceId, p.Name, p.DailyBudgetUsd, p.MonthlyBudgetUsd,
        p.FallbackModel, p.FallbackProvider, p.AlertEmail, p.Active, p.KeyPreview, p.Scopes, p.CreatedAt, p.UpdatedAt, p.LastUsedAt,
        plan is null ? null : ProjectSpendView.From(p, plan));
}

/// <summary>Today's and this month's spend and reservations, and the budget state: normal, fallback or blocked.</summary>
public sealed record ProjectSpendView(string State, PeriodSpendView Today, PeriodSpendView Month)
{
    public static ProjectSpendView From(ProjectRecord p, Budgets.BudgetPlan plan) => new(
        plan.Rejection is not null ? "blocked" : plan.FallbackModel is not null ? "fallback" : "normal",
        new PeriodSpendView(plan.Periods.Day, Math.Round(plan.Usage.DaySpent, 6), Math.Round(plan.Usage.DayReserved, 6), p.DailyBudgetUsd, plan.Periods.DayResetsAt),
        new PeriodSpendView(plan.Periods.Month, Math.Round(plan.Usage.MonthSpent, 6), Math.Round(plan.Usage.MonthReserved, 6), p.MonthlyBudgetUsd, plan.Periods.MonthResetsAt));
}

public sealed record PeriodSpendView(string Period, decimal SpentUsd, decimal ReservedUsd, decimal? LimitUsd, DateTimeOffset ResetsAt);

/// <summary>Users, workspaces and membership checks (seed 002's permission matrix).</summary>
public sealed class AccountService(IUserStore users, IWorkspaceStore workspaces, IProjectStore projects, WorkspaceSettings settings, TimeProvider time,
    Budgets.IBudgetLedger? ledger = null)
{
    public const int MinPasswordLength = 8;

    public async Task<(UserRecord? User, WorkspaceRecord? Workspace, GatewayError? Error)> SignUpAsync(JsonObject body, CancellationToken cancellationToken = default)
    {
        if (!JsonFields.TryString(body, "email", true, 254, out var email, out var error)
            || !JsonFields.TryString(body, "name", false, 100, out var name, out error))
        {
            return (null, null, error);
        }

        if (!IsEmail(email!))
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'email' must be an email address."));
        }

        var password = ChatRequestParser.AsString(body["password"]);
        if (password is null || password.Length < MinPasswordLength || password.Length > 200)
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'password' must be {MinPasswordLength} to 200 characters."));
        }

        var now = time.GetUtcNow();
        var user = new UserRecord
        {
            Id = Ids.New("usr"),
            Email = email!.ToLowerInvariant(),
            Name = name,
            PasswordHash = PasswordHashing.Hash(password),
            CreatedAt = now,
        };

        if (!await users.TryCreateAsync(user, cancellationToken))
        {
            return (null, null, new GatewayError(409, ErrorCodes.Conflict, "An account with this email already exists; sign in with POST /api/auth/login."));
        }

        var workspace = await CreateWorkspaceAsync(user.Id, string.IsNullOrWhiteSpace(name) ? "My workspace" : $"{name}'s workspace", cancellationToken);
        return (user, workspace, null);
    }

    /// <summary>The user when email and password match; null otherwise (same time either way).</summary>
    public async Task<UserRecord?> SignInAsync(string email, string password, CancellationToken cancellationToken = default)
    {
        var user = await users.FindByEmailAsync(email.Trim().ToLowerInvariant(), cancellationToken);
        var ok = PasswordHashing.Verify(password, user?.PasswordHash ?? PasswordHashing.DummyHash);
        if (!ok || user is null)
        {
            return null;
        }

        // The one moment the plain password is at hand: a hash from an older work factor is replaced by today's.
        if (PasswordHashing.NeedsRehash(user.PasswordHash))
        {
            user = user with { PasswordHash = PasswordHashing.Hash(password) };
            await users.SetPasswordHashAsync(user.Id, user.PasswordHash, cancellationToken);
        }

        return user;
    }

    public Task<UserRecord?> GetUserAsync(string userId, CancellationToken cancellationToken = default) => users.GetAsync(userId, cancellationToken);

    public async Task<WorkspaceRecord> CreateWorkspaceAsync(string userId, string name, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var workspace = new WorkspaceRecord { Id = Ids.New("ws"), Name = name, OwnerUserId = userId, CreatedAt = now, UpdatedAt = now };
        await workspaces.CreateAsync(workspace, new MembershipRecord { WorkspaceId = workspace.Id, UserId = userId, Role = WorkspaceRoles.Owner, JoinedAt = now }, cancellationToken);
        return workspace;
    }

    public async Task<IReadOnlyList<WorkspaceView>> ListWorkspacesAsync(string userId, CancellationToken cancellationToken = default)
    {
        var result = new List<WorkspaceView>();
        foreach (var listed in await workspaces.ListMembershipsOfUserAsync(userId, cancellationToken))
        {
            // The member document is the truth (the user's own list is a second write that a failure can leave behind).
            var workspace = await workspaces.GetAsync(listed.WorkspaceId, cancellationToken);
            var membership = workspace is { DeletedAt: null } ? await workspaces.GetMembershipAsync(workspace.Id, userId, cancellationToken) : null;
            if (membership is not null)
            {
                result.Add(await ViewAsync(workspace!, membership.Role, cancellationToken));
            }
        }

        return [.. result.OrderBy(w => w.CreatedAt)];
    }

    /// <summary>
    /// The caller's membership when it has at least <paramref name="minimumRole"/>. A stranger (or a deleted
    /// workspace) gets 404, so workspace ids cannot be probed; a member without the role gets 403.
    /// </summary>
    public async Task<(WorkspaceRecord? Workspace, MembershipRecord? Membership, GatewayError? Error)> RequireRoleAsync(
        string userId, string workspaceId, string minimumRole, CancellationToken cancellationToken = default)
    {
        var workspace = await workspaces.GetAsync(workspaceId, cancellationToken);
        var membership = workspace is { DeletedAt: null } ? await workspaces.GetMembershipAsync(workspaceId, userId, cancellationToken) : null;
        if (workspace is null || membership is null)
        {
            return (null, null, GatewayError.NotFound("Workspace"));
        }

        if (WorkspaceRoles.Rank(membership.Role) < WorkspaceRoles.Rank(minimumRole))
        {
            return (workspace, membership, GatewayError.Forbidden($"This action needs the {minimumRole} role in the workspace."));
        }

        return (workspace, membership, null);
    }

    /// <summary>The workspace as its members see it, with this month's spend against its limit when it has one.</summary>
    public async Task<WorkspaceView> ViewAsync(WorkspaceRecord workspace, string role, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (workspace.MonthlyBudgetUsd is not { } limit || ledger is null)
        {
            return WorkspaceView.From(workspace, role);
        }

        var periods = Budgets.BudgetPeriods.At(time.GetUtcNow());
        var usage = await ledger.GetAsync(workspace.Id, Budgets.WorkspaceBudget.LedgerId, periods, cancellationToken);
        return WorkspaceView.From(workspace, role,
            new PeriodSpendView(periods.Month, Math.Round(usage.MonthSpent, 6), Math.Round(usage.MonthReserved, 6), limit, periods.MonthResetsAt));
    }

    /// <summary>
    /// Renames the workspace and/or sets its monthly budget (<c>monthlyBudgetUsd</c>, null for none). Both are the owner's
    /// (seed 002: rename and billing). A new limit counts the month's spend so far (every call's cost is settled into the
    /// workspace's counter; a month from before such counters is seeded from its projects'), and every call from then on
    /// must fit it as well as its project's limits.
    /// </summary>
    public async Task<(WorkspaceView? View, WorkspaceRecord? Before, GatewayError? Error)> UpdateWorkspaceAsync(string userId, string workspaceId, JsonObject body, CancellationToken cancellationToken = default)
    {
        var (before, membership, error) = await RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Owner, cancellationToken);
        if (error is not null)
        {
            return (null, null, error);
        }

        var renames = body.ContainsKey("name");
        if (!JsonFields.TryString(body, "name", false, 100, out var name, out error)
            || !JsonFields.TryMoney(body, "monthlyBudgetUsd", out var setsBudget, out var budget, out error))
        {
            return (null, null, error);
        }

        if (renames && string.IsNullOrEmpty(name))
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'name' must be a non-empty string of at most 100 characters."));
        }

        if (!renames && !setsBudget)
        {
            return (null, null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "Send 'name' and/or 'monthlyBudgetUsd' (a USD amount, or null for no limit)."));
        }

        if (setsBudget && budget is not null && ledger is not null)
        {
            // Before the limit is published, and to the end even if the caller goes away: the first check sees the month's spend.
            await ledger.SeedWorkspaceAsync(workspaceId, Budgets.BudgetPeriods.At(time.GetUtcNow()), CancellationToken.None);
        }

        var updated = await settings.UpdateAsync(workspaceId, w => w with
        {
            Name = renames ? name! : w.Name,
            MonthlyBudgetUsd = setsBudget ? budget : w.MonthlyBudgetUsd,
        }, cancellationToken);
        if (updated is null)
        {
            return (null, null, GatewayError.NotFound("Workspace"));
        }

        return (await ViewAsync(updated, membership!.Role, cancellationToken), before, null);
    }

    /// <summary>
    /// Seed 002: owner only, soft delete, never the caller's last workspace, and only with the workspace's exact name
    /// typed as <paramref name="confirmName"/> (the body's <c>confirmName</c>).
    /// </summary>
    public async Task<(WorkspaceRecord? Deleted, GatewayError? Error)> DeleteWorkspaceAsync(string userId, string workspaceId, string? confirmName, CancellationToken cancellationToken = default)
    {
        var (workspace, _, error) = await RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Owner, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        var remaining = await ListWorkspacesAsync(userId, cancellationToken);
        if (remaining.Count <= 1)
        {
            return (null, new GatewayError(409, ErrorCodes.Conflict, "You cannot delete your only workspace."));
        }

        if (!string.Equals(confirmName, workspace!.Name, StringComparison.Ordinal))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "Type the workspace's exact name as 'confirmName' to delete it."));
        }

        // Its keys die with it: deactivating the projects keeps the key check a plain point read on the hot path.
        var now = time.GetUtcNow();
        foreach (var project in await projects.ListAsync(workspaceId, cancellationToken))
        {
            if (project.Active)
            {
                await projects.UpdateAsync(project with { Active = false, UpdatedAt = now }, cancellationToken: cancellationToken);
            }
        }

        var deleted = workspace with { DeletedAt = now, UpdatedAt = now };
        await workspaces.UpdateAsync(deleted, cancellationToken);
        return (deleted, null);
    }

    internal static bool IsEmail(string email)
    {
        var at = email.IndexOf('@', StringComparison.Ordinal);
        return at > 0 && at < email.Length - 3 && email.IndexOf('.', at) > at + 1 && !email.Any(char.IsWhiteSpace) && email.Count(c => c == '@') == 1;
    }
}
