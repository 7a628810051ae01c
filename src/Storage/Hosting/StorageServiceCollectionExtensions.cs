using KillToken.Core.Ports;
using KillToken.Storage.LocalVault;
using KillToken.Storage.Hosting;
using KillToken.Storage.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

public static class StorageServiceCollectionExtensions
{
    /// <summary>The embedded store: one SQLite file in the data folder, holding every store port.</summary>
    public static IServiceCollection AddKillTokenSqliteStore(this IServiceCollection services, string dataDirectory)
    {
        KillToken.Storage.LocalFiles.PrivateFiles.CreateFolder(dataDirectory);
        services.AddSingleton(_ => new SqliteDatabase(Path.Combine(dataDirectory, "killtoken.db")));
        services.AddSingleton<IUserStore, SqliteUserStore>();
        services.AddSingleton<IWorkspaceStore, SqliteWorkspaceStore>();
        services.AddSingleton<IInviteStore, SqliteInviteStore>();
        services.AddSingleton<IProjectStore, SqliteProjectStore>();
        services.AddSingleton<ICredentialStore, SqliteCredentialStore>();
        services.AddSingleton<ITraceStore>(sp =>
        {
            // The rollups are kept from the traces: created with the trace store, they catch up (after a crash too) as soon
            // as the gateway takes its first call, not only when a report is first read.
            _ = sp.GetRequiredService<SqliteUsageRollups>();
            return new SqliteTraceStore(sp.GetRequiredService<SqliteDatabase>());
        });
        services.AddHealthChecks().AddCheck<SqliteHealthCheck>(ReadinessCheckNames.Store);
        services.AddSingleton<KillToken.Core.Idempotency.IIdempotencyStore, SqliteIdempotencyStore>();
        services.AddSingleton<KillToken.Core.Caching.ICacheStore, SqliteCacheStore>();
        services.AddSingleton<KillToken.Core.Budgets.IBudgetLedger, SqliteBudgetLedger>();
        services.AddSingleton<SqliteUsageRollups>();
        services.AddSingleton<KillToken.Core.Analytics.IUsageRollups>(sp => sp.GetRequiredService<SqliteUsageRollups>());
        services.AddSingleton<IAuditLog, SqliteAuditLog>();
        return services;
    }

    /// <summary>The local AES-256-GCM envelope vault, kept in the embedded store's file.</summary>
    public static IServiceCollection AddKillTokenLocalVault(this IServiceCollection services, Func<byte[]> masterKey, string dataDirectory)
    {
        KillToken.Storage.LocalFiles.PrivateFiles.CreateFolder(dataDirectory);
        services.AddSingleton(sp =>
            new LocalSecretVault(sp.GetService<SqliteDatabase>() ?? new SqliteDatabase(Path.Combine(dataDirectory, "vault.db")), masterKey()));
        services.AddSingleton<ISecretVault>(sp => sp.GetRequiredService<LocalSecretVault>());
        services.AddHealthChecks().Add(new HealthCheckRegistration(ReadinessCheckNames.Vault, sp => sp.GetRequiredService<LocalSecretVault>(), null, null));
        return services;
    }
}
