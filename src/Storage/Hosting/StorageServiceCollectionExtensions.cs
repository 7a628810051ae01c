using KillToken.Core.Ports;
using KillToken.Storage.LocalVault;
using KillToken.Storage.Sqlite;

namespace Microsoft.Extensions.DependencyInjection;

public static class StorageServiceCollectionExtensions
{
    /// <summary>The embedded store: one SQLite file in the data folder, holding every store port.</summary>
    public static IServiceCollection AddKillTokenSqliteStore(this IServiceCollection services, string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        services.AddSingleton(_ => new SqliteDatabase(Path.Combine(dataDirectory, "killtoken.db")));
        services.AddSingleton<IUserStore, SqliteUserStore>();
        services.AddSingleton<IWorkspaceStore, SqliteWorkspaceStore>();
        services.AddSingleton<IProjectStore, SqliteProjectStore>();
        services.AddSingleton<ICredentialStore, SqliteCredentialStore>();
        services.AddSingleton<ITraceStore, SqliteTraceStore>();
        services.AddSingleton<IHealthProbe, SqliteHealthProbe>();
        services.AddSingleton<KillToken.Core.Idempotency.IIdempotencyStore, SqliteIdempotencyStore>();
        services.AddSingleton<KillToken.Core.Caching.ICacheStore, SqliteCacheStore>();
        services.AddSingleton<KillToken.Core.Budgets.IBudgetLedger, SqliteBudgetLedger>();
        services.AddSingleton<KillToken.Core.Analytics.IUsageRollups, SqliteUsageRollups>();
        return services;
    }

    /// <summary>The local AES-256-GCM envelope vault, kept in the embedded store's file.</summary>
    public static IServiceCollection AddKillTokenLocalVault(this IServiceCollection services, Func<byte[]> masterKey, string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        services.AddSingleton(sp =>
            new LocalSecretVault(sp.GetService<SqliteDatabase>() ?? new SqliteDatabase(Path.Combine(dataDirectory, "vault.db")), masterKey()));
        services.AddSingleton<ISecretVault>(sp => sp.GetRequiredService<LocalSecretVault>());
        services.AddSingleton<IHealthProbe>(sp => sp.GetRequiredService<LocalSecretVault>());
        return services;
    }
}
