using System.Text;
using KillToken.Storage.LocalFiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Api.Hosting;

/// <summary>
/// The block the gateway prints once it is up: where it listens, what it stores where, which vault holds the tenants'
/// keys, which provider URLs are overridden, whether mail is on, and where the dashboard and API reference are. Secrets
/// never appear: a connection string shows its endpoint only, and URLs lose any user info and query.
/// </summary>
public static class StartupSummary
{
    /// <param name="ownsConnections">True for the self-host, whose Kestrel applies the connection limits; false under Functions.</param>
    public static string Describe(KillTokenSettings settings, IConfiguration configuration, IReadOnlyList<string> urls, bool ownsConnections = true)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(urls);
        var baseUrl = urls.Count > 0 ? Browsable(urls[0]) : null;
        var text = new StringBuilder("KillToken is ready.\n");
        void Line(string label, string value) => text.Append("  ").Append((label + ":").PadRight(15)).Append(value).Append('\n');

        Line("listening on", urls.Count > 0 ? string.Join(", ", urls.Select(Browsable)) : "the Functions host's address");
        if (settings.Store == "sqlite")
        {
            Line("store", $"SQLite, {Path.Combine(settings.DataDirectory, "killtoken.db")}");
        }
        else
        {
            var endpoint = settings.CosmosConnectionString is { } connection ? CosmosEndpointOf(connection) : SafeUrl(settings.CosmosEndpoint);
            var auth = settings.CosmosConnectionString is null ? "managed identity" : "account key";
            Line("store", $"Cosmos DB, {endpoint}, database '{settings.CosmosDatabase}' ({auth})");
        }

        Line("audit log", settings.Store == "sqlite"
            ? "in the SQLite store"
            : settings.TableConnectionString is { } tables
                ? $"Table Storage, {TableEndpointOf(tables)}, table '{CloudStorageServiceCollectionExtensions.AuditTableName}' ({SettingNames.AzureWebJobsStorage} connection string)"
                : $"Table Storage, {SafeUrl(settings.TableServiceUri?.AbsoluteUri)}, table '{CloudStorageServiceCollectionExtensions.AuditTableName}' (managed identity)");

        var folderNote = PrivateFiles.IsOpenToOthers(settings.DataDirectory)
            ? " — WARNING: other users can open this folder; chmod 700 it"
            : string.Empty;
        Line("data folder", settings.DataDirectory + folderNote);
        Line("vault", settings.KeyVaultUri is { } vault
            ? $"Azure Key Vault, {SafeUrl(vault)}"
            : $"local AES-256-GCM envelopes in the store, master key {(HasSetting(configuration, SettingNames.EncryptionKey) ? $"from {SettingNames.EncryptionKey}" : "in the data folder (encryption.key)")}");
        Line("server keys", $"session signing {Source(configuration, SettingNames.JwtSecret, "jwt.key")}, key pepper {Source(configuration, SettingNames.KeyPepper, "pepper.key")}");

        var overrides = SettingNames.EndpointOverrides
            .Where(name => HasSetting(configuration, name))
            .Select(name => $"{name}={SafeUrl(configuration[name])}")
            .ToList();
        Line("providers", overrides.Count == 0 ? "each provider's public API (no base URL overridden)" : "overridden: " + string.Join(", ", overrides));
        Line("mail", settings.Smtp.Host is { } host
            ? $"SMTP {host}:{settings.Smtp.Port}, {SmtpMode(settings.Smtp.Security)}{(settings.Smtp.User is null ? string.Empty : ", signing in as a user")}, {settings.Smtp.Timeout.TotalSeconds:0} s per mail — budget alerts and monthly digests are mailed"
            : $"off (no {SettingNames.SmtpHost}): alerts and digests are recorded as skipped");
        Line("browsers", settings.Cors.IsEnabled
            ? "CORS for " + string.Join(", ", settings.Cors.Origins)
            : $"no CORS (set {SettingNames.CorsOrigin} or {SettingNames.FrontendUrl} to let a web page on another origin call the API)");
        Line("telemetry", settings.Telemetry.Describe());
        Line("cache", settings.Gateway.CacheEnabled ? $"exact cache on, entries kept {settings.Gateway.CacheTtl.TotalSeconds:0} s" : "exact cache off");
        Line("limits", $"request bodies up to {settings.Gateway.MaxBodyBytes} bytes; {settings.RateLimit.Describe()}");
        Line("connections", ownsConnections
            ? settings.Connections.Describe()
            : "held by the Functions host and the platform's front ends (their header, size and timeout limits apply)");
        var root = baseUrl ?? string.Empty;
        Line("dashboard", $"{root}/ (sign up there, or sign in; invite links open {root}/invites/…)");
        Line("API reference", $"{root}/docs (the OpenAPI 3.1 document: {root}/openapi/v1.json; for coding assistants: {root}/llms.txt and {root}/llms-full.txt)");
        Line("health", $"{root}/health (alive), {root}/ready (store, vault, keys)");
        return text.ToString().TrimEnd('\n');
    }

    private static string SmtpMode(Notifications.SmtpSecurity security) => security switch
    {
        Notifications.SmtpSecurity.Tls => "implicit TLS",
        Notifications.SmtpSecurity.None => "CLEAR TEXT (SMTP_SECURE=none)",
        _ => "STARTTLS required",
    };

    private static bool HasSetting(IConfiguration configuration, string name) => !string.IsNullOrWhiteSpace(configuration[name]);

    private static string Source(IConfiguration configuration, string setting, string file) =>
        HasSetting(configuration, setting) ? $"from {setting}" : $"in the data folder ({file})";

    /// <summary>Kestrel reports wildcard bindings (<c>http://[::]:7071</c>); a person wants a URL to open.</summary>
    private static string Browsable(string url) => url
        .Replace("://[::]:", "://localhost:", StringComparison.Ordinal)
        .Replace("://0.0.0.0:", "://localhost:", StringComparison.Ordinal)
        .Replace("://+:", "://localhost:", StringComparison.Ordinal)
        .Replace("://*:", "://localhost:", StringComparison.Ordinal)
        .TrimEnd('/');

    /// <summary>Scheme, host, port and path only: user info and query (where a token could ride) are dropped.</summary>
    private static string SafeUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
            ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/')
            : "(not a URL)";

    private static string CosmosEndpointOf(string connectionString) =>
        ConnectionStringPart(connectionString, "AccountEndpoint") is { } endpoint
            ? SafeUrl(endpoint)
            : "(endpoint not named in the connection string)";

    /// <summary>The Table endpoint a storage connection string names or implies (as the SDK reads it), never its key.</summary>
    private static string TableEndpointOf(string connectionString)
    {
        if (ConnectionStringPart(connectionString, "TableEndpoint") is { } endpoint)
        {
            return SafeUrl(endpoint);
        }

        if (string.Equals(ConnectionStringPart(connectionString, "UseDevelopmentStorage"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return "Azurite, http://127.0.0.1:10002/devstoreaccount1";
        }

        return ConnectionStringPart(connectionString, "AccountName") is { } account
            ? SafeUrl($"{ConnectionStringPart(connectionString, "DefaultEndpointsProtocol") ?? "https"}://{account}.table.{ConnectionStringPart(connectionString, "EndpointSuffix") ?? "core.windows.net"}")
            : "(endpoint not named in the connection string)";
    }

    private static string? ConnectionStringPart(string connectionString, string name)
    {
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && part[..equals].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return part[(equals + 1)..].Trim();
            }
        }

        return null;
    }
}

/// <summary>The start-up block as one log entry (one event a log search finds, not ten lines).</summary>
public static partial class StartupLog
{
    [Microsoft.Extensions.Logging.LoggerMessage(EventId = 1000, Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "{Summary}")]
    public static partial void Ready(Microsoft.Extensions.Logging.ILogger logger, string summary);
}
