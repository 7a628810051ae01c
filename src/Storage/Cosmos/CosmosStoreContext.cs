using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// The store's one <see cref="CosmosClient"/> and its three containers, plus the document plumbing every store shares.
/// Documents go through the stream API with the same System.Text.Json options as the SQLite store, so a record's JSON
/// is the same in both; a miss is a 404 status, not an exception.
/// </summary>
internal sealed partial class CosmosStoreContext : IDisposable
{
    /// <summary>The SQLite store's JSON: web defaults (camelCase).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly CosmosStoreOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _initGate = new();
    private Task? _init;

    public CosmosStoreContext(CosmosStoreOptions options, CosmosOperationCounter? counter, ILogger<CosmosStoreContext> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger;
        var endpoint = options.ResolveEndpoint()!;
        var emulator = options.AcceptLocalEmulatorCertificate;
        var clientOptions = new CosmosClientOptions
        {
            ApplicationName = "killtoken",
            UseSystemTextJsonSerializerWithOptions = Json,
            // Writes only need the status and etag; skipping the echoed body saves bandwidth (not RU).
            EnableContentResponseOnWrite = false,
            ConnectionMode = emulator ? ConnectionMode.Gateway : ConnectionMode.Direct,
            // On the request path a throttled call waits a few seconds at most, then answers 503 store_unavailable
            // with Retry-After: the SDK's 30 s default would hold the caller (and its reservation) far too long.
            MaxRetryAttemptsOnRateLimitedRequests = 9,
            MaxRetryWaitTimeOnRateLimitedRequests = options.RateLimitedRetryWait,
        };
        // First, so it wraps everything else: what is still failing after the retries leaves as StoreUnavailableException.
        clientOptions.CustomHandlers.Add(new CosmosTransientFaults(logger));
        if (emulator)
        {
            // TEST/EMULATOR ONLY (validated loopback above): self-signed certificate, and never follow the
            // account's advertised addresses away from the loopback endpoint.
            clientOptions.LimitToEndpoint = true;
            clientOptions.ServerCertificateCustomValidationCallback = (_, _, _) => true;
        }

        if (counter is not null)
        {
            clientOptions.CustomHandlers.Add(new CosmosCountingHandler(counter));
        }

        options.ConfigureClient?.Invoke(clientOptions);
        Client = options.ConnectionString is not null
            ? new CosmosClient(options.ConnectionString, clientOptions)
            : new CosmosClient(endpoint.AbsoluteUri, options.Credential!, clientOptions);
        Workspaces = Client.GetContainer(options.DatabaseName, options.WorkspacesContainer);
        Lookups = Client.GetContainer(options.DatabaseName, options.LookupsContainer);
        Traces = Client.GetContainer(options.DatabaseName, options.TracesContainer);
    }

    public CosmosClient Client { get; }

    /// <summary>Tenant documents, partitioned by <c>/workspaceId</c>, told apart by <c>type</c>.</summary>
    public Container Workspaces { get; }

    /// <summary>Global unique keys (<c>/id</c>): email, user, memberships, project and key-hash pointers.</summary>
    public Container Lookups { get; }

    /// <summary>Request traces, partitioned by <c>/workspaceId</c>, expiring by the container's default TTL.</summary>
    public Container Traces { get; }

    public void Dispose() => Client.Dispose();

    /// <summary>Creates the database and containers once, when allowed (emulator); a no-op in Azure.</summary>
    public Task EnsureReadyAsync(CancellationToken cancellationToken)
    {
        if (!(_options.CreateIfNotExists ?? _options.ConnectionString is not null))
        {
            return Task.CompletedTask;
        }

        Task init;
        lock (_initGate)
        {
            if (_init is null || _init.IsFaulted || _init.IsCanceled)
            {
                _init = CreateIfNotExistsAsync();
            }

            init = _init;
        }

        return init.IsCompletedSuccessfully ? init : init.WaitAsync(cancellationToken);
    }

    private async Task CreateIfNotExistsAsync()
    {
        // Shared by every caller, so no one caller's cancellation may abandon it.
        var database = (await Client.CreateDatabaseIfNotExistsAsync(_options.DatabaseName, cancellationToken: CancellationToken.None)).Database;
        await database.CreateContainerIfNotExistsAsync(
            new ContainerProperties(_options.WorkspacesContainer, "/workspaceId") { DefaultTimeToLive = -1, IndexingPolicy = CosmosIndexing.Policy(CosmosIndexing.Workspaces) },
            cancellationToken: CancellationToken.None);
        await database.CreateContainerIfNotExistsAsync(
            new ContainerProperties(_options.LookupsContainer, "/id") { DefaultTimeToLive = -1, IndexingPolicy = CosmosIndexing.Policy(CosmosIndexing.Lookups) },
            cancellationToken: CancellationToken.None);
        await database.CreateContainerIfNotExistsAsync(
            new ContainerProperties(_options.TracesContainer, "/workspaceId") { DefaultTimeToLive = -1, IndexingPolicy = CosmosIndexing.Policy(CosmosIndexing.Traces) },
            cancellationToken: CancellationToken.None);

        LogContainersReady(_logger, _options.DatabaseName);
    }

    // ---- Documents ------------------------------------------------------------------------------------------

    /// <summary>A record's JSON with <c>id</c> (when given, replacing the record's own), <c>type</c> and extra string fields first.</summary>
    public static MemoryStream Document<T>(T record, string type, string? id = null, params ReadOnlySpan<(string Name, string Value)> extra)
    {
        var element = JsonSerializer.SerializeToElement(record, Json);
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            if (id is not null)
            {
                writer.WriteString("id", id);
            }

            writer.WriteString("type", type);
            foreach (var (name, value) in extra)
            {
                writer.WriteString(name, value);
            }

            foreach (var property in element.EnumerateObject())
            {
                if ((id is not null && property.NameEquals("id")) || property.NameEquals("type"))
                {
                    continue;
                }

                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        stream.Position = 0;
        return stream;
    }

    /// <summary>A lookup document: <c>{ id, type, value }</c>, like a row of the SQLite <c>lookups</c> table.</summary>
    public static MemoryStream Lookup<T>(string id, string type, T value)
    {
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", type);
            writer.WritePropertyName("value");
            JsonSerializer.Serialize(writer, value, Json);
            writer.WriteEndObject();
        }

        stream.Position = 0;
        return stream;
    }

    /// <summary>Point read of a typed document; null when missing or of another type.</summary>
    public static async Task<T?> ReadAsync<T>(Container container, string id, string partitionKey, string type, CancellationToken cancellationToken)
        where T : class
    {
        var (document, _) = await ReadDocumentAsync(container, id, partitionKey, cancellationToken);
        using (document)
        {
            return document is not null && IsType(document.RootElement, type) ? document.RootElement.Deserialize<T>(Json) : null;
        }
    }

    /// <summary>Point read of a typed document with its etag for a conditional replace; nulls when missing or of another type.</summary>
    public async Task<(T? Value, string? ETag)> ReadWithETagAsync<T>(Container container, string id, string partitionKey, string type, CancellationToken cancellationToken)
        where T : class
    {
        var (document, etag) = await ReadDocumentAsync(container, id, partitionKey, cancellationToken);
        using (document)
        {
            return document is not null && IsType(document.RootElement, type) ? (document.RootElement.Deserialize<T>(Json), etag) : (null, null);
        }
    }

    /// <summary>Point read of a lookup's value, with the document's etag for a conditional replace.</summary>
    public async Task<(T? Value, string? ETag)> ReadLookupAsync<T>(string id, string type, CancellationToken cancellationToken)
    {
        var (document, etag) = await ReadDocumentAsync(Lookups, id, id, cancellationToken);
        using (document)
        {
            if (document is null || !IsType(document.RootElement, type) || !document.RootElement.TryGetProperty("value", out var value))
            {
                return (default, null);
            }

            return (value.Deserialize<T>(Json), etag);
        }
    }

    private static async Task<(JsonDocument? Document, string? ETag)> ReadDocumentAsync(Container container, string id, string partitionKey, CancellationToken cancellationToken)
    {
        using var response = await container.ReadItemStreamAsync(id, new PartitionKey(partitionKey), cancellationToken: cancellationToken);
        if (IsMissingItem(response))
        {
            return (null, null);
        }

        response.EnsureSuccessStatusCode();
        return (await JsonDocument.ParseAsync(response.Content, cancellationToken: cancellationToken), response.Headers.ETag);
    }

    /// <summary>
    /// A 404 for the item itself. A missing database or container (sub-status 1003) is not "no such item" but a
    /// deployment fault, and must fail loudly rather than read as an unknown key.
    /// </summary>
    public static bool IsMissingItem(ResponseMessage response) =>
        response.StatusCode == HttpStatusCode.NotFound && response.Headers["x-ms-substatus"] is null or "" or "0";

    private static bool IsType(JsonElement root, string type) =>
        root.TryGetProperty("type", out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);

    public static async Task UpsertAsync(Container container, Stream document, string partitionKey, CancellationToken cancellationToken)
    {
        using var response = await container.UpsertItemStreamAsync(document, new PartitionKey(partitionKey), cancellationToken: cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Creates the document; false when its id is taken (409).</summary>
    public static async Task<bool> TryCreateAsync(Container container, Stream document, string partitionKey, CancellationToken cancellationToken)
    {
        using var response = await container.CreateItemStreamAsync(document, new PartitionKey(partitionKey), cancellationToken: cancellationToken);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>Replaces the document if it still has <paramref name="etag"/>; false when it changed meanwhile (412) or vanished (404).</summary>
    public static async Task<bool> TryReplaceAsync(Container container, string id, Stream document, string partitionKey, string etag, CancellationToken cancellationToken)
    {
        using var response = await container.ReplaceItemStreamAsync(
            document, id, new PartitionKey(partitionKey), new ItemRequestOptions { IfMatchEtag = etag }, cancellationToken);
        if (response.StatusCode == HttpStatusCode.PreconditionFailed || IsMissingItem(response))
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>Deletes the document; false when there was none.</summary>
    public static async Task<bool> DeleteAsync(Container container, string id, string partitionKey, CancellationToken cancellationToken)
    {
        using var response = await container.DeleteItemStreamAsync(id, new PartitionKey(partitionKey), cancellationToken: cancellationToken);
        if (IsMissingItem(response))
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>A query inside one partition, read until <paramref name="maxResults"/> documents or the end.</summary>
    public static async Task<List<T>> QueryAsync<T>(Container container, QueryDefinition query, string partitionKey, int maxResults, CancellationToken cancellationToken)
    {
        var options = new QueryRequestOptions { PartitionKey = new PartitionKey(partitionKey), MaxItemCount = Math.Min(maxResults, 1000) };
        var results = new List<T>();
        using var iterator = container.GetItemQueryStreamIterator(query, continuationToken: null, options);
        while (iterator.HasMoreResults && results.Count < maxResults)
        {
            using var page = await iterator.ReadNextAsync(cancellationToken);
            page.EnsureSuccessStatusCode();
            using var body = await JsonDocument.ParseAsync(page.Content, cancellationToken: cancellationToken);
            foreach (var item in body.RootElement.GetProperty("Documents").EnumerateArray())
            {
                results.Add(item.Deserialize<T>(Json)!);
            }
        }

        return results;
    }

    /// <summary>A query over every partition, read <paramref name="pageSize"/> documents at a time as the caller iterates.</summary>
    public static async IAsyncEnumerable<T> QueryAcrossPartitionsAsync<T>(Container container, QueryDefinition query, int pageSize,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new QueryRequestOptions { MaxItemCount = pageSize };
        using var iterator = container.GetItemQueryStreamIterator(query, continuationToken: null, options);
        while (iterator.HasMoreResults)
        {
            var items = new List<T>();
            using (var page = await iterator.ReadNextAsync(cancellationToken))
            {
                page.EnsureSuccessStatusCode();
                using var body = await JsonDocument.ParseAsync(page.Content, cancellationToken: cancellationToken);
                foreach (var item in body.RootElement.GetProperty("Documents").EnumerateArray())
                {
                    items.Add(item.Deserialize<T>(Json)!);
                }
            }

            foreach (var item in items)
            {
                yield return item;
            }
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Cosmos DB database {Database} and its containers are ready (created where missing)")]
    private static partial void LogContainersReady(ILogger logger, string database);
}

/// <summary>
/// Document ids. Cosmos DB forbids '/', '\', '?' and '#' in ids, and ids travel in request paths; KillToken's own ids
/// (<c>prj_…</c>, hex hashes) are plain, but emails and ids from request paths may not be.
/// </summary>
internal static class CosmosIds
{
    private const int MaxPlainLength = 200;

    /// <summary>Safe to use as a document id as it is: [A-Za-z0-9] first, then [A-Za-z0-9._:@-], at most 200 characters.</summary>
    public static bool IsPlain(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxPlainLength || !char.IsAsciiLetterOrDigit(value[0]))
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '@' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// <c>prefix:part</c> with the part as it is when plain, else <c>~</c> + base64url(SHA-256(part)): fixed length, no
    /// forbidden characters, and never equal to a plain part (which cannot contain '~').
    /// </summary>
    public static string Key(string prefix, string part) => prefix + ":" + (IsPlain(part) ? part : Hashed(part));

    /// <summary><c>prefix:~hash</c> whatever the part: for personal data (emails) that should not sit in ids, URLs and diagnostics.</summary>
    public static string HashedKey(string prefix, string part) => prefix + ":" + Hashed(part);

    private static string Hashed(string part) => "~" + Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(part)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// What each container indexes: only the properties the store's queries filter or order on (<c>/*</c> excluded).
/// A write is charged for every path it indexes, so the numbers, budget days, trace payloads and cached answers that no
/// query reads are left out. infra/app/cosmos.bicep declares the same paths for Azure; a new query that filters on
/// another property must add it in both places (a filter on an unindexed path scans the partition; an ORDER BY fails).
/// </summary>
internal static class CosmosIndexing
{
    /// <summary>Tenant documents: by type (members, projects, credentials, invites, workspaces), rollup rows by day and dimension, budget months.</summary>
    public static readonly string[] Workspaces = ["/workspaceId/?", "/type/?", "/status/?", "/day/?", "/dimension/?", "/month/?", "/projectId/?"];

    /// <summary>Lookups are only ever point-read.</summary>
    public static readonly string[] Lookups = [];

    /// <summary>Traces: the list's filters and its <c>orderKey</c> order (also the day's range for reconciliation).</summary>
    public static readonly string[] Traces =
        ["/workspaceId/?", "/type/?", "/orderKey/?", "/provider/?", "/finalProvider/?", "/finalModel/?", "/optimizationMode/?", "/cacheStatus/?", "/feature/?", "/projectId/?"];

    public static IndexingPolicy Policy(IEnumerable<string> includedPaths)
    {
        var policy = new IndexingPolicy { IndexingMode = IndexingMode.Consistent, Automatic = true };
        foreach (var path in includedPaths)
        {
            policy.IncludedPaths.Add(new IncludedPath { Path = path });
        }

        policy.ExcludedPaths.Add(new ExcludedPath { Path = "/*" });
        return policy;
    }
}
