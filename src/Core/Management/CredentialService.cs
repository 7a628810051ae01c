using System.Text.Json.Nodes;
using KillToken.Core.Credentials;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Providers;
using KillToken.Core.Security;

namespace KillToken.Core.Management;

/// <summary>What a client sees of a credential: never the secret.</summary>
public sealed record CredentialView(
    string Id, string Provider, string? Label, string Status, string KeyPreview,
    IReadOnlyDictionary<string, string> Config, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static CredentialView From(CredentialRecord r) => new(r.Id, r.Provider, r.Label, r.Status, r.KeyPreview, r.Config, r.CreatedAt, r.UpdatedAt);
}

/// <summary>Strict BYOK credential management, shared by <c>/v1/provider-credentials</c> and the dashboard API.</summary>
public sealed class CredentialService(
    ICredentialStore store,
    ISecretVault vault,
    CredentialResolver resolver,
    IProviderRegistry providers,
    GatewayOptions options,
    TimeProvider time)
{
    public async Task<(CredentialView? View, GatewayError? Error)> CreateAsync(string workspaceId, JsonObject body, CancellationToken cancellationToken = default)
    {
        var providerText = ChatRequestParser.AsString(body["provider"]);
        if (string.IsNullOrWhiteSpace(providerText))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'provider' is required."));
        }

        if (!ProviderId.TryParse(providerText, out var provider))
        {
            return (null, new GatewayError(422, ErrorCodes.ProviderNotSupported, $"Provider is not supported. Use one of: {string.Join(", ", ProviderId.All)}."));
        }

        if (!JsonFields.TryString(body, "label", false, 100, out var label, out var error))
        {
            return (null, error);
        }

        var unknown = body.Select(p => p.Key).Except(["provider", "label", "apiKey", "secrets", "config"]).FirstOrDefault();
        if (unknown is not null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"Unknown field '{unknown}'."));
        }

        var rule = ProviderCredentialRules.For(provider);
        var (bundle, secretError) = ReadSecret(rule, body, required: true);
        if (secretError is not null)
        {
            return (null, secretError);
        }

        var (config, configError) = ReadConfig(rule, body, required: true);
        if (configError is not null)
        {
            return (null, configError);
        }

        var now = time.GetUtcNow();
        var id = Ids.New("cred");
        var secretName = "kt-" + id.Replace('_', '-');
        var version = await vault.SetAsync(secretName, bundle!.Serialize(), cancellationToken);
        var record = new CredentialRecord
        {
            Id = id,
            WorkspaceId = workspaceId,
            Provider = provider.Value,
            Label = label,
            Status = CredentialStatus.Active,
            KeyPreview = PreviewOf(rule, bundle),
            Config = config!,
            SecretName = secretName,
            SecretVersion = version,
            CreatedAt = now,
            UpdatedAt = now,
        };

        try
        {
            await store.CreateAsync(record, cancellationToken);
        }
        catch
        {
            // Nothing half-written: a record that could not be saved leaves no orphaned secret.
            await vault.DeleteAsync(secretName, CancellationToken.None);
            throw;
        }

        return (CredentialView.From(record), null);
    }

    public async Task<IReadOnlyList<CredentialView>> ListAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        [.. (await store.ListAsync(workspaceId, cancellationToken)).OrderBy(c => c.CreatedAt).Select(CredentialView.From)];

    public async Task<CredentialView?> GetAsync(string workspaceId, string id, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(workspaceId, id, cancellationToken);
        return record is null ? null : CredentialView.From(record);
    }

    /// <summary>Rename, change config, disable/enable, or rotate the secret (a new vault version).</summary>
    public async Task<(CredentialView? View, GatewayError? Error)> UpdateAsync(string workspaceId, string id, JsonObject body, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(workspaceId, id, cancellationToken);
        if (record is null)
        {
            return (null, GatewayError.NotFound("Credential"));
        }

        var unknown = body.Select(p => p.Key).Except(["label", "apiKey", "secrets", "config", "status", "provider"]).FirstOrDefault();
        if (unknown is not null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"Unknown field '{unknown}'."));
        }

        if (body["provider"] is not null && ChatRequestParser.AsString(body["provider"]) != record.Provider)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "A credential's provider cannot change; create a new credential."));
        }

        if (!JsonFields.TryString(body, "label", false, 100, out var label, out var error))
        {
            return (null, error);
        }

        string? status = null;
        if (body["status"] is not null)
        {
            status = ChatRequestParser.AsString(body["status"]);
            if (status is not (CredentialStatus.Active or CredentialStatus.Disabled))
            {
                return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'status' must be 'active' or 'disabled'."));
            }
        }

        var rule = ProviderCredentialRules.For(new ProviderId(record.Provider));
        var rotates = body.ContainsKey("apiKey") || body.ContainsKey("secrets");
        var (bundle, secretError) = rotates ? ReadSecret(rule, body, required: true) : (null, null);
        if (secretError is not null)
        {
            return (null, secretError);
        }

        var (config, configError) = body.ContainsKey("config") ? ReadConfig(rule, body, required: true) : (null, null);
        if (configError is not null)
        {
            return (null, configError);
        }

        var updated = record with
        {
            Label = body.ContainsKey("label") ? label : record.Label,
            Status = status ?? record.Status,
            Config = config ?? record.Config,
            UpdatedAt = time.GetUtcNow(),
        };

        if (bundle is not null)
        {
            var version = await vault.SetAsync(record.SecretName, bundle.Serialize(), cancellationToken);
            updated = updated with { SecretVersion = version, KeyPreview = PreviewOf(rule, bundle) };
        }

        await store.UpdateAsync(updated, cancellationToken);
        return (CredentialView.From(updated), null);
    }

    public async Task<bool> DeleteAsync(string workspaceId, string id, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(workspaceId, id, cancellationToken);
        if (record is null)
        {
            return false;
        }

        await store.DeleteAsync(workspaceId, id, cancellationToken);
        await vault.DeleteAsync(record.SecretName, cancellationToken);
        return true;
    }

    public async Task<(CredentialTestResult? Result, GatewayError? Error)> TestAsync(string workspaceId, string id, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(workspaceId, id, cancellationToken);
        if (record is null)
        {
            return (null, GatewayError.NotFound("Credential"));
        }

        var provider = new ProviderId(record.Provider);
        if (!providers.TryGet(provider, out var adapter))
        {
            return (null, new GatewayError(422, ErrorCodes.ProviderNotSupported, $"Provider '{provider}' is not available on this gateway yet."));
        }

        var credential = await resolver.OpenAsync(record, cancellationToken);
        if (credential is null)
        {
            return (new CredentialTestResult(false, 0, null, "The credential's secret is missing from the vault; rotate it."), null);
        }

        return (await adapter.TestCredentialAsync(credential, cancellationToken), null);
    }

    private static (SecretBundle? Bundle, GatewayError? Error) ReadSecret(ProviderCredentialRule rule, JsonObject body, bool required)
    {
        var hasApiKey = body.TryGetPropertyValue("apiKey", out var apiKeyNode) && apiKeyNode is not null;
        var hasSecrets = body.TryGetPropertyValue("secrets", out var secretsNode) && secretsNode is not null;
        if (hasApiKey && hasSecrets)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, "Send either 'apiKey' or 'secrets', not both."));
        }

        if (rule.Shape == SecretShape.ApiKey)
        {
            if (hasSecrets)
            {
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, $"'{rule.Provider}' takes an 'apiKey', not a 'secrets' bundle."));
            }

            var apiKey = ChatRequestParser.AsString(apiKeyNode);
            if (string.IsNullOrWhiteSpace(apiKey) || apiKey.Length > 4096)
            {
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidApiKey, $"'{rule.Provider}' needs a non-empty 'apiKey'."));
            }

            return (new SecretBundle { ApiKey = apiKey.Trim() }, null);
        }

        if (hasApiKey)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets,
                $"'{rule.Provider}' takes a 'secrets' bundle ({string.Join(", ", rule.AllSecrets)}), not an 'apiKey'."));
        }

        if (!hasSecrets || secretsNode is not JsonObject secrets)
        {
            return required
                ? (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, $"'{rule.Provider}' needs 'secrets' with {string.Join(", ", rule.RequiredSecrets)}."))
                : (null, null);
        }

        var bundle = new SecretBundle();
        foreach (var (key, node) in secrets)
        {
            if (!rule.AllSecrets.Contains(key))
            {
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, $"'secrets.{key}' is not a field of '{rule.Provider}' (expected {string.Join(", ", rule.AllSecrets)})."));
            }

            var text = ChatRequestParser.AsString(node);
            if (text is null || text.Length > 16384)
            {
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, $"'secrets.{key}' must be a string."));
            }

            if (!string.IsNullOrWhiteSpace(text))
            {
                bundle.Secrets[key] = text;
            }
        }

        var missing = rule.RequiredSecrets.FirstOrDefault(k => !bundle.Secrets.ContainsKey(k));
        if (missing is not null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, $"'secrets.{missing}' is required for '{rule.Provider}'."));
        }

        if (rule.Shape == SecretShape.GoogleServiceAccount && !bundle.Secrets["privateKey"].Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, "'secrets.privateKey' must be the service account's PEM private key."));
        }

        return (bundle, null);
    }

    private (Dictionary<string, string>? Config, GatewayError? Error) ReadConfig(ProviderCredentialRule rule, JsonObject body, bool required)
    {
        if (!JsonFields.TryStringMap(body, "config", out var config, out var error, ErrorCodes.InvalidProviderConfig))
        {
            return (null, error);
        }

        config ??= new Dictionary<string, string>(StringComparer.Ordinal);
        var unknown = config.Keys.FirstOrDefault(k => !rule.AllConfig.Contains(k));
        if (unknown is not null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig,
                rule.AllConfig.Any()
                    ? $"'config.{unknown}' is not a setting of '{rule.Provider}' (expected {string.Join(", ", rule.AllConfig)})."
                    : $"'{rule.Provider}' takes no config."));
        }

        if (required)
        {
            var missing = rule.RequiredConfig.FirstOrDefault(k => !config.TryGetValue(k, out var v) || string.IsNullOrWhiteSpace(v));
            if (missing is not null)
            {
                return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, $"'config.{missing}' is required for '{rule.Provider}'."));
            }
        }

        foreach (var field in rule.UrlConfig)
        {
            if (config.TryGetValue(field, out var url))
            {
                var urlError = ProviderCredentialRules.ValidateEndpoint(field, url, options.AllowPrivateEndpoints);
                if (urlError is not null)
                {
                    return (null, urlError);
                }
            }
        }

        return (config, null);
    }

    /// <summary>A hint to tell keys apart: at most the first 3 and last 4 characters of a long key, never the middle.</summary>
    private static string PreviewOf(ProviderCredentialRule rule, SecretBundle bundle)
    {
        var basis = rule.Shape switch
        {
            SecretShape.AwsKeys => bundle.Secrets.GetValueOrDefault("accessKeyId"),
            SecretShape.GoogleServiceAccount => bundle.Secrets.GetValueOrDefault("privateKeyId") ?? bundle.Secrets.GetValueOrDefault("clientEmail"),
            _ => bundle.ApiKey,
        } ?? string.Empty;

        if (rule.Shape == SecretShape.GoogleServiceAccount && basis.Contains('@', StringComparison.Ordinal))
        {
            return basis; // a service account's email is an identity, not a secret
        }

        return basis.Length >= 16 ? $"{basis[..3]}…{basis[^4..]}" : "…";
    }
}
