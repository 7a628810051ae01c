using KillToken.Core.Ports;
using KillToken.Storage.Audit;
using Microsoft.Azure.Cosmos;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// The audit log on Cosmos DB: one document per event in the workspace's partition, with a key that sorts newest first
/// (<see cref="AuditOrder.SortKey"/>); its id is the event's own (<c>aud_…</c>), read by one single-partition ordered query.
/// </summary>
internal sealed class CosmosAuditLog(CosmosStoreContext db) : IAuditLog
{
    private const string Type = "audit";

    public async Task AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        CosmosWorkspaceStore.RequirePlain(auditEvent.Id);
        await db.EnsureReadyAsync(cancellationToken);
        using var document = CosmosStoreContext.Document(auditEvent, Type, id: null, ("sortKey", AuditOrder.SortKey(auditEvent)));
        await CosmosStoreContext.UpsertAsync(db.Workspaces, document, auditEvent.WorkspaceId, cancellationToken);
    }

    // Replaced by the Table Storage audit log (issue 15); kept compiling until then.
    public async Task<AuditPage> ListAsync(string workspaceId, AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await db.EnsureReadyAsync(cancellationToken);
        var take = AuditOrder.Take(query);
        var q = new QueryDefinition($"SELECT TOP {take} * FROM c WHERE c.workspaceId = @ws AND c.type = @type ORDER BY c.sortKey")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", Type);
        return new AuditPage(await CosmosStoreContext.QueryAsync<AuditEvent>(db.Workspaces, q, workspaceId, take, cancellationToken), null);
    }
}
