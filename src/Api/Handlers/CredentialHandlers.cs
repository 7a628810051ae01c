using KillToken.Core;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Management;
using KillToken.Core.Ports;
using KillToken.Api.Http;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// BYOK credentials, reachable two ways with the same bodies: <c>/v1/provider-credentials</c> with a project key
/// (writes need <c>credentials:write</c>) and <c>/api/workspaces/{id}/provider-credentials</c> with a session (writes need admin).
/// </summary>
public sealed class CredentialHandlers(
    ApiKeyAuthenticator keys,
    SessionTokens sessions,
    AccountService accounts,
    CredentialService credentials,
    AuditRecorder audit,
    GatewayOptions options)
{
    // --- project key ---

    public Task<IResult> ListByKeyAsync(HttpContext context) => WithKeyAsync(context, write: false, (_, ws) => ListAsync(context, ws));

    public Task<IResult> CreateByKeyAsync(HttpContext context) => WithKeyAsync(context, write: true, (actor, ws) => CreateAsync(context, actor, ws));

    public Task<IResult> GetByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: false, (_, ws) => GetAsync(context, ws, credentialId));

    public Task<IResult> UpdateByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, (actor, ws) => UpdateAsync(context, actor, ws, credentialId));

    public Task<IResult> DeleteByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, (actor, ws) => DeleteAsync(context, actor, ws, credentialId));

    public Task<IResult> TestByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, (actor, ws) => TestAsync(context, actor, ws, credentialId));

    // --- dashboard session ---

    public Task<IResult> ListBySessionAsync(HttpContext context, string workspaceId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Member, _ => ListAsync(context, workspaceId));

    public Task<IResult> CreateBySessionAsync(HttpContext context, string workspaceId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, actor => CreateAsync(context, actor, workspaceId));

    public Task<IResult> UpdateBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, actor => UpdateAsync(context, actor, workspaceId, credentialId));

    public Task<IResult> DeleteBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, actor => DeleteAsync(context, actor, workspaceId, credentialId));

    public Task<IResult> TestBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, actor => TestAsync(context, actor, workspaceId, credentialId));

    // --- shared ---

    private async Task<IResult> ListAsync(HttpContext context, string workspaceId) =>
        GatewayJson.Ok(new { data = await credentials.ListAsync(workspaceId, context.RequestAborted) });

    private async Task<IResult> CreateAsync(HttpContext context, AuditActor actor, string workspaceId)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (view, createError) = await credentials.CreateAsync(workspaceId, body!, context.RequestAborted);
        if (createError is not null)
        {
            return GatewayJson.Error(context, createError);
        }

        await audit.RecordAsync(actor, workspaceId, AuditEvents.CredentialCreated, view!.Id, Details(view));
        return GatewayJson.Ok(view, 201);
    }

    private async Task<IResult> GetAsync(HttpContext context, string workspaceId, string credentialId)
    {
        var view = await credentials.GetAsync(workspaceId, credentialId, context.RequestAborted);
        return view is null ? GatewayJson.Error(context, GatewayError.NotFound("Credential")) : GatewayJson.Ok(view);
    }

    /// <summary>One event per update: a new secret is a rotation; else a status change; else an edit of label or config.</summary>
    private async Task<IResult> UpdateAsync(HttpContext context, AuditActor actor, string workspaceId, string credentialId)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var before = await credentials.GetAsync(workspaceId, credentialId, context.RequestAborted);
        var (view, updateError) = await credentials.UpdateAsync(workspaceId, credentialId, body!, context.RequestAborted);
        if (updateError is not null)
        {
            return GatewayJson.Error(context, updateError);
        }

        var changes = new AuditChanges()
            .Add("label", before?.Label, view!.Label)
            .Add("status", before?.Status, view.Status)
            .Add("keyPreview", before?.KeyPreview, view.KeyPreview)
            .Add("config", ConfigText(before?.Config), ConfigText(view.Config));
        var rotated = body!["apiKey"] is not null || body["secrets"] is not null;
        var auditEvent = rotated ? AuditEvents.CredentialRotated
            : changes.Has("status") ? (view.Status == CredentialStatus.Disabled ? AuditEvents.CredentialDisabled : AuditEvents.CredentialEnabled)
            : AuditEvents.CredentialUpdated;
        if (rotated || changes.Any)
        {
            await audit.RecordAsync(actor, workspaceId, auditEvent, credentialId, Details(view), changes.ToDictionary());
        }

        return GatewayJson.Ok(view);
    }

    private async Task<IResult> DeleteAsync(HttpContext context, AuditActor actor, string workspaceId, string credentialId)
    {
        var before = await credentials.GetAsync(workspaceId, credentialId, context.RequestAborted);
        if (before is null || !await credentials.DeleteAsync(workspaceId, credentialId, context.RequestAborted))
        {
            return GatewayJson.Error(context, GatewayError.NotFound("Credential"));
        }

        await audit.RecordAsync(actor, workspaceId, AuditEvents.CredentialDeleted, credentialId, Details(before));
        return Results.NoContent();
    }

    private async Task<IResult> TestAsync(HttpContext context, AuditActor actor, string workspaceId, string credentialId)
    {
        var (result, error) = await credentials.TestAsync(workspaceId, credentialId, context.RequestAborted);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var tested = await credentials.GetAsync(workspaceId, credentialId, context.RequestAborted);
        await audit.RecordAsync(actor, workspaceId, AuditEvents.CredentialTested, credentialId, new Dictionary<string, string?>
        {
            ["provider"] = tested?.Provider,
            ["ok"] = result!.Ok ? "true" : "false",
            ["providerStatus"] = result.ProviderStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        return GatewayJson.Ok(result);
    }

    /// <summary>Non-secret facts only: the provider and the label (the key preview is masked, never the key).</summary>
    private static Dictionary<string, string?> Details(CredentialView view) => new() { ["provider"] = view.Provider, ["label"] = view.Label };

    private static string? ConfigText(IReadOnlyDictionary<string, string>? config) =>
        config is null ? null : string.Join(",", config.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));

    private async Task<IResult> WithKeyAsync(HttpContext context, bool write, Func<AuditActor, string, Task<IResult>> action)
    {
        var scope = write ? ApiKeyScopes.CredentialsWrite : ApiKeyScopes.Chat;
        var (project, error) = await keys.AuthenticateAsync(context.Request, scope, context.RequestAborted);
        if (error is not null && !(error.Code == ErrorCodes.InsufficientScope && !write))
        {
            return GatewayJson.Error(context, error);
        }

        return await action(HandlerSupport.KeyActor(context, project!.Id), project.WorkspaceId);
    }

    private async Task<IResult> WithSessionAsync(HttpContext context, string workspaceId, string role, Func<AuditActor, Task<IResult>> action)
    {
        var (userId, error) = await sessions.AuthenticateAsync(context.Request);
        if (error is null)
        {
            (_, _, error) = await accounts.RequireRoleAsync(userId!, workspaceId, role, context.RequestAborted);
        }

        return error is not null ? GatewayJson.Error(context, error) : await action(HandlerSupport.UserActor(context, userId!));
    }
}
