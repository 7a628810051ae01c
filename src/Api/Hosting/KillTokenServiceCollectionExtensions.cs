using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using KillToken.Core;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Credentials;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Idempotency;
using KillToken.Core.Management;
using KillToken.Core.Optimization;
using KillToken.Core.Ports;
using KillToken.Core.Pricing;
using KillToken.Core.Security;
using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using KillToken.Api.Security;
using KillToken.Storage.Cosmos;
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
        services.AddKillTokenTelemetry(settings.Telemetry);

        // One credential for every Azure service, created only when one is used: the app's managed identity in Azure.
        var azureCredential = new Lazy<TokenCredential>(() => new DefaultAzureCredential());
        if (settings.Store == "sqlite")
        {
            services.AddKillTokenSqliteStore(settings.DataDirectory);
        }
        else if (settings.CosmosConnectionString is { } connectionString)
        {
            // Key authentication: an emulator. Its self-signed certificate is accepted only on this machine.
            services.AddKillTokenCosmosStore(new CosmosStoreOptions
            {
                ConnectionString = connectionString,
                DatabaseName = settings.CosmosDatabase,
                AcceptLocalEmulatorCertificate = CosmosStoreOptions.IsLocalEmulator(connectionString),
            });
        }
        else
        {
            if (!Uri.TryCreate(settings.CosmosEndpoint, UriKind.Absolute, out var cosmosEndpoint))
            {
                throw new InvalidOperationException($"{SettingNames.CosmosEndpoint} must be an absolute URL.");
            }

            services.AddKillTokenCosmosStore(new CosmosStoreOptions
            {
                AccountEndpoint = cosmosEndpoint,
                Credential = azureCredential.Value,
                DatabaseName = settings.CosmosDatabase,
            });
        }

        if (settings.Store == "cosmos")
        {
            services.AddKillTokenTableAuditLog(AuditTableService(settings, azureCredential));
        }

        if (settings.KeyVaultUri is not null)
        {
            if (!Uri.TryCreate(settings.KeyVaultUri, UriKind.Absolute, out var vaultUri))
            {
                throw new InvalidOperationException($"{SettingNames.KeyVaultUri} must be an absolute URL.");
            }

            services.AddKillTokenKeyVault(vaultUri, azureCredential.Value);
        }
        else
        {
            services.AddKillTokenLocalVault(() => secrets.EncryptionKey, settings.DataDirectory);
        }

        services.AddKillTokenProviders(name => configuration[name]);

        // The pipeline and its steps.
        services.AddSingleton<IPricingCatalog>(PricingCatalog.LoadEmbedded());
        services.AddSingleton<WorkspaceSettings>();
        services.AddSingleton<WorkspacePricing>();
        services.TryAddSingleton<IPromptOptimizer, PromptOptimizer>();
        services.AddHostedService<TokenizerWarmUp>();
        services.AddSingleton(settings.Smtp);
        services.AddSingleton<KillToken.Api.Notifications.SmtpMailer>();
        services.TryAddSingleton<IBudgetAlertSender, KillToken.Api.Notifications.SmtpAlertSender>();
        services.TryAddSingleton<KillToken.Core.Analytics.IMonthlyDigestSender, KillToken.Api.Notifications.SmtpDigestSender>();
        services.TryAddSingleton<IBudgetGate>(sp => sp.GetService<IBudgetLedger>() is { } ledger
            ? ActivatorUtilities.CreateInstance<BudgetGate>(sp, ledger)
            : new UnlimitedBudgetGate(sp.GetRequiredService<TimeProvider>()));
        // The close job and the monthly digests it sends on the 1st (their at-most-once markers live in the ledger).
        services.TryAddSingleton<IPeriodCloseJob>(sp => sp.GetService<IBudgetLedger>() is { } ledger
            ? ActivatorUtilities.CreateInstance<PeriodCloseJob>(sp, ledger, ActivatorUtilities.CreateInstance<KillToken.Core.Analytics.MonthlyDigestJob>(sp, ledger))
            : new NoOpPeriodCloseJob());
        // The cache and idempotency steps work over whichever store provides their storage port.
        services.TryAddSingleton<IResponseCache>(sp => sp.GetService<ICacheStore>() is { } cacheStore
            ? new ExactResponseCache(cacheStore, sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<TimeProvider>())
            : new DisabledResponseCache());
        services.TryAddSingleton<IIdempotencyGate>(sp => sp.GetService<IIdempotencyStore>() is { } idempotencyStore
            ? new IdempotencyGate(idempotencyStore, sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<TimeProvider>())
            : new NoIdempotencyGate());
        services.TryAddSingleton<KillToken.Core.Analytics.IUsageRollups, KillToken.Core.Analytics.NoUsageRollups>();
        // Calls write their traces behind their answers; readers of traces and reports wait for those writes, and a
        // clean stop waits for all of them, after every hosted service (the server included) has stopped.
        services.AddSingleton<PendingTraceWrites>();
        services.AddHostedService<PendingTraceWritesDrain>();
        services.Decorate<ITraceStore>((sp, store) => new TracesAfterPendingWrites(store, sp.GetRequiredService<PendingTraceWrites>()));
        services.Decorate<KillToken.Core.Analytics.IUsageRollups>((sp, rollups) =>
            new RollupsAfterPendingWrites(rollups, sp.GetRequiredService<PendingTraceWrites>()));
        if (services.Any(d => d.ServiceType == typeof(IBudgetLedger)))
        {
            services.Decorate<IBudgetLedger>((sp, ledger) => new LedgerAfterPendingWrites(ledger, sp.GetRequiredService<PendingTraceWrites>()));
        }
        services.AddSingleton<KillToken.Core.Analytics.ReportService>();
        services.AddSingleton<KillToken.Core.Analytics.MonthlyDigestBuilder>();
        services.AddSingleton<KillToken.Core.Analytics.AnalyticsService>();
        services.AddSingleton<CredentialResolver>();
        services.AddSingleton<ChatPipeline>();

        // Identity and management.
        services.AddSingleton(new ApiKeyHasher(secrets.ApiKeyPepper));
        services.AddSingleton(sp => new SessionTokens(secrets.JwtSigningKey, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<SignInThrottle>();
        services.AddSingleton(_ => new ProjectRateLimiter(settings.RateLimit));
        services.AddSingleton<ApiKeyAuthenticator>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<TeamService>();
        services.AddSingleton<AuditRecorder>();
        services.AddSingleton<KillToken.Api.Notifications.SmtpInviteSender>();
        services.AddSingleton<ProjectService>();
        services.AddSingleton<CredentialService>();

        // Handlers shared by both hosts.
        services.AddSingleton<GatewayHandlers>();
        services.AddSingleton<CredentialHandlers>();
        services.AddSingleton<AccountHandlers>();
        services.AddSingleton<TeamHandlers>();
        services.AddSingleton<HealthHandlers>();
        services.AddHealthChecks().AddCheck<ResponseCacheHealthCheck>(ResponseCacheHealthCheck.Name).AddCheck<SessionSigningHealthCheck>(SessionSigningHealthCheck.Name);
        services.AddSingleton<TraceExports>();
        services.AddSingleton<AnalyticsHandlers>();
        return services;
    }

    /// <summary>Wraps the last registration of <typeparamref name="TService"/> (a singleton) in <paramref name="decorate"/>.</summary>
    private static void Decorate<TService>(this IServiceCollection services, Func<IServiceProvider, TService, TService> decorate)
        where TService : class
    {
        var index = services.ToList().FindLastIndex(d => d.ServiceType == typeof(TService) && !d.IsKeyedService);
        if (index < 0)
        {
            throw new InvalidOperationException($"{typeof(TService).Name} is not registered.");
        }

        var inner = services[index];
        services[index] = ServiceDescriptor.Singleton<TService>(sp => decorate(sp, (TService)(inner.ImplementationInstance
            ?? inner.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!))));
    }

    /// <summary>The Functions host's Table service, where the audit log lives beside Cosmos DB.</summary>
    private static TableServiceClient AuditTableService(KillTokenSettings settings, Lazy<TokenCredential> azureCredential)
    {
        if (settings.TableConnectionString is { } connectionString)
        {
            try
            {
                return new TableServiceClient(connectionString);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
            {
                // Neither the value nor the parser's message: the connection string may hold an account key.
                throw new InvalidOperationException($"{SettingNames.AzureWebJobsStorage} is not a storage connection string with a table endpoint ({ex.GetType().Name}).");
            }
        }

        return new TableServiceClient(settings.TableServiceUri!, azureCredential.Value);
    }
}
