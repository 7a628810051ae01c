namespace KillToken.Core.Ports;

/// <summary>
/// Where tenant provider secrets live: Key Vault in Azure, an AES-256-GCM envelope store locally.
/// Records elsewhere keep only the secret's name and version.
/// </summary>
public interface ISecretVault
{
    /// <summary>Stores a new version of the named secret and returns that version's id.</summary>
    Task<string> SetAsync(string name, string value, CancellationToken cancellationToken = default);

    /// <summary>The value of one version, or null when it does not exist.</summary>
    Task<string?> GetAsync(string name, string version, CancellationToken cancellationToken = default);

    /// <summary>Removes every version of the secret.</summary>
    Task DeleteAsync(string name, CancellationToken cancellationToken = default);
}
