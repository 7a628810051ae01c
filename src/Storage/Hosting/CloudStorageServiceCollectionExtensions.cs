using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Idempotency;
using KillToken.Core.Ports;
using KillToken.Storage.Cosmos;
using KillToken.Storage.Hosting;
using KillToken.Storage.KeyVault;
using KillToken.Storage.Tables;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

public static class CloudStorageServiceCollectionExtensions
{
    /// <summary>The audit log's table in the Functions app's storage account.</summary>
    public const string AuditTableName = "auditevents";

    /// <summary>
    /// The Cosmos DB store: every store port over the <c>workspaces</c>, <c>lookups</c> and <c>traces</c> containers (the
    /// identity, project, credential and trace stores, and the gateway's idempotency store, exact cache, budget ledger and
    /// usage rollups), and a <c>store</c> health probe; the audit log is not here (<see cref="AddKillTokenTableAuditLog"/>). When a <see cref="CosmosOperationCounter"/> is registered (or
    /// <see cref="CosmosStoreOptions.CountOperations"/> is set), the client counts every operation in it.
    /// </summary>
    public static IServiceCollection AddKillTokenCosmosStore(this IServiceCollection services, CosmosStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.CountOperations)
        {
            services.TryAddSingleton<CosmosOperationCounter>();
        }

        services.AddSingleton(sp => new CosmosStoreContext(
            options,
            sp.GetService<CosmosOperationCounter>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosStoreContext>()));
        services.AddSingleton<IUserStore, CosmosUserStore>();
        services.AddSingleton<IWorkspaceStore>(sp => new CosmosWorkspaceStore(
            sp.GetRequiredService<CosmosStoreContext>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosWorkspaceStore>()));
        services.AddSingleton<IInviteStore, CosmosInviteStore>();
        services.AddSingleton<IProjectStore, CosmosProjectStore>();
        services.AddSingleton<ICredentialStore, CosmosCredentialStore>();
        services.AddSingleton<ITraceStore>(sp => new CosmosTraceStore(
            sp.GetRequiredService<CosmosStoreContext>(),
            sp.GetRequiredService<CosmosBudgetLedger>(),
            sp.GetRequiredService<CosmosDeferredCounters>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosTraceStore>()));
        // Rollup rows and spend without a reservation, summed in memory: written every CounterFlushInterval and, when the
        // host disposes its services (after the server has drained), once more. (TryAdd: a test may hold them longer.)
        services.TryAddSingleton(sp => new CosmosDeferredCounters(
            sp.GetRequiredService<CosmosUsageRollups>(),
            sp.GetRequiredService<CosmosBudgetLedger>(),
            options.CounterFlushInterval,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosDeferredCounters>()));
        services.AddHealthChecks().AddCheck<CosmosHealthCheck>(ReadinessCheckNames.Store);
        // The gateway's own ports: without them the app would fall back to unlimited budgets, no cache, no idempotency, no rollups.
        services.AddSingleton<IIdempotencyStore>(sp => new CosmosIdempotencyStore(
            sp.GetRequiredService<CosmosStoreContext>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosIdempotencyStore>()));
        services.AddSingleton<ICacheStore>(sp => new CosmosCacheStore(
            sp.GetRequiredService<CosmosStoreContext>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosCacheStore>()));
        services.AddSingleton(sp => new CosmosBudgetLedger(
            sp.GetRequiredService<CosmosStoreContext>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosBudgetLedger>()));
        services.AddSingleton<IBudgetLedger>(sp => sp.GetRequiredService<CosmosBudgetLedger>());
        services.AddSingleton(sp => new CosmosUsageRollups(
            sp.GetRequiredService<CosmosStoreContext>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<CosmosUsageRollups>()));
        services.AddSingleton<IUsageRollups>(sp => sp.GetRequiredService<CosmosUsageRollups>());
        services.AddSingleton<KillToken.Core.Analytics.IDayReconciler, CosmosDayReconciler>();
        return services;
    }

    /// <summary>
    /// The audit log in Azure Table Storage: table <paramref name="tableName"/> of <paramref name="tableService"/>
    /// (created on first use), one partition per workspace. The app registers it beside the Cosmos DB store, which keeps
    /// no audit log: an append-only log that grows forever and is read rarely costs far less in a table.
    /// </summary>
    public static IServiceCollection AddKillTokenTableAuditLog(this IServiceCollection services, TableServiceClient tableService, string tableName = AuditTableName)
    {
        ArgumentNullException.ThrowIfNull(tableService);
        ArgumentException.ThrowIfNullOrWhiteSpace(tableName);
        services.AddSingleton<IAuditLog>(sp => new TableAuditLog(
            tableService,
            tableName,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<TableAuditLog>()));
        return services;
    }

    /// <summary>
    /// Tenant secrets in Azure Key Vault, with a <c>vault</c> health probe. <paramref name="credential"/> defaults to
    /// <see cref="DefaultAzureCredential"/> (the app's managed identity in Azure).
    /// </summary>
    public static IServiceCollection AddKillTokenKeyVault(this IServiceCollection services, Uri vaultUri, TokenCredential? credential = null, SecretClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vaultUri);
        // Without options of the caller's, retries fit for the request path (KeyVaultSecretVault.ConfigureForRequestPath).
        // TryAdd: a vault client registered first (a test's, aimed at its loopback vault) is the one used.
        services.TryAddSingleton(_ => new KeyVaultSecretVault(new SecretClient(vaultUri, credential ?? new DefaultAzureCredential(),
            options ?? KeyVaultSecretVault.ConfigureForRequestPath(new SecretClientOptions()))));
        services.AddSingleton<ISecretVault>(sp => sp.GetRequiredService<KeyVaultSecretVault>());
        services.AddHealthChecks().Add(new HealthCheckRegistration(ReadinessCheckNames.Vault, sp => sp.GetRequiredService<KeyVaultSecretVault>(), null, null));
        return services;
    }
}
