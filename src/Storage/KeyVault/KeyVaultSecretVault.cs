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
        try
        {
            var response = await client.SetSecretAsync(new KeyVaultSecret(name, value), cancellationToken);
            return response.Value.Properties.Version;
        }
        catch (Exception ex) when (Unavailable(ex, cancellationToken) is { } unavailable)
        {
            throw unavailable;
        }
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
        catch (Exception ex) when (Unavailable(ex, cancellationToken) is { } unavailable)
        {
            throw unavailable;
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
        catch (Exception ex) when (Unavailable(ex, cancellationToken) is { } unavailable)
        {
            throw unavailable;
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

    /// <summary>
    /// Key Vault's client retries throttling (429, honouring Retry-After), 408, 5xx and cut connections on its own
    /// (<see cref="ConfigureForRequestPath"/>); what still fails after that is <see cref="VaultUnavailableException"/>,
    /// a 503 <c>vault_unavailable</c> for the caller. Other failures (403, 400…) stay what they are.
    /// </summary>
    private static VaultUnavailableException? Unavailable(Exception ex, CancellationToken cancellationToken)
    {
        switch (ex)
        {
            case RequestFailedException { Status: 0 or 408 or 429 or 500 or 502 or 503 or 504 } failed:
                return new VaultUnavailableException($"Key Vault answered {failed.Status}.", RetryAfterOf(failed), ex);
            case AggregateException aggregate when aggregate.InnerExceptions.All(inner => Unavailable(inner, cancellationToken) is not null):
                // Every retry ended in an exception (cut connections, network timeouts): the client gives them all at once.
                return new VaultUnavailableException("Key Vault could not be reached.", null, ex);
            case HttpRequestException or IOException:
                return new VaultUnavailableException("Key Vault could not be reached.", null, ex);
            case OperationCanceledException when !cancellationToken.IsCancellationRequested:
                // The client's network timeout, not the caller's cancellation.
                return new VaultUnavailableException("Key Vault did not answer in time.", null, ex);
            default:
                return null;
        }
    }

    private static TimeSpan? RetryAfterOf(RequestFailedException failed)
    {
        var response = failed.GetRawResponse();
        if (response is null)
        {
            return null;
        }

        if (response.Headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var millis))
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        return response.Headers.TryGetValue("Retry-After", out var seconds) && int.TryParse(seconds, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var s)
            ? TimeSpan.FromSeconds(s)
            : null;
    }

    /// <summary>
    /// Retries fit for the request path: three, from 200 ms up to 2 s apart (Retry-After honoured), each try at most 10 s
    /// — a vault that stays down answers the caller <c>503 vault_unavailable</c> within seconds, not minutes.
    /// </summary>
    public static SecretClientOptions ConfigureForRequestPath(SecretClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Retry.Mode = Azure.Core.RetryMode.Exponential;
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        return options;
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
