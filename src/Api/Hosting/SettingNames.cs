using KillToken.Core.Providers;

namespace KillToken.Api.Hosting;

/// <summary>Every setting the app reads (§7). A test keeps this list, main.bicep and local.settings.sample.json in step.</summary>
public static class SettingNames
{
    public const string Store = "KILLTOKEN_STORE";
    public const string DataDir = "KILLTOKEN_DATA_DIR";
    public const string JwtSecret = "KILLTOKEN_JWT_SECRET";
    public const string KeyPepper = "KILLTOKEN_KEY_PEPPER";
    public const string EncryptionKey = "KILLTOKEN_ENCRYPTION_KEY";
    public const string MaxBodyBytes = "KILLTOKEN_MAX_BODY_BYTES";
    public const string AllowPrivateEndpoints = "KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS";
    public const string CacheEnabled = "KILLTOKEN_CACHE_ENABLED";
    public const string CacheTtlSeconds = "KILLTOKEN_CACHE_TTL_SECONDS";
    public const string ProviderTimeoutSeconds = "KILLTOKEN_PROVIDER_TIMEOUT_SECONDS";
    /// <summary>A project's requests a minute on this instance (0 or empty = no limit, the default) and its burst.</summary>
    public const string ProjectRateLimitPerMinute = "KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE";
    public const string ProjectRateLimitBurst = "KILLTOKEN_PROJECT_RATE_LIMIT_BURST";
    public const string CosmosEndpoint = "COSMOS_ENDPOINT";
    public const string CosmosDatabase = "COSMOS_DATABASE";
    public const string CosmosConnectionString = "COSMOS_CONNECTION_STRING";
    public const string KeyVaultUri = "KEYVAULT_URI";
    public const string SmtpHost = "SMTP_HOST";
    public const string SmtpPort = "SMTP_PORT";
    public const string SmtpUser = "SMTP_USER";
    public const string SmtpPass = "SMTP_PASS";
    public const string SmtpFrom = "SMTP_FROM";
    public const string SmtpSecure = "SMTP_SECURE";
    public const string SmtpTimeoutSeconds = "SMTP_TIMEOUT_SECONDS";
    public const string SmtpCaFile = "SMTP_CA_FILE";
    public const string FrontendUrl = "FRONTEND_URL";
    public const string CorsOrigin = "CORS_ORIGIN";

    /// <summary>
    /// The Functions host's storage as a connection string (Azurite's <c>UseDevelopmentStorage=true</c>, or one with an
    /// account key or <c>TableEndpoint=</c>). With <see cref="Store"/>=cosmos the audit log lives in its Table service.
    /// </summary>
    public const string AzureWebJobsStorage = "AzureWebJobsStorage";

    /// <summary>The same account's Table service URL, reached with the app's managed identity (no key).</summary>
    public const string AzureWebJobsStorageTableServiceUri = "AzureWebJobsStorage__tableServiceUri";

    /// <summary>The same account by name, with managed identity: <c>https://{name}.table.core.windows.net</c>.</summary>
    public const string AzureWebJobsStorageAccountName = "AzureWebJobsStorage__accountName";

    /// <summary>
    /// Telemetry export, in the names the OpenTelemetry SDK and Application Insights define (their SDKs read them too):
    /// OTLP when the endpoint is set, Application Insights when the connection string is; nothing is exported otherwise.
    /// </summary>
    public const string OtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string OtlpProtocol = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string ApplicationInsightsConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string ApplicationInsightsAuthenticationString = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    /// <summary>
    /// The telemetry settings KillToken reads. They are the SDKs' and the platform's own names — main.bicep sets the
    /// Application Insights ones, local.settings.sample.json leaves the OTLP endpoint empty — so they are not in <see cref="All"/>.
    /// </summary>
    public static IReadOnlyList<string> Telemetry { get; } = [OtlpEndpoint, OtlpProtocol, ApplicationInsightsConnectionString, ApplicationInsightsAuthenticationString];

    /// <summary>The self-host's connection limits (Kestrel): header size and count, slow headers and bodies, idle connections.</summary>
    public const string MaxHeaderBytes = "KILLTOKEN_MAX_HEADER_BYTES";
    public const string MaxHeaderCount = "KILLTOKEN_MAX_HEADER_COUNT";
    public const string HeadersTimeoutSeconds = "KILLTOKEN_HEADERS_TIMEOUT_SECONDS";
    public const string MinBodyBytesPerSecond = "KILLTOKEN_MIN_BODY_BYTES_PER_SECOND";
    public const string KeepAliveTimeoutSeconds = "KILLTOKEN_KEEP_ALIVE_TIMEOUT_SECONDS";

    /// <summary>
    /// Read by the self-host only: under Azure Functions the platform's front ends and the Functions host hold the
    /// client's connection, so neither main.bicep nor local.settings.sample.json carries them and they are not in <see cref="All"/>.
    /// </summary>
    public static IReadOnlyList<string> SelfHostConnections { get; } = [MaxHeaderBytes, MaxHeaderCount, HeadersTimeoutSeconds, MinBodyBytesPerSecond, KeepAliveTimeoutSeconds];

    /// <summary>Google's OAuth2 token endpoint for Vertex AI service accounts (tests, sovereign clouds).</summary>
    public const string GoogleTokenUrl = "KILLTOKEN_GOOGLE_TOKEN_URL";

    /// <summary><c>KILLTOKEN_&lt;PROVIDER&gt;_BASE_URL</c>: optional overrides, absent from deployments by default.</summary>
    public static IEnumerable<string> ProviderBaseUrls => ProviderId.All.Select(p => $"KILLTOKEN_{p.SettingStem}_BASE_URL");

    /// <summary>Endpoint overrides: server configuration for tests and sovereign clouds, never set per request.</summary>
    public static IEnumerable<string> EndpointOverrides => ProviderBaseUrls.Append(GoogleTokenUrl);

    /// <summary>
    /// The host's storage settings KillToken also reads (a connection string wins over the URL, the URL over the name).
    /// They belong to the Functions host — main.bicep sets the identity-based ones, local.settings.sample.json the
    /// connection string — so they are not in <see cref="All"/>.
    /// </summary>
    public static IReadOnlyList<string> HostStorage { get; } = [AzureWebJobsStorage, AzureWebJobsStorageTableServiceUri, AzureWebJobsStorageAccountName];

    public static IReadOnlyList<string> All { get; } =
    [
        Store, DataDir, JwtSecret, KeyPepper, EncryptionKey, MaxBodyBytes, AllowPrivateEndpoints, CacheEnabled, CacheTtlSeconds,
        ProviderTimeoutSeconds, ProjectRateLimitPerMinute, ProjectRateLimitBurst, CosmosEndpoint, CosmosDatabase, CosmosConnectionString, KeyVaultUri, SmtpHost, SmtpPort, SmtpUser,
        SmtpPass, SmtpFrom, SmtpSecure, SmtpTimeoutSeconds, SmtpCaFile, FrontendUrl, CorsOrigin,
    ];
}
