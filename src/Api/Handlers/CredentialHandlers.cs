using KillToken.Core;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Management;
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
    GatewayOptions options)
{
    // --- project key ---

    public Task<IResult> ListByKeyAsync(HttpContext context) => WithKeyAsync(context, write: false, ws => ListAsync(context, ws));

    public Task<IResult> CreateByKeyAsync(HttpContext context) => WithKeyAsync(context, write: true, ws => CreateAsync(context, ws));

    public Task<IResult> GetByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: false, ws => GetAsync(context, ws, credentialId));

    public Task<IResult> UpdateByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, ws => UpdateAsync(context, ws, credentialId));

    public Task<IResult> DeleteByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, ws => DeleteAsync(context, ws, credentialId));

    public Task<IResult> TestByKeyAsync(HttpContext context, string credentialId) => WithKeyAsync(context, write: true, ws => TestAsync(context, ws, credentialId));

    // --- dashboard session ---

    public Task<IResult> ListBySessionAsync(HttpContext context, string workspaceId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Member, () => ListAsync(context, workspaceId));

    public Task<IResult> CreateBySessionAsync(HttpContext context, string workspaceId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, () => CreateAsync(context, workspaceId));

    public Task<IResult> UpdateBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, () => UpdateAsync(context, workspaceId, credentialId));

    public Task<IResult> DeleteBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, () => DeleteAsync(context, workspaceId, credentialId));

    public Task<IResult> TestBySessionAsync(HttpContext context, string workspaceId, string credentialId) =>
        WithSessionAsync(context, workspaceId, WorkspaceRoles.Admin, () => TestAsync(context, workspaceId, credentialId));

    // --- shared ---

    private async Task<IResult> ListAsync(HttpContext context, string workspaceId) =>
        GatewayJson.Ok(new { data = await credentials.ListAsync(workspaceId, context.RequestAborted) });

    private async Task<IResult> CreateAsync(HttpContext context, string workspaceId)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (view, createError) = await credentials.CreateAsync(workspaceId, body!, context.RequestAborted);
        return createError is not null ? GatewayJson.Error(context, createError) : GatewayJson.Ok(view!, 201);
    }

    private async Task<IResult> GetAsync(HttpContext context, string workspaceId, string credentialId)
    {
        var view = await credentials.GetAsync(workspaceId, credentialId, context.RequestAborted);
        return view is null ? GatewayJson.Error(context, GatewayError.NotFound("Credential")) : GatewayJson.Ok(view);
    }

    private async Task<IResult> UpdateAsync(HttpContext context, string workspaceId, string credentialId)
    {
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        var (view, updateError) = await credentials.UpdateAsync(workspaceId, credentialId, body!, context.RequestAborted);
        return updateError is not null ? GatewayJson.Error(context, updateError) : GatewayJson.Ok(view!);
    }

    private async Task<IResult> DeleteAsync(HttpContext context, string workspaceId, string credentialId) =>
        await credentials.DeleteAsync(workspaceId, credentialId, context.RequestAborted)
            ? Results.NoContent()
            : GatewayJson.Error(context, GatewayError.NotFound("Credential"));

    private async Task<IResult> TestAsync(HttpContext context, string workspaceId, string credentialId)
    {
        var (result, error) = await credentials.TestAsync(workspaceId, credentialId, context.RequestAborted);
        return error is not null ? GatewayJson.Error(context, error) : GatewayJson.Ok(result!);
    }

    private async Task<IResult> WithKeyAsync(HttpContext context, bool write, Func<string, Task<IResult>> action)
    {
        var scope = write ? ApiKeyScopes.CredentialsWrite : ApiKeyScopes.Chat;
        var (project, error) = await keys.AuthenticateAsync(context.Request, scope, context.RequestAborted);
        if (error is not null && !(error.Code == ErrorCodes.InsufficientScope && !write))
        {
            return GatewayJson.Error(context, error);
        }

        return await action(project!.WorkspaceId);
    }

    private async Task<IResult> WithSessionAsync(HttpContext context, string workspaceId, string role, Func<Task<IResult>> action)
    {
        var (userId, error) = await sessions.AuthenticateAsync(context.Request);
        if (error is null)
        {
            (_, _, error) = await accounts.RequireRoleAsync(userId!, workspaceId, role, context.RequestAborted);
        }

        return error is not null ? GatewayJson.Error(context, error) : await action();
    }
}
