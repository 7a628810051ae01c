using System.Globalization;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Management;

/// <summary>Who did something: a signed-in user, a project key or scheduled work, and the address it came from.</summary>
public sealed record AuditActor(string Type, string Id, string? ClientAddress)
{
    public static AuditActor User(string userId, string? clientAddress) => new(AuditEvents.ActorUser, userId, clientAddress);

    public static AuditActor ApiKey(string projectId, string? clientAddress) => new(AuditEvents.ActorApiKey, projectId, clientAddress);

    public static AuditActor System(string job) => new(AuditEvents.ActorSystem, job, null);
}

/// <summary>
/// Writes one audit event for an action that has completed. The action stands even if the event cannot be written
/// (the caller's change is already saved): the failure is logged, with the event's name and never its details.
/// </summary>
public sealed partial class AuditRecorder(IAuditLog log, TimeProvider time, ILogger<AuditRecorder> logger)
{
    public async Task RecordAsync(AuditActor actor, string workspaceId, string auditEvent, string? target,
        IReadOnlyDictionary<string, string?>? details = null, IReadOnlyDictionary<string, AuditChange>? changes = null)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var entry = new AuditEvent(Ids.New("aud"), workspaceId, auditEvent, actor.Type, actor.Id, target, time.GetUtcNow(), actor.ClientAddress,
            details ?? new Dictionary<string, string?>(), changes is { Count: > 0 } ? changes : null);
        try
        {
            // Not the caller's token: a client that goes away after the action succeeded must not lose its record.
            await log.AppendAsync(entry, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogAppendFailed(logger, auditEvent, workspaceId, ex.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Error, Message = "The audit event {AuditEvent} of workspace {WorkspaceId} was not written ({ErrorType})")]
    private static partial void LogAppendFailed(ILogger logger, string auditEvent, string workspaceId, string errorType);
}

/// <summary>Builds an event's <c>changes</c>: only the fields whose value differs, as invariant text.</summary>
public sealed class AuditChanges
{
    private readonly Dictionary<string, AuditChange> _changes = new(StringComparer.Ordinal);

    public AuditChanges Add(string field, object? before, object? after)
    {
        var (b, a) = (Text(before), Text(after));
        if (!string.Equals(b, a, StringComparison.Ordinal))
        {
            _changes[field] = new AuditChange(b, a);
        }

        return this;
    }

    public bool Any => _changes.Count > 0;

    public bool Has(string field) => _changes.ContainsKey(field);

    public IReadOnlyDictionary<string, AuditChange> ToDictionary() => _changes;

    private static string? Text(object? value) => value switch
    {
        null => null,
        IEnumerable<string> list when value is not string => string.Join(",", list),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
