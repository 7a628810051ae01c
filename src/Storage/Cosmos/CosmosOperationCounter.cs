using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Azure.Cosmos;

namespace KillToken.Storage.Cosmos;

/// <summary>One store operation as the Cosmos DB client sent it (before its own retries).</summary>
/// <param name="Operation">read, create, upsert, replace, delete, patch, query, query-plan, batch, or the HTTP method for anything else.</param>
/// <param name="Resource">The resource path's shape: <c>lookups/docs/{id}</c>, <c>traces/docs</c>, <c>dbs/{db}/colls/{coll}</c>…</param>
/// <param name="RequestBytes">The request body's length (the document, for a create, upsert or replace); 0 without one.</param>
/// <param name="ResponseBytes">The response body's length (the document, for a point read); -1 when unknown.</param>
/// <param name="ItemCount">Documents a query page returned (<c>x-ms-item-count</c>); 0 for anything else.</param>
public sealed record CosmosOperation(string Operation, string Resource, int StatusCode, double RequestCharge, TimeSpan Duration,
    long RequestBytes = 0, long ResponseBytes = -1, int ItemCount = 0)
{
    /// <summary><c>read lookups/docs/{id}</c>: what the counter groups by.</summary>
    public string Key => Operation + " " + Resource;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Key} -> {StatusCode} ({RequestCharge:0.##} RU, {Duration.TotalMilliseconds:0.0} ms, {RequestBytes} B sent, {ResponseBytes} B received)");
}

/// <summary>
/// Counts what the Cosmos DB store asks of the database, by operation and resource shape, with the request charge
/// the service reported. Register it in DI (or set <see cref="CosmosStoreOptions.CountOperations"/>) and the store's
/// client counts through a request handler; ids and partition key values are never kept.
/// </summary>
public sealed class CosmosOperationCounter
{
    private const int MaxRecent = 10_000;
    private readonly ConcurrentQueue<CosmosOperation> _recent = new();
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private long _requestChargeMilli;
    private int _total;

    /// <summary>Operations since the last <see cref="Reset"/> (the most recent 10,000), in the order they finished.</summary>
    public IReadOnlyList<CosmosOperation> Operations => [.. _recent];

    /// <summary>How many operations of each <see cref="CosmosOperation.Key"/> since the last <see cref="Reset"/>.</summary>
    public IReadOnlyDictionary<string, int> Counts => new SortedDictionary<string, int>(_counts, StringComparer.Ordinal);

    public int Total => Volatile.Read(ref _total);

    /// <summary>Sum of the request charges (RU) the service reported.</summary>
    public double RequestCharge => Interlocked.Read(ref _requestChargeMilli) / 1000.0;

    public void Reset()
    {
        _counts.Clear();
        _recent.Clear();
        Interlocked.Exchange(ref _requestChargeMilli, 0);
        Interlocked.Exchange(ref _total, 0);
    }

    public void Record(CosmosOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        _counts.AddOrUpdate(operation.Key, 1, (_, n) => n + 1);
        Interlocked.Add(ref _requestChargeMilli, (long)Math.Round(operation.RequestCharge * 1000));
        Interlocked.Increment(ref _total);
        _recent.Enqueue(operation);
        while (_recent.Count > MaxRecent && _recent.TryDequeue(out _))
        {
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Total} Cosmos DB operations, {RequestCharge:0.##} RU");
        foreach (var (key, count) in Counts)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {count} x {key}");
        }

        return text.ToString();
    }

    /// <summary>Names a request by method, headers and path shape, without ids or partition key values.</summary>
    internal static (string Operation, string Resource) Describe(string method, string? path, Func<string, string?> header)
    {
        var segments = (path ?? string.Empty).Split('/', StringSplitOptions.RemoveEmptyEntries);
        var inContainer = segments.Length >= 4 && segments[0] == "dbs" && segments[2] == "colls";
        var isItem = inContainer && segments.Length == 6 && segments[4] == "docs";
        // Item creates, upserts, queries and batches are POSTs to the container's own address.
        var isItems = inContainer && ((segments.Length == 5 && segments[4] == "docs") || (segments.Length == 4 && method.Equals("POST", StringComparison.OrdinalIgnoreCase)));
        string resource;
        if (isItem || isItems)
        {
            resource = segments[3] + (isItem ? "/docs/{id}" : "/docs");
        }
        else
        {
            var shape = new StringBuilder();
            for (var i = 0; i < segments.Length; i++)
            {
                shape.Append(i == 0 ? string.Empty : "/").Append(i % 2 == 0 ? segments[i] : Placeholder(segments[i - 1]));
            }

            resource = shape.Length == 0 ? "/" : shape.ToString();
        }

        static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

        var operation = (method.ToUpperInvariant(), isItem, isItems) switch
        {
            ("GET", true, _) => "read",
            ("PUT", true, _) => "replace",
            ("DELETE", true, _) => "delete",
            ("PATCH", true, _) => "patch",
            ("POST", _, true) when IsTrue(header("x-ms-cosmos-is-query-plan-request")) => "query-plan",
            ("POST", _, true) when IsTrue(header("x-ms-documentdb-isquery"))
                || (header("Content-Type")?.StartsWith("application/query+json", StringComparison.OrdinalIgnoreCase) ?? false) => "query",
            ("POST", _, true) when IsTrue(header("x-ms-documentdb-is-upsert")) => "upsert",
            ("POST", _, true) when IsTrue(header("x-ms-cosmos-is-batch-request")) => "batch",
            ("POST", _, true) => "create",
            ("GET", _, true) => "read-feed",
            _ => method.ToUpperInvariant(),
        };
        return (operation, resource);
    }

    private static string Placeholder(string kind) => kind switch
    {
        "dbs" => "{db}",
        "colls" => "{coll}",
        "docs" => "{id}",
        "pkranges" => "{range}",
        _ => "{" + kind + "}",
    };
}

/// <summary>The client-side hook: sits in <see cref="CosmosClientOptions.CustomHandlers"/>, so it sees each operation once.</summary>
internal sealed class CosmosCountingHandler(CosmosOperationCounter counter) : RequestHandler
{
    public override async Task<ResponseMessage> SendAsync(RequestMessage request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var response = await base.SendAsync(request, cancellationToken);
        var uri = request.RequestUri;
        var path = uri is null ? null : uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString;
        var (operation, resource) = CosmosOperationCounter.Describe(request.Method.Method, path, name => request.Headers[name]);
        // Sizes, so a test can price each operation with the published per-size costs (the emulator charges 1 RU for anything).
        var sent = request.Content is { CanSeek: true } body ? body.Length : 0;
        var received = response.Content is { CanSeek: true } content ? content.Length : -1;
        var items = int.TryParse(response.Headers["x-ms-item-count"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) ? count : 0;
        counter.Record(new CosmosOperation(operation, resource, (int)response.StatusCode, response.Headers.RequestCharge, Stopwatch.GetElapsedTime(started),
            sent, received, items));
        return response;
    }
}
