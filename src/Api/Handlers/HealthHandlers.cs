using KillToken.Core.Caching;
using KillToken.Core.Ports;
using KillToken.Api.Http;
using KillToken.Api.Security;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary><c>/health</c> (liveness, no I/O) and <c>/ready</c> (store, vault, cache and auth config; no secrets).</summary>
public sealed class HealthHandlers(IEnumerable<IHealthProbe> probes, IResponseCache cache, SessionTokens sessions)
{
    public IResult Health() => GatewayJson.Ok(new { status = "ok" });

    public async Task<IResult> ReadyAsync(HttpContext context)
    {
        var checks = new List<HealthCheckResult>();
        foreach (var probe in probes)
        {
            try
            {
                checks.Add(await probe.CheckAsync(context.RequestAborted));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                checks.Add(new HealthCheckResult(probe.GetType().Name, false, ex.GetType().Name));
            }
        }

        checks.Add(new HealthCheckResult("cache", true, cache.Enabled ? "enabled" : "disabled"));
        checks.Add(new HealthCheckResult("auth", sessions is not null, "jwt HS256 session signing configured"));
        var ready = checks.TrueForAll(c => c.Healthy);
        return GatewayJson.Ok(new { status = ready ? "ready" : "not_ready", checks }, ready ? 200 : 503);
    }
}
