using KillToken.Core.Analytics;
using Microsoft.Data.Sqlite;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// A rollup row's numbers as columns of <c>rollup_totals</c>: counts as integers, money as integers of 10⁻¹⁰ USD (a
/// write rounds its sum to that, the reports' own precision), latency as a real, the newest call's time as UTC
/// ticks. One upsert adds a delta (the newest time kept); a read builds the delta back without parsing anything.
/// </summary>
internal static class RollupColumns
{
    public const string CreateTable = """
        CREATE TABLE IF NOT EXISTS rollup_totals (
            pk TEXT NOT NULL,
            day TEXT NOT NULL,
            dim TEXT NOT NULL,
            key TEXT NOT NULL,
            requests INTEGER NOT NULL, errors INTEGER NOT NULL, blocked INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
            waste_tokens INTEGER NOT NULL, saved_tokens INTEGER NOT NULL,
            cost INTEGER NOT NULL, estimated_savings INTEGER NOT NULL, potential_savings INTEGER NOT NULL, verified_savings INTEGER NOT NULL,
            cache_hits INTEGER NOT NULL, cache_savings INTEGER NOT NULL, replays INTEGER NOT NULL, replay_savings INTEGER NOT NULL,
            fallbacks INTEGER NOT NULL, latency_ms REAL NOT NULL, last_at INTEGER NULL,
            PRIMARY KEY (pk, day, dim, key)
        ) WITHOUT ROWID;
        """;

    private static readonly string[] Counts =
    [
        "requests", "errors", "blocked", "input_tokens", "output_tokens", "cached_input_tokens", "waste_tokens", "saved_tokens",
        "cost", "estimated_savings", "potential_savings", "verified_savings", "cache_hits", "cache_savings", "replays", "replay_savings", "fallbacks",
    ];

    private const decimal MoneyUnitsPerUsd = 10_000_000_000m;

    /// <summary>The value columns in the order <see cref="Read"/> expects them.</summary>
    public static readonly string Select = string.Join(", ", Counts) + ", latency_ms, last_at";

    public static readonly string Upsert =
        $"INSERT INTO rollup_totals (pk, day, dim, key, {Select}) VALUES ($pk, $day, $dim, $key, {string.Join(", ", Counts.Select(c => "$" + c))}, $latency_ms, $last_at) "
        + "ON CONFLICT (pk, day, dim, key) DO UPDATE SET "
        + string.Join(", ", Counts.Select(c => $"{c} = {c} + excluded.{c}"))
        + ", latency_ms = latency_ms + excluded.latency_ms, last_at = max(coalesce(last_at, excluded.last_at), coalesce(excluded.last_at, last_at))";

    public static void Bind(SqliteCommand command, UsageDelta d)
    {
        long[] values =
        [
            d.Requests, d.Errors, d.Blocked, d.InputTokens, d.OutputTokens, d.CachedInputTokens, d.WasteTokens, d.SavedTokens,
            Money(d.CostUsd), Money(d.EstimatedSavingsUsd), Money(d.PotentialSavingsUsd), Money(d.VerifiedSavingsUsd),
            d.CacheHits, Money(d.CacheSavingsUsd), d.Replays, Money(d.ReplaySavingsUsd), d.Fallbacks,
        ];
        for (var i = 0; i < Counts.Length; i++)
        {
            command.Parameters.AddWithValue("$" + Counts[i], values[i]);
        }

        command.Parameters.AddWithValue("$latency_ms", d.LatencyMs);
        command.Parameters.AddWithValue("$last_at", d.LastAt is { } at ? at.UtcTicks : DBNull.Value);
    }

    /// <summary>The delta in the columns from <paramref name="first"/> on (in <see cref="Select"/> order).</summary>
    public static UsageDelta Read(SqliteDataReader reader, int first) => new()
    {
        Requests = reader.GetInt64(first),
        Errors = reader.GetInt64(first + 1),
        Blocked = reader.GetInt64(first + 2),
        InputTokens = reader.GetInt64(first + 3),
        OutputTokens = reader.GetInt64(first + 4),
        CachedInputTokens = reader.GetInt64(first + 5),
        WasteTokens = reader.GetInt64(first + 6),
        SavedTokens = reader.GetInt64(first + 7),
        CostUsd = Usd(reader.GetInt64(first + 8)),
        EstimatedSavingsUsd = Usd(reader.GetInt64(first + 9)),
        PotentialSavingsUsd = Usd(reader.GetInt64(first + 10)),
        VerifiedSavingsUsd = Usd(reader.GetInt64(first + 11)),
        CacheHits = reader.GetInt64(first + 12),
        CacheSavingsUsd = Usd(reader.GetInt64(first + 13)),
        Replays = reader.GetInt64(first + 14),
        ReplaySavingsUsd = Usd(reader.GetInt64(first + 15)),
        Fallbacks = reader.GetInt64(first + 16),
        LatencyMs = reader.GetDouble(first + 17),
        LastAt = reader.IsDBNull(first + 18) ? null : new DateTimeOffset(reader.GetInt64(first + 18), TimeSpan.Zero),
    };

    private static long Money(decimal usd) => (long)Math.Clamp(Math.Round(usd * MoneyUnitsPerUsd, MidpointRounding.AwayFromZero), long.MinValue / 2, long.MaxValue / 2);

    private static decimal Usd(long units) => units / MoneyUnitsPerUsd;
}
