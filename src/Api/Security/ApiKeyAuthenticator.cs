using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Observability;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Security;

/// <summary>
/// Finds the project behind a KillToken key, from whichever header the client's SDK puts it in:
/// Authorization Bearer, x-killtoken-key, x-api-key (Anthropic), api-key (Azure OpenAI), x-goog-api-key (Gemini),
/// x-tokenguard-key (TokenGuard clients). No caching: a deactivated or regenerated key fails on the very next request.
/// Every project-key route comes through here, so the project's request rate is taken here too, right after the key is
/// known and before the handler writes or calls anything: a refused call costs one key lookup and is not traced (a
/// flood must not turn into a flood of store writes), only counted in the gateway's request metric.
/// </summary>
public sealed class ApiKeyAuthenticator(IProjectStore projects, ApiKeyHasher hasher, ProjectRateLimiter rateLimiter, KillTokenTelemetry telemetry, TimeProvider time)
{
    /// <summary>The headers a project key is read from besides <c>Authorization: Bearer</c>, in the order they are tried.</summary>
    public static IReadOnlyList<string> KeyHeaders { get; } = ["x-killtoken-key", "x-api-key", "api-key", "x-goog-api-key", "x-tokenguard-key"];

    public async Task<(ProjectRecord? Project, GatewayError? Error)> AuthenticateAsync(HttpRequest request, string requiredScope, CancellationToken cancellationToken)
    {
        var startedAt = time.GetTimestamp();
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

        if (rateLimiter.TryAcquire(project.Id) is { } limited)
        {
            telemetry.RecordRejection(EndpointOf(request.Path), null, limited, time.GetElapsedTime(startedAt));
            return (project, limited);
        }

        return (project, null);
    }

    /// <summary>The <c>killtoken.endpoint</c> a refused call is counted under: the gateway's names, else <c>api</c>.</summary>
    private static string EndpointOf(PathString path)
    {
        var value = path.Value ?? string.Empty;
        return value.Equals("/v1/chat", StringComparison.OrdinalIgnoreCase) ? "chat"
            : value.Contains("/openai/", StringComparison.OrdinalIgnoreCase) ? "openai"
            : value.Contains("/anthropic/", StringComparison.OrdinalIgnoreCase) ? "anthropic"
            : value.Contains("/gemini/", StringComparison.OrdinalIgnoreCase) ? "gemini"
            : "api";
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
