using Azure;
using Azure.Security.KeyVault.Secrets;
using KillToken.Core.Ports;

namespace KillToken.Storage.KeyVault;

/// <summary>
/// Tenant secrets in Azure Key Vault: one secret per credential (<c>kt-cred-…</c>), one Key Vault version per rotation.
/// Versions are immutable, so a credential record naming one keeps reading exactly the value it was saved with.
/// Values are never logged or put in exception messages; Key Vault's own errors name the secret, never its value.
/// </summary>
public sealed class KeyVaultSecretVault(SecretClient client) : ISecretVault, IHealthProbe
{
    /// <summary>A name that is never written: a 404 for it proves the vault answers and our identity may read.</summary>
    private const string ProbeName = "kt-health-probe";

    public async Task<string> SetAsync(string name, string value, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        var response = await client.SetSecretAsync(new KeyVaultSecret(name, value), cancellationToken);
        return response.Value.Properties.Version;
    }

    public async Task<string?> GetAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (string.IsNullOrEmpty(version))
        {
            // Key Vault would answer the latest version; the port asks for one exact version.
            return null;
        }

        try
        {
            var response = await client.GetSecretAsync(name, version, cancellationToken);
            return response.Value.Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    public async Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        try
        {
            // Soft delete: every version goes at once; the purge is left to the vault's retention, not awaited.
            await client.StartDeleteSecretAsync(name, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    public async Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await client.GetSecretAsync(ProbeName, cancellationToken: cancellationToken);
            return new HealthCheckResult("vault", true, "key vault");
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return new HealthCheckResult("vault", true, "key vault");
        }
        catch (RequestFailedException ex)
        {
            return new HealthCheckResult("vault", false, $"key vault status {ex.Status}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Credential or network failures: the type names the cause; messages may carry tenant details.
            return new HealthCheckResult("vault", false, $"key vault unreachable ({ex.GetType().Name})");
        }
    }
}
