using KillToken.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Api.Handlers;

/// <summary>
/// <c>/health</c> (liveness, no I/O) and <c>/ready</c>: every registered health check (store, vault, cache, auth config),
/// run by <see cref="HealthCheckService"/> and reported in the contract's body — a check's name, whether it is healthy, and
/// its description, never an exception's message (it may carry endpoints or tenant details; its type names the cause).
/// </summary>
public sealed class HealthHandlers(HealthCheckService checks)
{
    public IResult Health() => GatewayJson.Ok(new { status = "ok" });

    public async Task<IResult> ReadyAsync(HttpContext context)
    {
        var report = await checks.CheckHealthAsync(context.RequestAborted);
        var results = report.Entries
            .Select(e => new ReadyCheck(e.Key, e.Value.Status == HealthStatus.Healthy, e.Value.Exception?.GetType().Name ?? e.Value.Description ?? ""))
            .ToList();
        var ready = results.TrueForAll(c => c.Healthy);
        return GatewayJson.Ok(new { status = ready ? "ready" : "not_ready", checks = results }, ready ? 200 : 503);
    }

    internal sealed record ReadyCheck(string Name, bool Healthy, string Detail);
}
