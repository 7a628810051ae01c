using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>The health checks a service collection registered for <c>/ready</c>, run one by one as HealthCheckService runs them.</summary>
internal static class RegisteredHealthChecks
{
    public static HealthCheckRegistration Registration(IServiceProvider services, string name) =>
        services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.Single(r => r.Name == name);

    public static IHealthCheck Check(IServiceProvider services, string name) => Registration(services, name).Factory(services);

    public static Task<HealthCheckResult> RunAsync(IServiceProvider services, string name)
    {
        var registration = Registration(services, name);
        return registration.Factory(services).CheckHealthAsync(new HealthCheckContext { Registration = registration });
    }
}
