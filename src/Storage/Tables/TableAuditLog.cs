using System.Buffers;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KillToken.Core.Ports;
using KillToken.Storage.Audit;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Tables;

/// <summary>
/// The audit log in Azure Table Storage (the Functions app's own storage account): one entity per event, partitioned by
/// workspace, with <see cref="AuditOrder.SortKey"/> as its row key, so a partition read in row-key order — the only order
/// the service has — is newest first, and a page is one range query from the cursor's key.
/// </summary>
internal sealed partial class TableAuditLog(TableServiceClient service, string tableName, ILogger<TableAuditLog> logger) : IAuditLog
{
    // The service's largest page.
    private const int MaxPerPage = 1000;

    // Keys are at most 1 KiB of UTF-16 (512 characters); ids are far shorter.
    private const int MaxKeyLength = 512;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // What Table Storage refuses in a PartitionKey or RowKey: / \ # ? and the control characters.
    private static readonly SearchValues<char> ForbiddenInKeys = SearchValues.Create(
        "/\\#?" + new string([.. Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0x7F, 0x21)).Select(c => (char)c)]));

    private readonly TableClient _table = service.GetTableClient(tableName);
    private readonly Lock _createGate = new();
    private Task? _create;

    public async Task AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        var rowKey = AuditOrder.SortKey(auditEvent);
        if (!IsTableKey(auditEvent.WorkspaceId) || !IsTableKey(rowKey))
        {
            throw new ArgumentException("The event's workspace id or id cannot be a Table Storage key.", nameof(auditEvent));
        }

        var entity = new TableEntity(auditEvent.WorkspaceId, rowKey)
        {
            ["Id"] = auditEvent.Id,
            ["Event"] = auditEvent.Event,
            ["ActorType"] = auditEvent.ActorType,
            ["ActorId"] = auditEvent.ActorId,
            ["At"] = auditEvent.At,
            ["Details"] = JsonSerializer.Serialize(auditEvent.Details, Json),
        };
        // An absent property reads back as null; an empty string stays an empty string.
        AddIfSet(entity, "Target", auditEvent.Target);
        AddIfSet(entity, "ClientAddress", auditEvent.ClientAddress);
        AddIfSet(entity, "Changes", auditEvent.Changes is null ? null : JsonSerializer.Serialize(auditEvent.Changes, Json));

        await EnsureTableAsync(cancellationToken);
        try
        {
            await _table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // The same event (same instant and id) was appended before: the log already holds it, and it is never rewritten.
        }
    }

    public async Task<AuditPage> ListAsync(string workspaceId, AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspaceId);
        ArgumentNullException.ThrowIfNull(query);
        var after = AuditOrder.After(query.Cursor);
        if (after is not null && !IsTableKey(after))
        {
            throw new InvalidCursorException();
        }

        var take = AuditOrder.Take(query);
        // The id comes from a URL: one no entity can be stored under has no events (and must not reach the service).
        if (!IsTableKey(workspaceId))
        {
            return new AuditPage([], null);
        }

        await EnsureTableAsync(cancellationToken);
        var events = new List<AuditEvent>(take);
        string? lastKey = null;
        // The service may end a page early with a continuation token; the enumeration follows it until take + 1 are read.
        await foreach (var entity in _table.QueryAsync<TableEntity>(Filter(workspaceId, after, query), Math.Min(take + 1, MaxPerPage), cancellationToken: cancellationToken))
        {
            if (events.Count == take)
            {
                return new AuditPage(events, AuditOrder.Cursor(lastKey!));
            }

            lastKey = entity.RowKey;
            events.Add(ToEvent(entity));
        }

        return new AuditPage(events, null);
    }

    private static string Filter(string workspaceId, string? after, AuditQuery query)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {workspaceId}");
        if (after is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"RowKey gt {after}");
        }

        if (query.Event is { } eventName)
        {
            filter += " and " + TableClient.CreateQueryFilter($"Event eq {eventName}");
        }

        if (query.ActorId is { } actorId)
        {
            filter += " and " + TableClient.CreateQueryFilter($"ActorId eq {actorId}");
        }

        return filter;
    }

    private static AuditEvent ToEvent(TableEntity entity) => new(
        Required(entity, "Id"),
        entity.PartitionKey,
        Required(entity, "Event"),
        Required(entity, "ActorType"),
        Required(entity, "ActorId"),
        entity.GetString("Target"),
        entity.GetDateTimeOffset("At") ?? throw Corrupt(entity, "At"),
        entity.GetString("ClientAddress"),
        JsonSerializer.Deserialize<Dictionary<string, string?>>(Required(entity, "Details"), Json) ?? throw Corrupt(entity, "Details"),
        entity.GetString("Changes") is { } changes ? JsonSerializer.Deserialize<Dictionary<string, AuditChange>>(changes, Json) : null);

    private static string Required(TableEntity entity, string name) => entity.GetString(name) ?? throw Corrupt(entity, name);

    private static InvalidOperationException Corrupt(TableEntity entity, string name) =>
        new($"Audit entity {entity.RowKey} in workspace {entity.PartitionKey} has no {name}.");

    private static void AddIfSet(TableEntity entity, string name, string? value)
    {
        if (value is not null)
        {
            entity[name] = value;
        }
    }

    private static bool IsTableKey(string value) => value.Length <= MaxKeyLength && value.AsSpan().IndexOfAny(ForbiddenInKeys) < 0;

    /// <summary>Creates the table on first use, once for all callers; a failed attempt is tried again by the next caller.</summary>
    private Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        Task create;
        lock (_createGate)
        {
            if (_create is null || _create.IsFaulted || _create.IsCanceled)
            {
                _create = CreateTableAsync();
            }

            create = _create;
        }

        return create.IsCompletedSuccessfully ? create : create.WaitAsync(cancellationToken);
    }

    private async Task CreateTableAsync()
    {
        // Shared by every caller, so no one caller's cancellation may abandon it.
        await _table.CreateIfNotExistsAsync(CancellationToken.None);
        LogTableReady(logger, tableName);
    }

    [LoggerMessage(EventId = 4311, Level = LogLevel.Information, Message = "Audit log table {Table} is ready (created if it was missing)")]
    private static partial void LogTableReady(ILogger logger, string table);
}
