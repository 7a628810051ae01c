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

    public async Task<IReadOnlyList<AuditEvent>> ListAsync(string workspaceId, int limit, CancellationToken cancellationToken = default)
    {
        await db.EnsureReadyAsync(cancellationToken);
        var take = Math.Clamp(limit, 1, 1000);
        var query = new QueryDefinition($"SELECT TOP {take} * FROM c WHERE c.workspaceId = @ws AND c.type = @type ORDER BY c.sortKey")
            .WithParameter("@ws", workspaceId)
            .WithParameter("@type", Type);
        return await CosmosStoreContext.QueryAsync<AuditEvent>(db.Workspaces, query, workspaceId, take, cancellationToken);
    }
}
