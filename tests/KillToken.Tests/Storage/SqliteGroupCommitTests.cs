using KillToken.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace KillToken.Tests.Storage;

/// <summary>
/// The embedded store commits concurrent hot-path writes in groups. What a caller must still be able to rely on:
/// its write is committed when its task completes, and a write that fails takes nobody else's with it.
/// </summary>
[TestClass]
public sealed class SqliteGroupCommitTests
{
    private static SqliteDatabase NewDatabase() =>
        new(Path.Combine(Directory.CreateTempSubdirectory("killtoken-group-").FullName, "group.db"));

    private static Func<SqliteConnection, Task<bool>> Insert(string id, bool thenFail = false) => async connection =>
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO counters (pk, id, spent, reserved) VALUES ('group', $id, 1, 0)";
        command.Parameters.AddWithValue("$id", id);
        await command.ExecuteNonQueryAsync();
        return thenFail ? throw new InvalidOperationException("append " + id + " failed after writing") : true;
    };

    private static Task<List<string>> CommittedIdsAsync(SqliteDatabase db) => db.ReadAsync(async connection =>
    {
        // A separate pooled connection: it sees only what was committed.
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM counters WHERE pk = 'group' ORDER BY id";
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    });

    [TestMethod]
    public async Task ConcurrentAppends_AreAllCommitted_WhenTheirTasksComplete()
    {
        await using var db = NewDatabase();
        var ids = Enumerable.Range(0, 300).Select(i => $"a{i:D3}").ToList();

        await Task.WhenAll(ids.Select(id => Task.Run(() => db.AppendAsync(Insert(id)))));

        CollectionAssert.AreEqual(ids, await CommittedIdsAsync(db));
    }

    [TestMethod]
    public async Task AFailingAppend_IsUndoneAlone_AndItsCallerSeesItsException()
    {
        await using var db = NewDatabase();
        // Hold the writer with a slow management write so that all of these queue up and share one group.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = db.WriteAsync(async _ => { await gate.Task; return true; });
        var appends = Enumerable.Range(0, 20)
            .Select(i => db.AppendAsync(Insert($"b{i:D2}", thenFail: i == 7)))
            .ToList();
        gate.SetResult();
        await blocker;

        var failure = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => appends[7]);
        StringAssert.Contains(failure.Message, "b07");
        await Task.WhenAll(appends.Where((_, i) => i != 7));

        var committed = await CommittedIdsAsync(db);
        Assert.AreEqual(19, committed.Count);
        CollectionAssert.DoesNotContain(committed, "b07", "the failed append's own write is rolled back");
    }

    [TestMethod]
    public async Task AManagementWrite_StillUsesItsOwnTransaction_BetweenGroups()
    {
        await using var db = NewDatabase();
        var appended = db.AppendAsync(Insert("c1"));
        var written = await db.WriteAsync(async connection =>
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync();
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO counters (pk, id, spent, reserved) VALUES ('group', 'c2', 1, 0)";
            await command.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
            return true;
        });
        await appended;

        Assert.IsTrue(written);
        CollectionAssert.AreEqual(new[] { "c1", "c2" }, await CommittedIdsAsync(db));
    }

    [TestMethod]
    public async Task AReservationLeftByACrashedProcess_IsReleasedWhenTheStoreOpens_SpendIsKept()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("killtoken-crash-").FullName, "crash.db");
        var periods = KillToken.Core.Budgets.BudgetPeriods.At(DateTimeOffset.UtcNow);
        await using (var before = new SqliteDatabase(path))
        {
            var ledger = new SqliteBudgetLedger(before);
            await ledger.SettleAsync("ws_crash", "prj_crash", periods, 0m, 0.25m);
            var (reserved, _) = await ledger.TryReserveAsync("ws_crash", "prj_crash", periods, 0.70m, 1.00m, null);
            Assert.IsTrue(reserved);
            // The process dies here: the call never settles.
        }

        await using var after = new SqliteDatabase(path);
        var usage = await new SqliteBudgetLedger(after).GetAsync("ws_crash", "prj_crash", periods);

        Assert.AreEqual(0m, usage.DayReserved, "nothing is in flight when the store opens");
        Assert.AreEqual(0m, usage.MonthReserved);
        Assert.AreEqual(0.25m, usage.DaySpent, "settled spend is kept");
        Assert.AreEqual(2, after.OrphanedReservationsReleased, "the day and the month counter");
        var (fits, _) = await new SqliteBudgetLedger(after).TryReserveAsync("ws_crash", "prj_crash", periods, 0.70m, 1.00m, null);
        Assert.IsTrue(fits, "the project is not refused for the dead call's reservation");
    }

    [TestMethod]
    public async Task UnderSteadyWrites_TheWalIsCheckpointedInTheBackground_AndStaysBounded()
    {
        await using var db = NewDatabase();
        var wal = db.Path + "-wal";
        var sizes = new List<long>();
        for (var round = 0; round < 4; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 400).Select(i => db.AppendAsync(Insert($"w{round}-{i:D3}-{new string('x', 200)}"))));
            // Past one checkpoint tick: the WAL is copied into the database, and the next write starts it over.
            await Task.Delay(SqliteDatabase.CheckpointInterval * 2.5);
            sizes.Add(new FileInfo(wal).Length);
        }

        Assert.AreEqual(1600, (await CommittedIdsAsync(db)).Count);
        // The writer never checkpoints (that would stall calls); without the background checkpoint the WAL would grow
        // by the same amount every round.
        Assert.IsTrue(sizes[^1] < sizes[0] * 2, "WAL sizes per round: " + string.Join(", ", sizes));
    }
}
