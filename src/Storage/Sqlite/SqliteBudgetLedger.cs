using KillToken.Core.Budgets;
using Microsoft.Data.Sqlite;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// Budget counters per project and UTC period, in nano-dollars (exact integers, no float drift). A reservation
/// checks and increments both periods as one append (a savepoint in the writer's group commit).
/// </summary>
internal sealed class SqliteBudgetLedger(SqliteDatabase db) : IBudgetLedger
{
    private const decimal NanosPerUsd = 1_000_000_000m;

    public Task<BudgetUsage> GetAsync(string workspaceId, string projectId, BudgetPeriods periods, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => ReadAsync(connection, null, workspaceId, projectId, periods, cancellationToken));

    public Task<(bool Reserved, BudgetUsage Usage)> TryReserveAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal amount,
        decimal? dailyLimit, decimal? monthlyLimit, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            // Atomic as one append (the writer's savepoint), and alone on the one writer connection.
            var usage = await ReadAsync(connection, null, workspaceId, projectId, periods, cancellationToken);
            // Compared as held: the amount rounded up to whole nano-dollars, as it is added below.
            var held = ToUsd(ToNanos(amount));
            var fits = (dailyLimit is not { } day || usage.DaySpent + usage.DayReserved + held <= day)
                && (monthlyLimit is not { } month || usage.MonthSpent + usage.MonthReserved + held <= month);
            if (!fits)
            {
                return (false, usage);
            }

            var nanos = ToNanos(amount);
            await AddAsync(connection, workspaceId, DayId(projectId, periods), 0, nanos, cancellationToken);
            await AddAsync(connection, workspaceId, MonthId(projectId, periods), 0, nanos, cancellationToken);
            return (true, usage with { DayReserved = usage.DayReserved + amount, MonthReserved = usage.MonthReserved + amount });
        }, cancellationToken);

    public Task SettleAsync(string workspaceId, string projectId, BudgetPeriods periods, decimal reserved, decimal actual, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await SettleAsync(connection, workspaceId, projectId, periods, reserved, actual, cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>The settlement's statements, for an append that writes it together with something else (the call's trace).</summary>
    internal static async Task SettleAsync(SqliteConnection connection, string workspaceId, string projectId, BudgetPeriods periods, decimal reserved, decimal actual,
        CancellationToken cancellationToken)
    {
        await AddAsync(connection, workspaceId, DayId(projectId, periods), ToNanos(actual), -ToNanos(reserved), cancellationToken);
        await AddAsync(connection, workspaceId, MonthId(projectId, periods), ToNanos(actual), -ToNanos(reserved), cancellationToken);
    }

    public Task SeedWorkspaceAsync(string workspaceId, BudgetPeriods periods, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            // One append: no settlement can land between the check, the sums and the writes (the writer is one connection).
            var workspacePrefix = $"budget:{WorkspaceBudget.LedgerId}:";
            var sums = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var read = connection.CreateCommand())
            {
                read.CommandText = "SELECT id, spent FROM counters WHERE pk = $pk AND id LIKE 'budget:%' AND (id LIKE $month OR id LIKE $days)";
                read.Parameters.AddWithValue("$pk", workspaceId);
                read.Parameters.AddWithValue("$month", "%:month:" + periods.Month);
                read.Parameters.AddWithValue("$days", "%:day:" + periods.Month + "-%");
                await using var reader = await read.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var id = reader.GetString(0);
                    if (id.StartsWith(workspacePrefix, StringComparison.Ordinal))
                    {
                        return false; // the workspace's counter exists: settlements keep it current
                    }

                    // budget:{projectId}:day:{yyyy-MM-dd} or budget:{projectId}:month:{yyyy-MM} → the workspace's row of that period.
                    var day = id.LastIndexOf(":day:", StringComparison.Ordinal);
                    var target = workspacePrefix + id[((day >= 0 ? day : id.LastIndexOf(":month:", StringComparison.Ordinal)) + 1)..];
                    sums[target] = sums.GetValueOrDefault(target) + reader.GetInt64(1);
                }
            }

            foreach (var (id, spent) in sums)
            {
                await using var write = connection.CreateCommand();
                write.CommandText = "INSERT INTO counters (pk, id, spent, reserved) VALUES ($pk, $id, $spent, 0) ON CONFLICT (pk, id) DO NOTHING";
                write.Parameters.AddWithValue("$pk", workspaceId);
                write.Parameters.AddWithValue("$id", id);
                write.Parameters.AddWithValue("$spent", spent);
                await write.ExecuteNonQueryAsync(cancellationToken);
            }

            return true;
        }, cancellationToken);

    public Task<bool> TryClaimAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO counters (pk, id, spent, reserved) VALUES ($pk, $id, 0, 0) ON CONFLICT (pk, id) DO NOTHING";
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$id", $"alert:{projectId}:{period}:{thresholdPercent}");
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);

    public Task ReleaseAlertAsync(string workspaceId, string projectId, string period, int thresholdPercent, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM counters WHERE pk = $pk AND id = $id";
            command.Parameters.AddWithValue("$pk", workspaceId);
            command.Parameters.AddWithValue("$id", $"alert:{projectId}:{period}:{thresholdPercent}");
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public Task<bool> IsMarkedAsync(string period, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1 FROM counters WHERE pk = '_system' AND id = $id";
            command.Parameters.AddWithValue("$id", "closed:" + period);
            return await command.ExecuteScalarAsync(cancellationToken) is not null;
        });

    public Task ReleaseMarkAsync(string period, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM counters WHERE pk = '_system' AND id = $id";
            command.Parameters.AddWithValue("$id", "closed:" + period);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public Task<bool> TryMarkClosedAsync(string period, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO counters (pk, id, spent, reserved) VALUES ('_system', $id, 0, 0) ON CONFLICT (pk, id) DO NOTHING";
            command.Parameters.AddWithValue("$id", "closed:" + period);
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);

    private static string DayId(string projectId, BudgetPeriods periods) => $"budget:{projectId}:day:{periods.Day}";

    private static string MonthId(string projectId, BudgetPeriods periods) => $"budget:{projectId}:month:{periods.Month}";

    // Reservations round up, so the held amount is never below the computed maximum.
    private static long ToNanos(decimal usd) => (long)Math.Ceiling(usd * NanosPerUsd);

    private static decimal ToUsd(long nanos) => nanos / NanosPerUsd;

    private static async Task<BudgetUsage> ReadAsync(SqliteConnection connection, SqliteTransaction? transaction, string workspaceId, string projectId, BudgetPeriods periods, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT id, spent, reserved FROM counters WHERE pk = $pk AND id IN ($day, $month)";
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$day", DayId(projectId, periods));
        command.Parameters.AddWithValue("$month", MonthId(projectId, periods));
        long daySpent = 0, dayReserved = 0, monthSpent = 0, monthReserved = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.GetString(0).Contains(":day:", StringComparison.Ordinal))
            {
                daySpent = reader.GetInt64(1);
                dayReserved = reader.GetInt64(2);
            }
            else
            {
                monthSpent = reader.GetInt64(1);
                monthReserved = reader.GetInt64(2);
            }
        }

        return new BudgetUsage(ToUsd(daySpent), ToUsd(Math.Max(0, dayReserved)), ToUsd(monthSpent), ToUsd(Math.Max(0, monthReserved)));
    }

    private static async Task AddAsync(SqliteConnection connection, string workspaceId, string id, long spent, long reserved, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO counters (pk, id, spent, reserved) VALUES ($pk, $id, $spent, $reserved)
            ON CONFLICT (pk, id) DO UPDATE SET spent = spent + excluded.spent, reserved = reserved + excluded.reserved
            """;
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$spent", spent);
        command.Parameters.AddWithValue("$reserved", reserved);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
