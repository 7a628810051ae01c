namespace KillToken.Client;

/// <summary>
/// A project key (<c>kt_live_…</c>) that can be replaced while clients use it: a regenerated key stops the old one at
/// once, so <see cref="Update"/> lets a long-lived client carry on without being rebuilt. Read on every request.
/// Never shown by <see cref="ToString"/>.
/// </summary>
public sealed class KillTokenKeyCredential
{
    private volatile string _key;

    /// <summary>A credential holding <paramref name="key"/>.</summary>
    public KillTokenKeyCredential(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        _key = key;
    }

    /// <summary>The key sent with the next request.</summary>
    internal string Key => _key;

    /// <summary>Replaces the key; requests that start after this call use the new one.</summary>
    public void Update(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        _key = key;
    }

    /// <summary>The type's name only — never the key.</summary>
    public override string ToString() => nameof(KillTokenKeyCredential);
}
