namespace KillToken.Core.Ports;

/// <summary>
/// The store or the vault could not answer for now (throttled, unavailable, timed out, unreachable) after the retries
/// its client makes on its own. The request path answers <c>503</c> with the contract's code and a <c>Retry-After</c>
/// instead of a 500, and calls no provider whose cost it could not record. Thrown by the storage adapters, which
/// translate their SDKs' transient failures into it; Core never sees an SDK's exception types.
/// </summary>
public abstract class DependencyUnavailableException : Exception
{
    protected DependencyUnavailableException(string message, TimeSpan? retryAfter, Exception? innerException)
        : base(message, innerException)
    {
        RetryAfter = retryAfter;
    }

    /// <summary>How long the dependency asked to be left alone (a throttle's retry-after), when it said.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>
    /// True when the failed operation was a write that may have been applied although its answer was lost (a cut
    /// connection, a timeout): repeating it blindly could apply it twice.
    /// </summary>
    public bool OutcomeUnknown { get; init; }

    /// <summary>The contract's error code (<c>store_unavailable</c>, <c>vault_unavailable</c>).</summary>
    public abstract string Code { get; }
}

/// <summary>The store (Cosmos DB, SQLite) could not answer for now. <see cref="ITraceStore.AppendAsync"/> throws it only when the whole append may be tried again.</summary>
public sealed class StoreUnavailableException : DependencyUnavailableException
{
    public StoreUnavailableException(string message, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, retryAfter, innerException)
    {
    }

    public StoreUnavailableException()
        : this("The store is unavailable.")
    {
    }

    public StoreUnavailableException(string message)
        : this(message, null, null)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : this(message, null, innerException)
    {
    }

    public override string Code => Gateway.ErrorCodes.StoreUnavailable;
}

/// <summary>The secret vault (Key Vault) could not answer for now.</summary>
public sealed class VaultUnavailableException : DependencyUnavailableException
{
    public VaultUnavailableException(string message, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, retryAfter, innerException)
    {
    }

    public VaultUnavailableException()
        : this("The vault is unavailable.")
    {
    }

    public VaultUnavailableException(string message)
        : this(message, null, null)
    {
    }

    public VaultUnavailableException(string message, Exception innerException)
        : this(message, null, innerException)
    {
    }

    public override string Code => Gateway.ErrorCodes.VaultUnavailable;
}
