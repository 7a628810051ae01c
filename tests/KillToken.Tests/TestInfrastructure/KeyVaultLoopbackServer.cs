using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Security.KeyVault.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// Options for <see cref="KeyVaultLoopbackServer.StartAsync(KeyVaultLoopbackServerOptions, CancellationToken)"/>.
/// </summary>
internal sealed class KeyVaultLoopbackServerOptions
{
    /// <summary>When set, a bearer token must equal this value; any other token gets a 401 challenge.</summary>
    public string? ExpectedToken { get; init; }

    /// <summary>Tenant named in the challenge's authorization URI (the SDK passes it to the credential).</summary>
    public string TenantId { get; init; } = KeyVaultLoopbackServer.DefaultTenantId;

    /// <summary>
    /// Optional vault-looking host name (for example <c>kt-test.vault.azure.net</c>). When set, <see cref="KeyVaultLoopbackServer.VaultUri"/>
    /// uses this host (and the real loopback port); handlers from <see cref="KeyVaultLoopbackServer.CreateTrustedHandler"/> connect that host to
    /// the loopback listener, and the certificate names it. A host ending in <c>.vault.azure.net</c> passes the SDK's challenge resource
    /// verification, so <see cref="SecretClientOptions.DisableChallengeResourceVerification"/> may stay false.
    /// When null, the vault URI is <c>https://127.0.0.1:{port}/</c>.
    /// </summary>
    public string? VaultHostName { get; init; }
}

/// <summary>One request the loopback vault received, as it was answered.</summary>
internal sealed record KeyVaultRecordedRequest(
    string Method,
    string Path,
    string QueryString,
    bool HadBearerToken,
    bool Authorized,
    int StatusCode,
    string RequestBody,
    string ResponseBody)
{
    /// <summary>True when <paramref name="text"/> appears in the path, query, request body or response body.</summary>
    public bool Contains(string text) =>
        Path.Contains(text, StringComparison.Ordinal)
        || QueryString.Contains(text, StringComparison.Ordinal)
        || RequestBody.Contains(text, StringComparison.Ordinal)
        || ResponseBody.Contains(text, StringComparison.Ordinal);
}

/// <summary>A <see cref="TokenCredential"/> that hands out one fixed token and records what it was asked for.</summary>
internal sealed class KeyVaultLoopbackCredential : TokenCredential
{
    public const string DefaultToken = "killtoken-test-kv-token";

    private readonly ConcurrentQueue<TokenRequestContext> _requests = new();

    public KeyVaultLoopbackCredential(string token = DefaultToken)
    {
        Token = token;
    }

    public string Token { get; }

    /// <summary>Every token request the SDK made (scopes, tenant id, claims), in order.</summary>
    public IReadOnlyList<TokenRequestContext> Requests => _requests.ToArray();

    public int CallCount => _requests.Count;

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        _requests.Enqueue(requestContext);
        return new AccessToken(Token, DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}

/// <summary>
/// A loopback HTTPS server speaking the subset of the Azure Key Vault secrets REST API that
/// <see cref="SecretClient"/> uses: set, get (latest or a version), list versions, list secrets, update properties,
/// delete (soft), get deleted, recover and purge. It performs Key Vault's challenge authentication (401 +
/// <c>WWW-Authenticate: Bearer authorization="…", resource="https://vault.azure.net"</c> for requests without a bearer token)
/// and records every request so tests can count calls and check where secret values travelled.
/// </summary>
internal sealed partial class KeyVaultLoopbackServer : IAsyncDisposable
{
    public const string DefaultTenantId = "00000000-0000-0000-0000-00000000c0de";
    public const string ChallengeResource = "https://vault.azure.net";
    public const string RecoveryLevel = "Recoverable+Purgeable";
    public const int RecoverableDays = 90;

    private readonly WebApplication _app;
    private readonly int _port;
    private readonly string? _expectedToken;
    private readonly string _challengeHeader;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SecretEntry> _secrets = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SecretEntry> _deleted = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<KeyVaultRecordedRequest> _requests = new();
    private readonly ConcurrentBag<HttpMessageHandler> _handlers = [];
    private readonly Queue<(int Status, string Code)> _injectedFailures = new();

    private KeyVaultLoopbackServer(WebApplication app, int port, X509Certificate2 certificate, Uri vaultUri, KeyVaultLoopbackServerOptions options)
    {
        _app = app;
        _port = port;
        Certificate = certificate;
        VaultUri = vaultUri;
        _expectedToken = options.ExpectedToken;
        TenantId = options.TenantId;
        _challengeHeader = $"Bearer authorization=\"https://login.microsoftonline.com/{options.TenantId}\", resource=\"{ChallengeResource}\"";
    }

    /// <summary>The vault base URI, with a trailing slash (<c>https://127.0.0.1:{port}/</c> by default).</summary>
    public Uri VaultUri { get; }

    /// <summary>The self-signed server certificate (CN=localhost; SAN 127.0.0.1, localhost and the optional vault host name).</summary>
    public X509Certificate2 Certificate { get; }

    public string TenantId { get; }

    /// <summary>A snapshot of every request received so far, in arrival order.</summary>
    public IReadOnlyList<KeyVaultRecordedRequest> Requests => _requests.ToArray();

    public static Task<KeyVaultLoopbackServer> StartAsync() => StartAsync(new KeyVaultLoopbackServerOptions(), CancellationToken.None);

    public static async Task<KeyVaultLoopbackServer> StartAsync(KeyVaultLoopbackServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        X509Certificate2 certificate = CreateCertificate(options.VaultHostName);
        WebApplication? app = null;
        try
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
            {
                ApplicationName = typeof(KeyVaultLoopbackServer).Assembly.GetName().Name,
                ContentRootPath = AppContext.BaseDirectory,
            });

            // Ignore appsettings.json / ASPNETCORE_* variables that happen to be around the test run.
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel =>
                kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));

            app = builder.Build();
            KeyVaultLoopbackServer? server = null;
            app.Run(context => server!.HandleAsync(context));
            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            int port = new Uri(address).Port;
            string host = options.VaultHostName ?? "127.0.0.1";
            var vaultUri = new Uri(string.Create(CultureInfo.InvariantCulture, $"https://{host}:{port}/"));
            server = new KeyVaultLoopbackServer(app, port, certificate, vaultUri, options);
            return server;
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            certificate.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A handler that trusts exactly <see cref="Certificate"/> (and still checks the host name against it) and, when a
    /// <see cref="KeyVaultLoopbackServerOptions.VaultHostName"/> is set, connects that host to the loopback listener.
    /// The server disposes the handlers it made when it is disposed.
    /// </summary>
    public HttpMessageHandler CreateTrustedHandler()
    {
        byte[] trusted = Certificate.RawData;
        string? vaultHost = VaultUri.Host == "127.0.0.1" ? null : VaultUri.Host;
        int port = _port;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    certificate is not null
                    && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
                    && certificate.GetRawCertData().AsSpan().SequenceEqual(trusted),
            },
        };

        if (vaultHost is not null)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    if (string.Equals(context.DnsEndPoint.Host, vaultHost, StringComparison.OrdinalIgnoreCase))
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                    }

                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        _handlers.Add(handler);
        return handler;
    }

    /// <summary>An Azure.Core transport over <see cref="CreateTrustedHandler"/>.</summary>
    public HttpClientTransport CreateTrustedTransport() => new(CreateTrustedHandler());

    /// <summary>
    /// Options for a <see cref="SecretClient"/> aimed at this server: trusting transport, no retries, and challenge resource
    /// verification disabled unless the vault host name already ends in <c>.vault.azure.net</c>.
    /// </summary>
    public SecretClientOptions CreateSecretClientOptions()
    {
        var options = new SecretClientOptions
        {
            Transport = CreateTrustedTransport(),
            DisableChallengeResourceVerification = !VaultUri.Host.EndsWith(".vault.azure.net", StringComparison.OrdinalIgnoreCase),
        };
        options.Retry.MaxRetries = 0;
        return options;
    }

    /// <summary>A real <see cref="SecretClient"/> for this server (with a <see cref="KeyVaultLoopbackCredential"/> unless one is given).</summary>
    public SecretClient CreateSecretClient(TokenCredential? credential = null) =>
        new(VaultUri, credential ?? new KeyVaultLoopbackCredential(_expectedToken ?? KeyVaultLoopbackCredential.DefaultToken), CreateSecretClientOptions());

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests() => _requests.Clear();

    /// <summary>The next <paramref name="count"/> authorized requests are answered with this status and error code instead of being served.</summary>
    public void FailNextRequests(int statusCode, int count = 1, string errorCode = "InternalServerError")
    {
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                _injectedFailures.Enqueue((statusCode, errorCode));
            }
        }
    }

    /// <summary>Stores a new version directly (no HTTP request is recorded) and returns its version id.</summary>
    public string SeedSecret(string name, string value, string? contentType = null, IReadOnlyDictionary<string, string>? tags = null)
    {
        lock (_gate)
        {
            if (!_secrets.TryGetValue(name, out SecretEntry? entry))
            {
                entry = new SecretEntry(name);
                _secrets.Add(name, entry);
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            var version = new SecretVersion(NewVersionId(), now)
            {
                Value = value,
                ContentType = contentType,
                Tags = tags is null ? null : new Dictionary<string, string>(tags, StringComparer.Ordinal),
            };
            entry.Versions.Add(version);
            return version.Version;
        }
    }

    /// <summary>The stored value of a live (not deleted) secret's latest or given version, or null.</summary>
    public string? GetStoredValue(string name, string? version = null)
    {
        lock (_gate)
        {
            return _secrets.TryGetValue(name, out SecretEntry? entry) ? FindVersion(entry, version)?.Value : null;
        }
    }

    /// <summary>Version ids of a live secret, oldest first (empty when absent or deleted).</summary>
    public IReadOnlyList<string> GetVersionIds(string name)
    {
        lock (_gate)
        {
            return _secrets.TryGetValue(name, out SecretEntry? entry) ? entry.Versions.Select(v => v.Version).ToArray() : [];
        }
    }

    /// <summary>Names of live secrets.</summary>
    public IReadOnlyList<string> GetSecretNames()
    {
        lock (_gate)
        {
            return _secrets.Values.Select(e => e.Name).ToArray();
        }
    }

    /// <summary>True when the secret is deleted but not yet purged.</summary>
    public bool IsSoftDeleted(string name)
    {
        lock (_gate)
        {
            return _deleted.ContainsKey(name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        foreach (HttpMessageHandler handler in _handlers)
        {
            handler.Dispose();
        }

        Certificate.Dispose();
    }

    private static X509Certificate2 CreateCertificate(string? extraHostName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        if (!string.IsNullOrEmpty(extraHostName))
        {
            san.AddDnsName(extraHostName);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 ephemeral = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        // Round-trip through PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
    }

    private static string NewVersionId() => Guid.NewGuid().ToString("N");

    private static SecretVersion? FindVersion(SecretEntry entry, string? version) =>
        string.IsNullOrEmpty(version)
            ? entry.Versions.LastOrDefault()
            : entry.Versions.Find(v => string.Equals(v.Version, version, StringComparison.OrdinalIgnoreCase));

    private async Task HandleAsync(HttpContext context)
    {
        CancellationToken cancellationToken = context.RequestAborted;
        HttpRequest request = context.Request;
        string requestBody;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            requestBody = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        string? authorization = request.Headers.Authorization;
        string? token = null;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = authorization["Bearer ".Length..].Trim();
        }

        bool hadBearer = !string.IsNullOrEmpty(token);
        bool authorized = hadBearer && (_expectedToken is null || string.Equals(token, _expectedToken, StringComparison.Ordinal));

        Reply reply;
        if (!authorized)
        {
            context.Response.Headers.WWWAuthenticate = _challengeHeader;
            reply = Error(
                StatusCodes.Status401Unauthorized,
                "Unauthorized",
                hadBearer ? "AKV10032: Invalid bearer token." : "AKV10000: Request is missing a Bearer or PoP token.");
        }
        else
        {
            reply = Dispatch(request.Method, request.Path.Value ?? "/", request, requestBody);
        }

        _requests.Enqueue(new KeyVaultRecordedRequest(
            request.Method,
            request.Path.Value ?? "/",
            request.QueryString.Value ?? string.Empty,
            hadBearer,
            authorized,
            reply.Status,
            requestBody,
            reply.Body ?? string.Empty));

        context.Response.StatusCode = reply.Status;
        if (reply.Body is not null)
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(reply.Body, cancellationToken).ConfigureAwait(false);
        }
    }

    private Reply Dispatch(string method, string path, HttpRequest request, string body)
    {
        lock (_gate)
        {
            if (_injectedFailures.TryDequeue(out (int Status, string Code) failure))
            {
                return Error(failure.Status, failure.Code, "Injected failure.");
            }
        }

        if (string.IsNullOrEmpty(request.Query["api-version"]))
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "The request URI contains an invalid or missing api-version.");
        }

        string[] segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            return NotFound();
        }

        string collection = segments[0].ToUpperInvariant();
        if (segments.Length >= 2 && !SecretNameRegex().IsMatch(segments[1]))
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", $"The request URI contains an invalid name: {segments[1]}");
        }

        return (collection, segments.Length, method.ToUpperInvariant()) switch
        {
            ("SECRETS", 1, "GET") => ListSecrets(),
            ("SECRETS", 2, "PUT") => SetSecret(segments[1], body),
            ("SECRETS", 2, "GET") => GetSecret(segments[1], null),
            ("SECRETS", 2, "DELETE") => DeleteSecret(segments[1]),
            ("SECRETS", 3, "GET") when segments[2] == "versions" => ListVersions(segments[1]),
            ("SECRETS", 3, "GET") => GetSecret(segments[1], segments[2]),
            ("SECRETS", 3, "PATCH") => UpdateSecret(segments[1], segments[2], body),
            ("DELETEDSECRETS", 2, "GET") => GetDeletedSecret(segments[1]),
            ("DELETEDSECRETS", 2, "DELETE") => PurgeDeletedSecret(segments[1]),
            ("DELETEDSECRETS", 3, "POST") when segments[2] == "recover" => RecoverDeletedSecret(segments[1]),
            _ => NotFound(),
        };
    }

    private Reply SetSecret(string name, string body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "The request body is not valid JSON.");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("value", out JsonElement valueElement)
                || valueElement.ValueKind != JsonValueKind.String)
            {
                return Error(StatusCodes.Status400BadRequest, "BadParameter", "Property 'value' is required.");
            }

            lock (_gate)
            {
                if (_deleted.ContainsKey(name))
                {
                    return Error(
                        StatusCodes.Status409Conflict,
                        "Conflict",
                        $"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.");
                }

                if (!_secrets.TryGetValue(name, out SecretEntry? entry))
                {
                    entry = new SecretEntry(name);
                    _secrets.Add(name, entry);
                }

                var version = new SecretVersion(NewVersionId(), DateTimeOffset.UtcNow) { Value = valueElement.GetString() };
                ApplyProperties(version, root);
                entry.Versions.Add(version);
                return Ok(writer => WriteBundle(writer, entry, version, includeValue: true, deleted: null));
            }
        }
    }

    private Reply GetSecret(string name, string? versionId)
    {
        lock (_gate)
        {
            if (!_secrets.TryGetValue(name, out SecretEntry? entry))
            {
                return SecretNotFound(name);
            }

            SecretVersion? version = FindVersion(entry, versionId);
            if (version is null)
            {
                return Error(StatusCodes.Status404NotFound, "SecretNotFound", $"A secret with (name/id) {name}/{versionId} was not found in this key vault.");
            }

            if (!version.Enabled)
            {
                return Error(StatusCodes.Status403Forbidden, "Forbidden", "Operation get is not allowed on a disabled secret.");
            }

            return Ok(writer => WriteBundle(writer, entry, version, includeValue: true, deleted: null));
        }
    }

    private Reply UpdateSecret(string name, string versionId, string body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(string.IsNullOrWhiteSpace(body) ? "{}" : body);
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "The request body is not valid JSON.");
        }

        using (document)
        {
            lock (_gate)
            {
                if (!_secrets.TryGetValue(name, out SecretEntry? entry) || FindVersion(entry, versionId) is not SecretVersion version)
                {
                    return SecretNotFound(name);
                }

                ApplyProperties(version, document.RootElement);
                version.Updated = DateTimeOffset.UtcNow;
                return Ok(writer => WriteBundle(writer, entry, version, includeValue: false, deleted: null));
            }
        }
    }

    private Reply ListSecrets()
    {
        lock (_gate)
        {
            return Ok(writer =>
            {
                writer.WriteStartArray("value");
                foreach (SecretEntry entry in _secrets.Values)
                {
                    SecretVersion latest = entry.Versions[^1];
                    writer.WriteStartObject();
                    writer.WriteString("id", $"{VaultUri.AbsoluteUri}secrets/{entry.Name}");
                    WriteProperties(writer, latest);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteNull("nextLink");
            });
        }
    }

    private Reply ListVersions(string name)
    {
        lock (_gate)
        {
            if (!_secrets.TryGetValue(name, out SecretEntry? entry))
            {
                return SecretNotFound(name);
            }

            return Ok(writer =>
            {
                writer.WriteStartArray("value");
                foreach (SecretVersion version in entry.Versions)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", VersionId(entry, version));
                    WriteProperties(writer, version);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteNull("nextLink");
            });
        }
    }

    private Reply DeleteSecret(string name)
    {
        lock (_gate)
        {
            if (!_secrets.Remove(name, out SecretEntry? entry))
            {
                return SecretNotFound(name);
            }

            entry.DeletedOn = DateTimeOffset.UtcNow;
            _deleted[name] = entry;
            return Ok(writer => WriteBundle(writer, entry, entry.Versions[^1], includeValue: false, deleted: entry.DeletedOn));
        }
    }

    private Reply GetDeletedSecret(string name)
    {
        lock (_gate)
        {
            if (!_deleted.TryGetValue(name, out SecretEntry? entry))
            {
                return Error(StatusCodes.Status404NotFound, "SecretNotFound", $"Deleted Secret not found: {name}");
            }

            return Ok(writer => WriteBundle(writer, entry, entry.Versions[^1], includeValue: false, deleted: entry.DeletedOn));
        }
    }

    private Reply PurgeDeletedSecret(string name)
    {
        lock (_gate)
        {
            return _deleted.Remove(name)
                ? new Reply(StatusCodes.Status204NoContent, null)
                : Error(StatusCodes.Status404NotFound, "SecretNotFound", $"Deleted Secret not found: {name}");
        }
    }

    private Reply RecoverDeletedSecret(string name)
    {
        lock (_gate)
        {
            if (!_deleted.Remove(name, out SecretEntry? entry))
            {
                return Error(StatusCodes.Status404NotFound, "SecretNotFound", $"Deleted Secret not found: {name}");
            }

            entry.DeletedOn = null;
            _secrets[name] = entry;
            return Ok(writer => WriteBundle(writer, entry, entry.Versions[^1], includeValue: false, deleted: null));
        }
    }

    private static void ApplyProperties(SecretVersion version, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (root.TryGetProperty("contentType", out JsonElement contentType))
        {
            version.ContentType = contentType.ValueKind == JsonValueKind.String ? contentType.GetString() : null;
        }

        if (root.TryGetProperty("tags", out JsonElement tags))
        {
            version.Tags = tags.ValueKind == JsonValueKind.Object
                ? tags.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString(), StringComparer.Ordinal)
                : null;
        }

        if (root.TryGetProperty("attributes", out JsonElement attributes) && attributes.ValueKind == JsonValueKind.Object)
        {
            if (attributes.TryGetProperty("enabled", out JsonElement enabled) && enabled.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                version.Enabled = enabled.GetBoolean();
            }

            if (attributes.TryGetProperty("nbf", out JsonElement nbf))
            {
                version.NotBefore = nbf.ValueKind == JsonValueKind.Number ? nbf.GetInt64() : null;
            }

            if (attributes.TryGetProperty("exp", out JsonElement exp))
            {
                version.Expires = exp.ValueKind == JsonValueKind.Number ? exp.GetInt64() : null;
            }
        }
    }

    private string VersionId(SecretEntry entry, SecretVersion version) => $"{VaultUri.AbsoluteUri}secrets/{entry.Name}/{version.Version}";

    private void WriteBundle(Utf8JsonWriter writer, SecretEntry entry, SecretVersion version, bool includeValue, DateTimeOffset? deleted)
    {
        if (deleted is DateTimeOffset deletedOn)
        {
            writer.WriteString("recoveryId", $"{VaultUri.AbsoluteUri}deletedsecrets/{entry.Name}");
            writer.WriteNumber("deletedDate", deletedOn.ToUnixTimeSeconds());
            writer.WriteNumber("scheduledPurgeDate", deletedOn.AddDays(RecoverableDays).ToUnixTimeSeconds());
        }

        if (includeValue)
        {
            writer.WriteString("value", version.Value);
        }

        writer.WriteString("id", VersionId(entry, version));
        WriteProperties(writer, version);
    }

    private static void WriteProperties(Utf8JsonWriter writer, SecretVersion version)
    {
        if (version.ContentType is not null)
        {
            writer.WriteString("contentType", version.ContentType);
        }

        writer.WriteStartObject("attributes");
        writer.WriteBoolean("enabled", version.Enabled);
        if (version.NotBefore is long nbf)
        {
            writer.WriteNumber("nbf", nbf);
        }

        if (version.Expires is long exp)
        {
            writer.WriteNumber("exp", exp);
        }

        writer.WriteNumber("created", version.Created.ToUnixTimeSeconds());
        writer.WriteNumber("updated", version.Updated.ToUnixTimeSeconds());
        writer.WriteString("recoveryLevel", RecoveryLevel);
        writer.WriteNumber("recoverableDays", RecoverableDays);
        writer.WriteEndObject();

        if (version.Tags is not null)
        {
            writer.WriteStartObject("tags");
            foreach (KeyValuePair<string, string> tag in version.Tags)
            {
                writer.WriteString(tag.Key, tag.Value);
            }

            writer.WriteEndObject();
        }
    }

    private static Reply Ok(Action<Utf8JsonWriter> writeMembers)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeMembers(writer);
            writer.WriteEndObject();
        }

        return new Reply(StatusCodes.Status200OK, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static Reply SecretNotFound(string name) =>
        Error(StatusCodes.Status404NotFound, "SecretNotFound", $"A secret with (name/id) {name} was not found in this key vault.");

    private static Reply NotFound() => Error(StatusCodes.Status404NotFound, "NotFound", "The requested resource was not found.");

    private static Reply Error(int status, string code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return new Reply(status, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [GeneratedRegex("^[0-9a-zA-Z-]{1,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex SecretNameRegex();

    private readonly record struct Reply(int Status, string? Body);

    private sealed class SecretEntry(string name)
    {
        public string Name { get; } = name;

        public List<SecretVersion> Versions { get; } = [];

        public DateTimeOffset? DeletedOn { get; set; }
    }

    private sealed class SecretVersion(string version, DateTimeOffset created)
    {
        public string Version { get; } = version;

        public DateTimeOffset Created { get; } = created;

        public DateTimeOffset Updated { get; set; } = created;

        public string? Value { get; set; }

        public string? ContentType { get; set; }

        public Dictionary<string, string>? Tags { get; set; }

        public bool Enabled { get; set; } = true;

        public long? NotBefore { get; set; }

        public long? Expires { get; set; }
    }
}
