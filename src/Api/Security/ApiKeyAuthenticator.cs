using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Security;

/// <summary>
/// Finds the project behind a KillToken key, from whichever header the client's SDK puts it in:
/// Authorization Bearer, x-killtoken-key, x-api-key (Anthropic), api-key (Azure OpenAI), x-goog-api-key (Gemini),
/// x-tokenguard-key (TokenGuard clients). No caching: a deactivated or regenerated key fails on the very next request.
/// </summary>
public sealed class ApiKeyAuthenticator(IProjectStore projects, ApiKeyHasher hasher)
{
    private static readonly string[] KeyHeaders = ["x-killtoken-key", "x-api-key", "api-key", "x-goog-api-key", "x-tokenguard-key"];

    public async Task<(ProjectRecord? Project, GatewayError? Error)> AuthenticateAsync(HttpRequest request, string requiredScope, CancellationToken cancellationToken)
    {
        var key = FindKey(request);
        if (key is null)
        {
            return (null, GatewayError.Unauthorized());
        }

        var project = await projects.FindByKeyHashAsync(hasher.Hash(key), cancellationToken);
        if (project is null || !project.Active)
        {
            return (null, GatewayError.Unauthorized(project is null ? "Missing, unknown or revoked API key." : "This project is deactivated."));
        }

        if (!project.Scopes.Contains(requiredScope))
        {
            return (project, new GatewayError(403, ErrorCodes.InsufficientScope, $"This key lacks the '{requiredScope}' scope. A workspace owner or admin can grant it (PATCH /api/projects/{project.Id} with \"scopes\"), or use the session routes under /api/workspaces/{project.WorkspaceId}/."));
        }

        return (project, null);
    }

    internal static string? FindKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var bearer = authorization["Bearer ".Length..].Trim();
            if (ApiKeyHasher.LooksLikeKey(bearer))
            {
                return bearer;
            }
        }

        foreach (var header in KeyHeaders)
        {
            var value = request.Headers[header].ToString().Trim();
            if (ApiKeyHasher.LooksLikeKey(value))
            {
                return value;
            }
        }

        return null;
    }
}
