using System.Globalization;
using KillToken.Core;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Pricing;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Management;
using KillToken.Core.Ports;
using KillToken.Api.Http;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>Sign-up, sign-in, workspaces and projects of the dashboard API (JWT session).</summary>
public sealed class AccountHandlers(
    AccountService accounts,
    ProjectService projectService,
    IProjectStore projects,
    ITraceStore traces,
    SessionTokens sessions,
    SignInThrottle throttle,
    IBudgetGate budgets,
    WorkspacePricing pricing,
    MonthlyDigestBuilder digests,
    IMonthlyDigestSender digestSender,
    AuditRecorder audit,
    GatewayOptions options)
{
    public async Task<IResult> SignUpAsync(HttpContext context)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (user, workspace, signUpError) = await accounts.SignUpAsync(body!, context.RequestAborted);
        if (signUpError is not null)
        {
            return GatewayJson.Error(context, signUpError);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, user!.Id), workspace!.Id, AuditEvents.WorkspaceCreated, workspace.Id, WorkspaceDetails(workspace));
        return GatewayJson.Ok(new
        {
            user = UserView.From(user!),
            workspace = WorkspaceView.From(workspace!, WorkspaceRoles.Owner),
            token = sessions.Issue(user!.Id, user.Email),
        }, 201);
    }

    public async Task<IResult> LoginAsync(HttpContext context)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var email = ChatRequestParser.AsString(body!["email"])?.Trim().ToLowerInvariant();
        var password = ChatRequestParser.AsString(body["password"]);
        if (string.IsNullOrEmpty(email) || string.IsNullOrEmpty(password))
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'email' and 'password' are required."));
        }

        var address = context.Connection.RemoteIpAddress?.ToString();
        if (throttle.IsBlocked(email, address))
        {
            return GatewayJson.Error(context, new GatewayError(429, ErrorCodes.TooManyAttempts, "Too many failed sign-ins; try again later.")
            {
                RetryAfterSeconds = (int)SignInThrottle.Window.TotalSeconds,
            });
        }

        var user = await accounts.SignInAsync(email, password, context.RequestAborted);
        if (user is null)
        {
            throttle.RecordFailure(email, address);
            return GatewayJson.Error(context, new GatewayError(401, ErrorCodes.InvalidCredentials, "Email or password is wrong."));
        }

        return GatewayJson.Ok(new { token = sessions.Issue(user.Id, user.Email), user = UserView.From(user) });
    }

    public Task<IResult> MeAsync(HttpContext context) => WithUserAsync(context, async userId =>
    {
        var user = await accounts.GetUserAsync(userId, context.RequestAborted);
        if (user is null)
        {
            return GatewayJson.Error(context, new GatewayError(401, ErrorCodes.Unauthenticated, "This account no longer exists."));
        }

        return GatewayJson.Ok(new { user = UserView.From(user), workspaces = await accounts.ListWorkspacesAsync(userId, context.RequestAborted) });
    });

    public Task<IResult> ListWorkspacesAsync(HttpContext context) => WithUserAsync(context, async userId =>
        GatewayJson.Ok(new { data = await accounts.ListWorkspacesAsync(userId, context.RequestAborted) }));

    public Task<IResult> CreateWorkspaceAsync(HttpContext context) => WithUserAsync(context, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        var name = body is null ? null : ChatRequestParser.AsString(body["name"])?.Trim();
        if (error is null && (string.IsNullOrEmpty(name) || name.Length > 100))
        {
            error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'name' is required: at most 100 characters.");
        }

        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var workspace = await accounts.CreateWorkspaceAsync(userId, name!, context.RequestAborted);
        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspace.Id, AuditEvents.WorkspaceCreated, workspace.Id, WorkspaceDetails(workspace));
        return GatewayJson.Ok(WorkspaceView.From(workspace, WorkspaceRoles.Owner), 201);
    });

    public Task<IResult> UpdateWorkspaceAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (view, before, updateError) = await accounts.UpdateWorkspaceAsync(userId, workspaceId, body!, context.RequestAborted);
        if (updateError is not null)
        {
            return GatewayJson.Error(context, updateError);
        }

        var changes = new AuditChanges().Add("name", before!.Name, view!.Name).Add("monthlyBudgetUsd", before.MonthlyBudgetUsd, view.MonthlyBudgetUsd);
        if (changes.Any)
        {
            await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.WorkspaceUpdated, workspaceId, changes: changes.ToDictionary());
        }

        return GatewayJson.Ok(view);
    });

    /// <summary><c>GET /api/workspaces/{workspaceId}</c>: any member; with the month's spend against the workspace budget.</summary>
    public Task<IResult> GetWorkspaceAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (workspace, membership, error) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Member, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(await accounts.ViewAsync(workspace!, membership!.Role, context.RequestAborted));
    });

    /// <summary><c>DELETE /api/workspaces/{id}</c> with <c>{"confirmName": "&lt;the exact name&gt;"}</c> (owner only; soft delete).</summary>
    public Task<IResult> DeleteWorkspaceAsync(HttpContext context, string workspaceId) => WithUserAsync(context, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (deleted, deleteError) = await accounts.DeleteWorkspaceAsync(userId, workspaceId, ChatRequestParser.AsString(body!["confirmName"]), context.RequestAborted);
        if (deleteError is not null)
        {
            return GatewayJson.Error(context, deleteError);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.WorkspaceDeleted, workspaceId, WorkspaceDetails(deleted!));
        return Results.NoContent();
    });

    public Task<IResult> ListProjectsAsync(HttpContext context, string workspaceId) => WithRoleAsync(context, workspaceId, WorkspaceRoles.Member, async _ =>
    {
        var views = new List<ProjectView>();
        foreach (var project in (await projects.ListAsync(workspaceId, context.RequestAborted)).OrderBy(p => p.CreatedAt))
        {
            views.Add(ProjectView.From(project, await budgets.DescribeAsync(project, context.RequestAborted)));
        }

        return GatewayJson.Ok(new { data = views });
    });

    public Task<IResult> CreateProjectAsync(HttpContext context, string workspaceId) => WithRoleAsync(context, workspaceId, WorkspaceRoles.Admin, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (project, apiKey, createError) = await projectService.CreateAsync(workspaceId, body!, context.RequestAborted);
        if (createError is not null)
        {
            return GatewayJson.Error(context, createError);
        }

        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.ProjectCreated, project!.Id,
            new Dictionary<string, string?> { ["name"] = project.Name });
        return GatewayJson.Ok(new { project = ProjectView.From(project), apiKey }, 201);
    });

    public Task<IResult> GetProjectAsync(HttpContext context, string projectId) =>
        WithProjectAsync(context, projectId, WorkspaceRoles.Member, async (_, project) =>
            GatewayJson.Ok(ProjectView.From(project, await budgets.DescribeAsync(project, context.RequestAborted))));

    public Task<IResult> UpdateProjectAsync(HttpContext context, string projectId) => WithProjectAsync(context, projectId, WorkspaceRoles.Admin, async (userId, project) =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (updated, updateError) = await projectService.UpdateAsync(project, body!, context.RequestAborted);
        if (updateError is not null)
        {
            return GatewayJson.Error(context, updateError);
        }

        var changes = new AuditChanges()
            .Add("name", project.Name, updated!.Name)
            .Add("dailyBudgetUsd", project.DailyBudgetUsd, updated.DailyBudgetUsd)
            .Add("monthlyBudgetUsd", project.MonthlyBudgetUsd, updated.MonthlyBudgetUsd)
            .Add("fallbackModel", project.FallbackModel, updated.FallbackModel)
            .Add("fallbackProvider", project.FallbackProvider, updated.FallbackProvider)
            .Add("alertEmail", project.AlertEmail, updated.AlertEmail)
            .Add("scopes", project.Scopes, updated.Scopes);
        if (changes.Any)
        {
            var auditEvent = changes.Has("dailyBudgetUsd") || changes.Has("monthlyBudgetUsd") ? AuditEvents.BudgetChanged : AuditEvents.ProjectUpdated;
            await audit.RecordAsync(HandlerSupport.UserActor(context, userId), project.WorkspaceId, auditEvent, project.Id, changes: changes.ToDictionary());
        }

        return GatewayJson.Ok(ProjectView.From(updated));
    });

    public Task<IResult> RegenerateKeyAsync(HttpContext context, string projectId) => WithProjectAsync(context, projectId, WorkspaceRoles.Admin, async (userId, project) =>
    {
        var (updated, apiKey) = await projectService.RegenerateKeyAsync(project, context.RequestAborted);
        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), project.WorkspaceId, AuditEvents.KeyRegenerated, project.Id);
        return GatewayJson.Ok(new { project = ProjectView.From(updated), apiKey });
    });

    public Task<IResult> DeactivateAsync(HttpContext context, string projectId) => SetActiveAsync(context, projectId, false);

    public Task<IResult> ActivateAsync(HttpContext context, string projectId) => SetActiveAsync(context, projectId, true);

    private Task<IResult> SetActiveAsync(HttpContext context, string projectId, bool active) => WithProjectAsync(context, projectId, WorkspaceRoles.Admin, async (userId, project) =>
    {
        var updated = await projectService.SetActiveAsync(project, active, context.RequestAborted);
        if (updated.Active != project.Active)
        {
            await audit.RecordAsync(HandlerSupport.UserActor(context, userId), project.WorkspaceId,
                active ? AuditEvents.ProjectActivated : AuditEvents.ProjectDeactivated, project.Id);
        }

        return GatewayJson.Ok(ProjectView.From(updated));
    });

    /// <summary>The workspace's negotiated prices (USD per 1M tokens), which win over the pricing table.</summary>
    public Task<IResult> GetPricingAsync(HttpContext context, string workspaceId) => WithRoleAsync(context, workspaceId, WorkspaceRoles.Member, async _ =>
        GatewayJson.Ok(new { models = await pricing.GetAsync(workspaceId, context.RequestAborted) ?? [] }));

    public Task<IResult> SetPricingAsync(HttpContext context, string workspaceId) => WithRoleAsync(context, workspaceId, WorkspaceRoles.Admin, async userId =>
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var before = await pricing.GetAsync(workspaceId, context.RequestAborted) ?? [];
        var (models, setError) = await pricing.SetAsync(workspaceId, body!, context.RequestAborted);
        if (setError is not null)
        {
            return GatewayJson.Error(context, setError);
        }

        var changes = new AuditChanges().Add("models", PricedModels(before), PricedModels(models!));
        if (changes.Any)
        {
            await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspaceId, AuditEvents.PricingChanged, workspaceId, changes: changes.ToDictionary());
        }

        return GatewayJson.Ok(new { models });
    });

    public Task<IResult> ListWorkspaceRequestsAsync(HttpContext context, string workspaceId) =>
        WithRoleAsync(context, workspaceId, WorkspaceRoles.Member, _ => HandlerSupport.TracePageAsync(context, traces, workspaceId));

    /// <summary>
    /// Seed 002's <c>POST /api/analytics/monthly-digest/test?workspaceId=…</c> (admin or owner): the current month's digest
    /// of the workspace, mailed to the caller when SMTP is configured, and returned with <c>emailDelivery</c>.
    /// </summary>
    public Task<IResult> TestMonthlyDigestAsync(HttpContext context) => WithUserAsync(context, async userId =>
    {
        var workspaceId = context.Request.Query["workspaceId"].ToString().Trim();
        if (workspaceId.Length == 0)
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "The 'workspaceId' query parameter is required: the workspace to digest."));
        }

        var (workspace, _, roleError) = await accounts.RequireRoleAsync(userId, workspaceId, WorkspaceRoles.Admin, context.RequestAborted);
        if (roleError is not null)
        {
            return GatewayJson.Error(context, roleError);
        }

        var user = await accounts.GetUserAsync(userId, context.RequestAborted);
        if (user is null)
        {
            return GatewayJson.Error(context, new GatewayError(401, ErrorCodes.Unauthenticated, "This account no longer exists."));
        }

        var digest = await digests.BuildCurrentMonthAsync(workspace!, context.RequestAborted);
        var body = GatewayJson.ToNode(digest).AsObject();
        var delivery = (await digestSender.SendAsync(digest, user.Email, context.RequestAborted)).Delivery;
        body["emailDelivery"] = delivery;
        await audit.RecordAsync(HandlerSupport.UserActor(context, userId), workspace!.Id, AuditEvents.DigestSent, workspace.Id,
            new Dictionary<string, string?> { ["month"] = digest.Month, ["emailDelivery"] = delivery, ["test"] = "true" });
        return GatewayJson.Ok(body);
    });

    private async Task<IResult> WithUserAsync(HttpContext context, Func<string, Task<IResult>> action)
    {
        var (userId, error) = await sessions.AuthenticateAsync(context.Request);
        return error is not null ? GatewayJson.Error(context, error) : await action(userId!);
    }

    private Task<IResult> WithRoleAsync(HttpContext context, string workspaceId, string role, Func<string, Task<IResult>> action) =>
        WithUserAsync(context, async userId =>
        {
            var (_, _, error) = await accounts.RequireRoleAsync(userId, workspaceId, role, context.RequestAborted);
            return error is not null ? GatewayJson.Error(context, error) : await action(userId);
        });

    private static Dictionary<string, string?> WorkspaceDetails(WorkspaceRecord workspace) => new() { ["name"] = workspace.Name };

    /// <summary>The negotiated prices as <c>provider/model input/output</c> (USD per 1M tokens), sorted: not secret, and what an audit reader needs.</summary>
    private static string PricedModels(IEnumerable<ModelPrice> models) =>
        string.Join(",", models.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Provider}/{m.Model} {m.Input}/{m.Output}")).Order(StringComparer.Ordinal));

    private Task<IResult> WithProjectAsync(HttpContext context, string projectId, string role, Func<string, ProjectRecord, Task<IResult>> action) =>
        WithUserAsync(context, async userId =>
        {
            var project = await projects.GetAsync(projectId, context.RequestAborted);
            if (project is null)
            {
                return GatewayJson.Error(context, GatewayError.NotFound("Project"));
            }

            var (_, _, error) = await accounts.RequireRoleAsync(userId, project.WorkspaceId, role, context.RequestAborted);
            if (error is { Status: 404 })
            {
                error = GatewayError.NotFound("Project");
            }

            return error is not null ? GatewayJson.Error(context, error) : await action(userId, project);
        });
}
