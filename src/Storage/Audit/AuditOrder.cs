using System.Buffers.Text;
using System.Globalization;
using System.Text;
using KillToken.Core.Ports;

namespace KillToken.Storage.Audit;

/// <summary>How every audit store orders the log and pages through it.</summary>
internal static class AuditOrder
{
    public const int MaxLimit = 1000;

    /// <summary>Newest first in ascending order: the ticks left until the end of time, then the id.</summary>
    public static string SortKey(AuditEvent auditEvent) =>
        (DateTimeOffset.MaxValue.UtcTicks - auditEvent.At.UtcTicks).ToString("D19", CultureInfo.InvariantCulture) + "|" + auditEvent.Id;

    /// <summary>The cursor that continues after the event with this sort key: the key itself, base64url-encoded.</summary>
    public static string Cursor(string sortKey) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(sortKey));

    /// <summary>The sort key a page starts after; null for the first page. A cursor not made by <see cref="Cursor"/> throws.</summary>
    public static string? After(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        try
        {
            var key = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            if (key.Length > 20 && key.Length <= 240 && key[19] == '|' && key.AsSpan(0, 19).IndexOfAnyExceptInRange('0', '9') < 0)
            {
                return key;
            }
        }
        catch (FormatException)
        {
        }

        throw new InvalidCursorException();
    }

    public static int Take(AuditQuery query) => Math.Clamp(query.Limit, 1, MaxLimit);
}
