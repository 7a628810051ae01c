using System.Data.Common;
using System.Net;
using Azure.Core;
using Microsoft.Azure.Cosmos;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// Where the Cosmos DB store lives and how to reach it: an account endpoint with an Entra ID credential (Azure, keys
/// disabled), or a connection string (a local emulator). Containers are provisioned by infra/app/cosmos.bicep.
/// </summary>
public sealed class CosmosStoreOptions
{
    /// <summary>The account endpoint, used with <see cref="Credential"/>. Ignored when <see cref="ConnectionString"/> is set.</summary>
    public Uri? AccountEndpoint { get; init; }

    /// <summary>The Entra ID credential for <see cref="AccountEndpoint"/> (managed identity in Azure).</summary>
    public TokenCredential? Credential { get; init; }

    /// <summary><c>AccountEndpoint=…;AccountKey=…;</c>: key authentication, for an emulator. Never logged.</summary>
    public string? ConnectionString { get; init; }

    public string DatabaseName { get; init; } = "killtoken";
    public string WorkspacesContainer { get; init; } = "workspaces";
    public string LookupsContainer { get; init; } = "lookups";
    public string TracesContainer { get; init; } = "traces";

    /// <summary>
    /// Creates the database and containers when missing. Null (the default) means "only with a connection string":
    /// in Azure the data-plane role cannot create them, infra does.
    /// </summary>
    public bool? CreateIfNotExists { get; init; }

    /// <summary>
    /// TEST/EMULATOR ONLY: accept the emulator's self-signed TLS certificate and talk to it in gateway mode. Refused
    /// unless the endpoint is a loopback address (127.0.0.1, ::1, localhost).
    /// </summary>
    public bool AcceptLocalEmulatorCertificate { get; init; }

    /// <summary>
    /// How often the counters summed in memory (rollup rows, spend that holds no reservation) are written: one patch per
    /// document per interval, however many calls it summed. Also the most a crash can lose until the daily reconciliation
    /// rebuilds the day from its traces, and how far behind other instances' calls a report on this one can be.
    /// </summary>
    public TimeSpan CounterFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest the client waits, in all, on 429s (honouring <c>x-ms-retry-after-ms</c>) before a request fails with
    /// <c>503 store_unavailable</c>. Short, because a caller (and the budget it holds) waits meanwhile.
    /// </summary>
    public TimeSpan RateLimitedRetryWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Counts every store operation in a <see cref="CosmosOperationCounter"/> registered in DI.</summary>
    public bool CountOperations { get; init; }

    /// <summary>Last word on the client options (regions, timeouts…), applied after KillToken's own settings.</summary>
    public Action<CosmosClientOptions>? ConfigureClient { get; init; }

    /// <summary>The endpoint the options point at: <see cref="AccountEndpoint"/>, or the one inside the connection string.</summary>
    public Uri? ResolveEndpoint() => ConnectionString is null ? AccountEndpoint : EndpointOf(ConnectionString);

    /// <summary>The <c>AccountEndpoint</c> of a Cosmos DB connection string, or null when it has none.</summary>
    public static Uri? EndpointOf(string connectionString)
    {
        var builder = new DbConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException)
        {
            // The message would quote the connection string, key included; say only that it is malformed.
            throw new InvalidOperationException("The Cosmos DB connection string is malformed.");
        }

        return builder.TryGetValue("AccountEndpoint", out var value) && Uri.TryCreate(value?.ToString(), UriKind.Absolute, out var uri) ? uri : null;
    }

    /// <summary>True when the connection string points at this machine (an emulator), never at Azure.</summary>
    public static bool IsLocalEmulator(string connectionString) => EndpointOf(connectionString) is { } endpoint && IsLoopback(endpoint);

    internal static bool IsLoopback(Uri endpoint) =>
        endpoint.IsLoopback
        || string.Equals(endpoint.Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabaseName))
        {
            throw new InvalidOperationException("The Cosmos DB database name is required.");
        }

        if (ConnectionString is null && (AccountEndpoint is null || Credential is null))
        {
            throw new InvalidOperationException("The Cosmos DB store needs an account endpoint with a credential, or a connection string.");
        }

        if (ResolveEndpoint() is null)
        {
            throw new InvalidOperationException("The Cosmos DB connection string has no valid AccountEndpoint.");
        }

        if (CounterFlushInterval <= TimeSpan.Zero || CounterFlushInterval > TimeSpan.FromMinutes(5))
        {
            throw new InvalidOperationException("The Cosmos DB counter flush interval must be between 0 and 5 minutes.");
        }

        if (RateLimitedRetryWait < TimeSpan.Zero || RateLimitedRetryWait > TimeSpan.FromMinutes(1))
        {
            throw new InvalidOperationException("The Cosmos DB rate-limited retry wait must be between 0 and 1 minute.");
        }

        if (AcceptLocalEmulatorCertificate && !IsLoopback(ResolveEndpoint()!))
        {
            throw new InvalidOperationException("Certificate checks may only be relaxed for a local emulator (127.0.0.1, ::1 or localhost).");
        }
    }
}
