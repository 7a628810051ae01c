using KillToken.Core;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Credentials;
using KillToken.Core.Gateway;
using KillToken.Core.Idempotency;
using KillToken.Core.Management;
using KillToken.Core.Optimization;
using KillToken.Core.Pricing;
using KillToken.Core.Security;
using KillToken.Functions.Handlers;
using KillToken.Functions.Hosting;
using KillToken.Functions.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class KillTokenServiceCollectionExtensions
{
    /// <summary>
    /// Everything both hosts need, registered once so the self-host and the Functions worker cannot drift:
    /// settings, stores, vault, providers, the pipeline's steps and the handlers.
    /// </summary>
    public static IServiceCollection AddKillToken(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = KillTokenSettings.Read(configuration);
        var secrets = ServerSecrets.Load(configuration, settings.DataDirectory);
        services.AddSingleton(settings);
        services.AddSingleton(settings.Gateway);
        services.AddSingleton(secrets);
        services.TryAddSingleton(TimeProvider.System);

        if (settings.Store == "sqlite")
        {
            services.AddKillTokenSqliteStore(settings.DataDirectory);
        }
        else
        {
            throw new InvalidOperationException("KILLTOKEN_STORE=cosmos is not available in this build yet.");
        }

        services.AddKillTokenLocalVault(() => secrets.EncryptionKey, settings.DataDirectory);
        services.AddKillTokenProviders(name => configuration[name]);

        // The pipeline and its steps.
        services.AddSingleton<IPricingCatalog>(PricingCatalog.LoadEmbedded());
        services.TryAddSingleton<IPromptOptimizer, PassThroughOptimizer>();
        services.TryAddSingleton<IBudgetGate, UnlimitedBudgetGate>();
        // The cache and idempotency steps work over whichever store provides their storage port.
        services.TryAddSingleton<IResponseCache>(sp => sp.GetService<ICacheStore>() is { } cacheStore
            ? new ExactResponseCache(cacheStore, sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<TimeProvider>())
            : new DisabledResponseCache());
        services.TryAddSingleton<IIdempotencyGate>(sp => sp.GetService<IIdempotencyStore>() is { } idempotencyStore
            ? new IdempotencyGate(idempotencyStore, sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<TimeProvider>())
            : new NoIdempotencyGate());
        services.AddSingleton<CredentialResolver>();
        services.AddSingleton<ChatPipeline>();

        // Identity and management.
        services.AddSingleton(new ApiKeyHasher(secrets.ApiKeyPepper));
        services.AddSingleton(sp => new SessionTokens(secrets.JwtSigningKey, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<SignInThrottle>();
        services.AddSingleton<ApiKeyAuthenticator>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<ProjectService>();
        services.AddSingleton<CredentialService>();

        // Handlers shared by both hosts.
        services.AddSingleton<GatewayHandlers>();
        services.AddSingleton<CredentialHandlers>();
        services.AddSingleton<AccountHandlers>();
        services.AddSingleton<HealthHandlers>();
        return services;
    }
}
