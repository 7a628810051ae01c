using System.Collections.Concurrent;
using Azure;
using Azure.Security.KeyVault.Secrets;
using KillToken.Core.Ports;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Storage.KeyVault;

/// <summary>
/// Tenant secrets in Azure Key Vault: one secret per credential (<c>kt-cred-…</c>), one Key Vault version per rotation.
/// Versions are immutable, so a credential record naming one keeps reading exactly the value it was saved with.
/// Values are never logged or put in exception messages; Key Vault's own errors name the secret, never its value.
/// Because a version never changes, values are kept in memory by (name, version) — a bounded cache that spares the hot
/// path a Key Vault round trip (and its throttling limits) per provider call; a delete drops every version of the name.
/// </summary>
public sealed class KeyVaultSecretVault(SecretClient client) : ISecretVault, IHealthCheck
{
    /// <summary>A name that is never written: a 404 for it proves the vault answers and our identity may read.</summary>
    private const string ProbeName = "kt-health-probe";

    /// <summary>At most this many values are cached; past it the cache starts over (credentials per instance are few).</summary>
    internal const int MaxCachedValues = 1024;

    private readonly ConcurrentDictionary<(string Name, string Version), string> _values = new();

    /// <summary>How many values are cached now (for tests).</summary>
    internal int CachedCount => _values.Count;

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

        if (_values.TryGetValue((name, version), out var cached))
        {
            return cached;
        }

        try
        {
            var response = await client.GetSecretAsync(name, version, cancellationToken);
            Remember(name, version, response.Value.Value);
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
        Forget(name);
        try
        {
            // Soft delete: every version goes at once; the purge is left to the vault's retention, not awaited.
            await client.StartDeleteSecretAsync(name, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
        finally
        {
            // A read racing the delete may have cached a value again: drop it once more after the delete.
            Forget(name);
        }
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.GetSecretAsync(ProbeName, cancellationToken: cancellationToken);
            return HealthCheckResult.Healthy("key vault");
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return HealthCheckResult.Healthy("key vault");
        }
        catch (RequestFailedException ex)
        {
            return HealthCheckResult.Unhealthy($"key vault status {ex.Status}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Credential or network failures: the type names the cause; messages may carry tenant details.
            return HealthCheckResult.Unhealthy($"key vault unreachable ({ex.GetType().Name})");
        }
    }

    private void Remember(string name, string? version, string? value)
    {
        if (string.IsNullOrEmpty(version) || value is null)
        {
            return;
        }

        if (_values.Count >= MaxCachedValues)
        {
            // Crude but bounded: a full cache starts over; hot values come back on their next read.
            _values.Clear();
        }

        _values[(name, version)] = value;
    }

    private void Forget(string name)
    {
        foreach (var key in _values.Keys)
        {
            if (string.Equals(key.Name, name, StringComparison.Ordinal))
            {
                _values.TryRemove(key, out _);
            }
        }
    }
}
