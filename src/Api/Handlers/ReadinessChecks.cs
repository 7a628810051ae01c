using KillToken.Api.Security;
using KillToken.Core.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Api.Handlers;

/// <summary><c>/ready</c>'s <c>cache</c> check: whether the exact cache is on (either way the gateway is ready).</summary>
internal sealed class ResponseCacheHealthCheck(IResponseCache cache) : IHealthCheck
{
    public const string Name = "cache";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy(cache.Enabled ? "enabled" : "disabled"));
}

/// <summary><c>/ready</c>'s <c>auth</c> check: session signing is configured (resolving it loads the server's JWT key).</summary>
internal sealed class SessionSigningHealthCheck(SessionTokens sessions) : IHealthCheck
{
    public const string Name = "auth";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(sessions is null ? HealthCheckResult.Unhealthy("no session signing key") : HealthCheckResult.Healthy("jwt HS256 session signing configured"));
}
