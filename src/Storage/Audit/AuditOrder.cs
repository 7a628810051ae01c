using System.Globalization;
using KillToken.Core.Ports;

namespace KillToken.Storage.Audit;

/// <summary>How both stores order the audit log.</summary>
internal static class AuditOrder
{
    /// <summary>Newest first in ascending order: the ticks left until the end of time, then the id.</summary>
    public static string SortKey(AuditEvent auditEvent) =>
        (DateTimeOffset.MaxValue.UtcTicks - auditEvent.At.UtcTicks).ToString("D19", CultureInfo.InvariantCulture) + "|" + auditEvent.Id;
}
