using System.Text.Json;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Providers;

namespace KillToken.Core.Credentials;

/// <summary>The secret half of a credential as stored in the vault: one JSON bundle per version.</summary>
public sealed class SecretBundle
{
    public string? ApiKey { get; init; }
    public Dictionary<string, string> Secrets { get; init; } = new(StringComparer.Ordinal);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Serialize() => JsonSerializer.Serialize(this, Json);

    public static SecretBundle Deserialize(string json) => JsonSerializer.Deserialize<SecretBundle>(json, Json) ?? new SecretBundle();

    public override string ToString() => "secret bundle (redacted)";
}

/// <summary>Finds the workspace's active credential for a provider and opens its secret (§3 step 2).</summary>
public sealed class CredentialResolver(ICredentialStore credentials, ISecretVault vault)
{
    public async Task<(ResolvedCredential? Credential, GatewayError? Error)> ResolveAsync(
        string workspaceId, ProviderId provider, CancellationToken cancellationToken = default)
    {
        var all = await credentials.ListAsync(workspaceId, cancellationToken);
        var record = all
            .Where(c => c.Provider == provider.Value && c.Status == CredentialStatus.Active)
            .OrderByDescending(c => c.UpdatedAt)
            .FirstOrDefault();
        if (record is null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ProviderCredentialRequired,
                $"This workspace has no active '{provider}' credential. Add one in the dashboard session API (POST /api/workspaces/{workspaceId}/provider-credentials), or with POST /v1/provider-credentials using a project key that has the 'credentials:write' scope; KillToken never falls back to platform keys."));
        }

        return (await OpenAsync(record, cancellationToken), null);
    }

    public async Task<ResolvedCredential?> OpenAsync(CredentialRecord record, CancellationToken cancellationToken = default)
    {
        var json = await vault.GetAsync(record.SecretName, record.SecretVersion, cancellationToken);
        if (json is null)
        {
            return null;
        }

        var bundle = SecretBundle.Deserialize(json);
        return new ResolvedCredential(record.Id, new ProviderId(record.Provider), bundle.ApiKey, bundle.Secrets, record.Config);
    }
}
