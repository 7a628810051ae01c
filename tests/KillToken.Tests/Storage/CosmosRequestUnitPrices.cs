using KillToken.Storage.Cosmos;

namespace KillToken.Tests.Storage;

/// <summary>
/// Cosmos DB's published request-unit costs, to price the operations the emulator counts (it charges 1 RU for anything).
/// <list type="bullet">
/// <item>Point reads and writes by document size: learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption
/// ("Document size" table: 1 KB read 1.00 / write 4.95, 2 KB 1.04 / 6.29, 4 KB 1.14 / 6.67, 8 KB 1.33 / 7.04, 16 KB 1.67 / 9.52);
/// a 1 KB point read is 1 RU (learn.microsoft.com/azure/cosmos-db/request-units).</item>
/// <item>A patch is billed like the other writes, "users shouldn't expect a significant reduction in RU"
/// (learn.microsoft.com/azure/cosmos-db/partial-document-update-faq): priced as a write of the patched document.</item>
/// <item>A query: no figure is published; ≈ 2.3 RU for a small single-partition query plus each document it returns at
/// the point-read rate of its size, as <see cref="Analytics.AnalyticsStoreCostTests"/> prices them (one small document: 3.3 RU).</item>
/// <item>A delete is priced as a write; the SDK's query-plan and metadata requests are not charged.</item>
/// </list>
/// The size table was measured with the default indexing policy (every path). The containers now index only what the
/// queries filter on, which makes writes cheaper still: that saving is left out here, so these prices are an upper bound.
/// </summary>
internal static class CosmosRequestUnitPrices
{
    public const double QueryBase = 2.3;

    private static readonly (double Kb, double Read, double Write)[] BySize =
    [
        (1, 1.00, 4.95),
        (2, 1.04, 6.29),
        (4, 1.14, 6.67),
        (8, 1.33, 7.04),
        (16, 1.67, 9.52),
        (32, 2.19, 11.23),
        (64, 4.76, 22.67),
    ];

    public static double PointRead(long bytes) => Row(bytes).Read;

    public static double Write(long bytes) => Row(bytes).Write;

    /// <summary>
    /// The price of one counted operation. A patch's body is its operations, not the document, so it is priced at
    /// <paramref name="patchedDocumentBytes"/>: the size of the largest document the calls patch.
    /// </summary>
    public static double Of(CosmosOperation operation, long patchedDocumentBytes)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return operation.Operation switch
        {
            "read" => PointRead(Math.Max(0, operation.ResponseBytes)),
            "create" or "upsert" or "replace" => Write(operation.RequestBytes),
            "patch" => Write(patchedDocumentBytes),
            "delete" => Write(0),
            "query" => QueryBase + (operation.ItemCount == 0 ? 0 : operation.ItemCount * PointRead(Math.Max(0, operation.ResponseBytes) / operation.ItemCount)),
            _ => 0,
        };
    }

    private static (double Kb, double Read, double Write) Row(long bytes)
    {
        foreach (var row in BySize)
        {
            if (bytes <= row.Kb * 1024)
            {
                return row;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "Larger than this table prices.");
    }
}
