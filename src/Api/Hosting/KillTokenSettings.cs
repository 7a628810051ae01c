using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KillToken.Core;
using Microsoft.Extensions.Configuration;

namespace KillToken.Api.Hosting;

/// <summary>
/// The app's settings, read once at start-up and validated together: every error is reported at once
/// (YARP's ConfigValidator habit) instead of failing on the first.
/// </summary>
public sealed record KillTokenSettings
{
    public required string Store { get; init; }
    public required string DataDirectory { get; init; }
    public required GatewayOptions Gateway { get; init; }
    public string? CosmosEndpoint { get; init; }
    public string? CosmosConnectionString { get; init; }
    public string CosmosDatabase { get; init; } = "killtoken";
    public string? KeyVaultUri { get; init; }
    /// <summary>With the Cosmos DB store, the audit log's Table service by connection string (AzureWebJobsStorage) …</summary>
    public string? TableConnectionString { get; init; }
    /// <summary>… or by URL, with the app's managed identity (AzureWebJobsStorage__tableServiceUri or __accountName).</summary>
    public Uri? TableServiceUri { get; init; }
    public string? FrontendUrl { get; init; }
    public string? CorsOrigin { get; init; }
    /// <summary>Links into the web frontend (FRONTEND_URL); none when it is not set.</summary>
    public FrontendLinks Frontend { get; init; } = FrontendLinks.None;
    /// <summary>Origins allowed to call the API from a browser (CORS_ORIGIN, else FRONTEND_URL's origin); none by default.</summary>
    public CorsOrigins Cors { get; init; } = CorsOrigins.None;
    public required Notifications.SmtpOptions Smtp { get; init; }
    /// <summary>A project's request rate on this instance; off by default.</summary>
    public Security.ProjectRateLimit RateLimit { get; init; } = Security.ProjectRateLimit.Off;
    /// <summary>The self-host's connection limits (Kestrel); the Functions worker applies only the body size.</summary>
    public Http.ConnectionLimits Connections { get; init; } = Http.ConnectionLimits.Default;
    /// <summary>Where traces and metrics are exported (OTLP, Application Insights); nowhere by default.</summary>
    public TelemetryExport Telemetry { get; init; } = TelemetryExport.None;

    public static KillTokenSettings Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        var store = (configuration[SettingNames.Store] ?? "sqlite").Trim().ToLowerInvariant();
        if (store is not ("sqlite" or "cosmos"))
        {
            errors.Add($"{SettingNames.Store} must be 'sqlite' or 'cosmos'.");
        }

        var dataDir = configuration[SettingNames.DataDir];
        dataDir = Path.GetFullPath(string.IsNullOrWhiteSpace(dataDir) ? Path.Combine(Directory.GetCurrentDirectory(), ".killtoken") : dataDir);

        var gateway = new GatewayOptions
        {
            MaxBodyBytes = Long(configuration, SettingNames.MaxBodyBytes, 1024 * 1024, 1024, Http.ConnectionLimits.MaxBodyBytesCeiling, errors),
            AllowPrivateEndpoints = Bool(configuration, SettingNames.AllowPrivateEndpoints, false, errors),
            CacheEnabled = Bool(configuration, SettingNames.CacheEnabled, true, errors),
            CacheTtl = TimeSpan.FromSeconds(Long(configuration, SettingNames.CacheTtlSeconds, 86_400, 1, 30L * 86_400, errors)),
            ProviderTimeout = TimeSpan.FromSeconds(Long(configuration, SettingNames.ProviderTimeoutSeconds, 100, 1, 600, errors)),
        };

        var smtp = ReadSmtp(configuration, errors);
        var frontend = FrontendLinks.Read(configuration[SettingNames.FrontendUrl], errors);
        var cors = CorsOrigins.Read(configuration[SettingNames.CorsOrigin], frontend, errors);
        // The host's storage matters only where the audit log lives in it; with SQLite the host's own use is its business.
        var onCosmos = store == "cosmos";
        var settings = new KillTokenSettings
        {
            Store = store,
            DataDirectory = dataDir,
            Gateway = gateway,
            CosmosEndpoint = NullIfEmpty(configuration[SettingNames.CosmosEndpoint]),
            CosmosConnectionString = NullIfEmpty(configuration[SettingNames.CosmosConnectionString]),
            CosmosDatabase = NullIfEmpty(configuration[SettingNames.CosmosDatabase]) ?? "killtoken",
            KeyVaultUri = NullIfEmpty(configuration[SettingNames.KeyVaultUri]),
            TableConnectionString = onCosmos ? NullIfEmpty(HostSetting(configuration, SettingNames.AzureWebJobsStorage)) : null,
            TableServiceUri = onCosmos ? ReadTableServiceUri(configuration, errors) : null,
            FrontendUrl = NullIfEmpty(configuration[SettingNames.FrontendUrl]),
            CorsOrigin = NullIfEmpty(configuration[SettingNames.CorsOrigin]),
            Frontend = frontend,
            Cors = cors,
            Smtp = smtp,
            Telemetry = TelemetryExport.Read(name => configuration[name], errors),
            RateLimit = ReadRateLimit(configuration, errors),
            Connections = ReadConnections(configuration, errors),
        };

        if (store == "cosmos" && settings.CosmosEndpoint is null && settings.CosmosConnectionString is null)
        {
            errors.Add($"{SettingNames.Store}=cosmos needs {SettingNames.CosmosEndpoint} (managed identity) or {SettingNames.CosmosConnectionString} (emulator).");
        }

        if (onCosmos && SettingNames.HostStorage.All(name => NullIfEmpty(HostSetting(configuration, name)) is null))
        {
            errors.Add($"{SettingNames.Store}=cosmos keeps the audit log in Table Storage and needs {SettingNames.AzureWebJobsStorage} "
                + "(a connection string; UseDevelopmentStorage=true for Azurite) or, with managed identity, "
                + $"{SettingNames.AzureWebJobsStorageTableServiceUri} or {SettingNames.AzureWebJobsStorageAccountName}.");
        }

        foreach (var name in SettingNames.EndpointOverrides)
        {
            var value = configuration[name];
            if (!string.IsNullOrWhiteSpace(value) && !Uri.TryCreate(value, UriKind.Absolute, out _))
            {
                errors.Add($"{name} must be an absolute URL.");
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("KillToken configuration is invalid:\n- " + string.Join("\n- ", errors));
        }

        return settings;
    }

    private static Security.ProjectRateLimit ReadRateLimit(IConfiguration configuration, List<string> errors)
    {
        var perMinute = (int)Long(configuration, SettingNames.ProjectRateLimitPerMinute, 0, 0, 1_000_000, errors);
        var burst = (int)Long(configuration, SettingNames.ProjectRateLimitBurst, Security.ProjectRateLimit.DefaultBurst(perMinute), 1, 1_000_000, errors);
        return perMinute == 0 ? Security.ProjectRateLimit.Off : new Security.ProjectRateLimit(perMinute, burst);
    }

    private static Http.ConnectionLimits ReadConnections(IConfiguration configuration, List<string> errors)
    {
        var defaults = Http.ConnectionLimits.Default;
        return new Http.ConnectionLimits
        {
            MaxHeaderBytes = (int)Long(configuration, SettingNames.MaxHeaderBytes, defaults.MaxHeaderBytes, 4096, 1024 * 1024, errors),
            MaxHeaderCount = (int)Long(configuration, SettingNames.MaxHeaderCount, defaults.MaxHeaderCount, 16, 1000, errors),
            HeadersTimeout = TimeSpan.FromSeconds(Long(configuration, SettingNames.HeadersTimeoutSeconds, (long)defaults.HeadersTimeout.TotalSeconds, 1, 300, errors)),
            MinBodyBytesPerSecond = (int)Long(configuration, SettingNames.MinBodyBytesPerSecond, defaults.MinBodyBytesPerSecond, 0, 1024 * 1024, errors),
            KeepAliveTimeout = TimeSpan.FromSeconds(Long(configuration, SettingNames.KeepAliveTimeoutSeconds, (long)defaults.KeepAliveTimeout.TotalSeconds, 1, 3600, errors)),
        };
    }

    private static Notifications.SmtpOptions ReadSmtp(IConfiguration configuration, List<string> errors)
    {
        var secure = (configuration[SettingNames.SmtpSecure] ?? string.Empty).Trim().ToLowerInvariant();
        var security = secure switch
        {
            "" or "starttls" => Notifications.SmtpSecurity.StartTls,
            "tls" => Notifications.SmtpSecurity.Tls,
            "none" => Notifications.SmtpSecurity.None,
            _ => (Notifications.SmtpSecurity?)null,
        };
        if (security is null)
        {
            errors.Add($"{SettingNames.SmtpSecure} must be 'starttls', 'tls' or 'none'.");
        }

        var options = new Notifications.SmtpOptions
        {
            Host = NullIfEmpty(configuration[SettingNames.SmtpHost]),
            Port = (int)Long(configuration, SettingNames.SmtpPort, 587, 1, 65535, errors),
            User = NullIfEmpty(configuration[SettingNames.SmtpUser]),
            Password = configuration[SettingNames.SmtpPass],
            From = NullIfEmpty(configuration[SettingNames.SmtpFrom]) ?? "killtoken@localhost",
            Security = security ?? Notifications.SmtpSecurity.StartTls,
            Timeout = TimeSpan.FromSeconds(Long(configuration, SettingNames.SmtpTimeoutSeconds, 10, 1, 120, errors)),
            CaFile = NullIfEmpty(configuration[SettingNames.SmtpCaFile]),
        };

        if (options.CaFile is not null)
        {
            try
            {
                _ = Notifications.SmtpServerCertificateTrust.FromPemFile(options.CaFile, options.Timeout);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                errors.Add($"{SettingNames.SmtpCaFile} must name a readable PEM file with at least one certificate ({ex.GetType().Name}).");
            }
        }

        return options;
    }

    /// <summary>The identity-based Table service URL: the service URI if set, else the account's public endpoint.</summary>
    private static Uri? ReadTableServiceUri(IConfiguration configuration, List<string> errors)
    {
        if (NullIfEmpty(HostSetting(configuration, SettingNames.AzureWebJobsStorageTableServiceUri)) is { } text)
        {
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp))
            {
                return uri;
            }

            errors.Add($"{SettingNames.AzureWebJobsStorageTableServiceUri} must be an absolute URL (https://<account>.table.core.windows.net/).");
            return null;
        }

        if (NullIfEmpty(HostSetting(configuration, SettingNames.AzureWebJobsStorageAccountName)) is { } account)
        {
            if (account.Length is >= 3 and <= 24 && account.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
            {
                return new Uri($"https://{account}.table.core.windows.net/");
            }

            errors.Add($"{SettingNames.AzureWebJobsStorageAccountName} must be a storage account name (3 to 24 lowercase letters and digits).");
        }

        return null;
    }

    /// <summary>
    /// A Functions host setting: as an environment variable <c>AzureWebJobsStorage__x</c> becomes the key
    /// <c>AzureWebJobsStorage:x</c>; other sources may keep the name as written.
    /// </summary>
    private static string? HostSetting(IConfiguration configuration, string name) =>
        configuration[name] ?? configuration[name.Replace("__", ":", StringComparison.Ordinal)];

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static long Long(IConfiguration configuration, string name, long fallback, long min, long max, List<string> errors)
    {
        var text = configuration[name];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            errors.Add($"{name} must be a whole number from {min} to {max}.");
            return fallback;
        }

        return value;
    }

    private static bool Bool(IConfiguration configuration, string name, bool fallback, List<string> errors)
    {
        var text = configuration[name];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!bool.TryParse(text, out var value))
        {
            errors.Add($"{name} must be true or false.");
            return fallback;
        }

        return value;
    }
}

/// <summary>
/// The server's own secrets: JWT signing key, API-key pepper, local vault master key. From settings when given;
/// otherwise generated once into the data folder with mode 600, so the embedded default needs no configuration.
/// </summary>
public sealed class ServerSecrets
{
    private ServerSecrets(byte[] jwtKey, byte[] pepper, Func<byte[]> encryptionKey)
    {
        JwtSigningKey = jwtKey;
        ApiKeyPepper = pepper;
        _encryptionKey = new Lazy<byte[]>(encryptionKey);
    }

    private readonly Lazy<byte[]> _encryptionKey;

    public byte[] JwtSigningKey { get; }
    public byte[] ApiKeyPepper { get; }
    /// <summary>Only the local vault needs it; created on first use.</summary>
    public byte[] EncryptionKey => _encryptionKey.Value;

    public static ServerSecrets Load(IConfiguration configuration, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var jwt = FromSetting(configuration[SettingNames.JwtSecret], SettingNames.JwtSecret)
            ?? FromFile(dataDirectory, "jwt.key");
        var pepper = FromSetting(configuration[SettingNames.KeyPepper], SettingNames.KeyPepper)
            ?? FromFile(dataDirectory, "pepper.key");
        var encryptionSetting = configuration[SettingNames.EncryptionKey];
        return new ServerSecrets(jwt, pepper, () => EncryptionKeyFrom(encryptionSetting) ?? FromFile(dataDirectory, "encryption.key"));
    }

    public override string ToString() => "server secrets (redacted)";

    private static byte[]? FromSetting(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var bytes = Encoding.UTF8.GetBytes(value.Trim());
        if (bytes.Length < 32)
        {
            throw new InvalidOperationException($"{name} must be at least 32 characters.");
        }

        return bytes;
    }

    private static byte[]? EncryptionKeyFrom(string? hex)
    {
        if (string.IsNullOrWhiteSpace(hex))
        {
            return null;
        }

        try
        {
            var key = Convert.FromHexString(hex.Trim());
            return key.Length == 32 ? key : throw new InvalidOperationException($"{SettingNames.EncryptionKey} must be 64 hex characters (32 bytes).");
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{SettingNames.EncryptionKey} must be 64 hex characters (32 bytes).");
        }
    }

    /// <summary>Reads a 32-byte hex key file, creating it (mode 600) when missing. Safe against two processes starting at once.</summary>
    private static byte[] FromFile(string dataDirectory, string fileName)
    {
        var path = Path.Combine(dataDirectory, fileName);
        if (!File.Exists(path))
        {
            // When another process created it first, its key is the one read below.
            Storage.LocalFiles.PrivateFiles.TryCreate(path, Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))));
        }

        Storage.LocalFiles.PrivateFiles.Narrow(path);
        return Convert.FromHexString(File.ReadAllText(path).Trim());
    }
}
