using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// The embedded store's one SQLite file (WAL). Readers use pooled connections in parallel; writers take turns
/// through one gate on one long-lived connection, so concurrent requests never spin on SQLITE_BUSY and the writer's
/// <c>synchronous = NORMAL</c> (a per-connection setting) holds for every commit: no fsync per commit in WAL mode,
/// still consistent after a crash.
/// </summary>
/// <remarks>
/// The embedded store belongs to one process (one writer connection, write-behind rollups), so it can also remember
/// the reads the hot path repeats on every call — key → project, a workspace's credentials, vault envelopes — and
/// forget them all on the next write that may change them. Every <see cref="WriteAsync{T}"/> does; only the hot path's
/// own appends and increments (<see cref="AppendAsync{T}"/>: traces, counters, rollups, cache and idempotency entries),
/// which no remembered read returns, leave them in place.
/// Appends are also committed in groups: an append that finds the writer free commits at once on its caller's thread;
/// while the writer is busy, concurrent calls' appends queue up and the writer runs every queued one in a single
/// transaction (each inside its own savepoint, so one failing append fails alone), then completes them all after the
/// commit. Under load that turns a commit per write into a commit per batch, with the same guarantee to each caller:
/// its write is committed when its task completes.
/// </remarks>
public sealed class SqliteDatabase : IDisposable, IAsyncDisposable
{
    private const int MaxRememberedReads = 10_000;
    private const int MaxAppendsPerCommit = 256;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<string, RememberedRead> _remembered = new(StringComparer.Ordinal);
    private readonly Channel<PendingAppend> _appends = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lazy<Task> _appender;
    private readonly Timer _checkpointer;
    private int _checkpointing;
    private long _generation;
    private SqliteConnection? _writer;
    private readonly Dictionary<string, SqliteCommand> _writerStatements = new(StringComparer.Ordinal);

    public SqliteDatabase(string path)
    {
        Path = path;
        LocalFiles.PrivateFiles.PrepareFile(path);
        LocalFiles.PrivateFiles.Narrow(path + "-wal");
        LocalFiles.PrivateFiles.Narrow(path + "-shm");
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Initialize();
        _appender = new Lazy<Task>(() => Task.Run(AppendLoopAsync), LazyThreadSafetyMode.ExecutionAndPublication);
        _checkpointer = new Timer(_ => CheckpointInBackground(), null, CheckpointInterval, CheckpointInterval);
    }

    /// <summary>How often the WAL is copied into the database, off the request path.</summary>
    public static TimeSpan CheckpointInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A passive checkpoint on its own connection: it copies what it can without waiting for the writer or readers,
    /// so its fsync never holds up a call. One at a time; a failure is left for the next tick.
    /// </summary>
    private void CheckpointInBackground()
    {
        if (Interlocked.Exchange(ref _checkpointing, 1) == 1)
        {
            return;
        }

        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
            command.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // Busy or closing: the next tick tries again.
        }
        finally
        {
            Volatile.Write(ref _checkpointing, 0);
        }
    }

    public string Path { get; }
    public string ConnectionString { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    public async Task<T> ReadAsync<T>(Func<SqliteConnection, Task<T>> work)
    {
        try
        {
            await using var connection = new SqliteConnection(ConnectionString);
            await connection.OpenAsync();
            return await work(connection);
        }
        catch (SqliteException ex) when (Unavailable(ex) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <summary>
    /// A read remembered until the next <see cref="WriteAsync{T}"/>. The result is stamped with the write generation seen
    /// before reading, so a read that overlapped a write is never served again.
    /// </summary>
    public async Task<T> ReadRememberedAsync<T>(string key, Func<SqliteConnection, Task<T>> work)
    {
        var generation = Volatile.Read(ref _generation);
        if (_remembered.TryGetValue(key, out var remembered) && remembered.Generation == generation)
        {
            return (T)remembered.Value!;
        }

        var value = await ReadAsync(work);
        if (_remembered.Count >= MaxRememberedReads)
        {
            _remembered.Clear();
        }

        _remembered[key] = new RememberedRead(generation, value);
        return value;
    }

    /// <summary>A write that may change anything: remembered reads are forgotten before it starts and after it ends.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, Task<T>> work, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _generation);
        try
        {
            await _writeGate.WaitAsync(cancellationToken);
            try
            {
                _writer ??= await OpenWriterAsync();
                return await work(_writer);
            }
            catch (SqliteException ex)
            {
                // A broken connection is replaced on the next write rather than reused.
                ResetWriter();
                if (Unavailable(ex) is { } unavailable)
                {
                    throw unavailable;
                }

                throw;
            }
            finally
            {
                _writeGate.Release();
            }
        }
        finally
        {
            Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>
    /// A hot-path write to records no remembered read returns (traces, budget counters, rollups, cache and idempotency
    /// entries): it keeps the remembered reads, and it is committed together with the other appends queued beside it.
    /// The work runs inside the group's transaction, so it must not begin one of its own; it is atomic on its own
    /// (a savepoint) and committed when the returned task completes. Once queued it runs even if the caller gives up.
    /// </summary>
    public Task<T> AppendAsync<T>(Func<SqliteConnection, Task<T>> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var pending = new PendingAppend<T>(work);
        return _writeGate.Wait(0, CancellationToken.None) ? AppendInlineAsync(pending) : Enqueue(pending);
    }

    /// <summary>The writer is free: commit this append at once on the caller's own thread (no hand-off, no wait).</summary>
    private async Task<T> AppendInlineAsync<T>(PendingAppend<T> pending)
    {
        try
        {
            await CommitGroupAsync([pending]);
        }
        finally
        {
            _writeGate.Release();
        }

        return await pending.Task;
    }

    /// <summary>The writer is busy: queue the append for the next group.</summary>
    private Task<T> Enqueue<T>(PendingAppend<T> pending)
    {
        _ = _appender.Value;
        return _appends.Writer.TryWrite(pending)
            ? pending.Task
            : Task.FromException<T>(new ObjectDisposedException(nameof(SqliteDatabase)));
    }

    private async Task AppendLoopAsync()
    {
        var reader = _appends.Reader;
        var batch = new List<PendingAppend>(MaxAppendsPerCommit);
        while (await reader.WaitToReadAsync())
        {
            await _writeGate.WaitAsync();
            try
            {
                batch.Clear();
                while (batch.Count < MaxAppendsPerCommit && reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                await CommitGroupAsync(batch);
            }
            finally
            {
                _writeGate.Release();
            }
        }
    }

    private async Task CommitGroupAsync(IReadOnlyList<PendingAppend> batch)
    {
        try
        {
            _writer ??= await OpenWriterAsync();
            await ExecuteAsync(_writer, "BEGIN");
            if (batch.Count == 1)
            {
                // Alone in its group (the common case below saturation): the transaction is its savepoint.
                try
                {
                    await batch[0].RunAsync(_writer);
                }
                catch (Exception ex) when (!FailsTheGroup(ex))
                {
                    await ExecuteAsync(_writer, "ROLLBACK");
                    batch[0].Fail(ex);
                    return;
                }
            }
            else
            {
                foreach (var pending in batch)
                {
                    await ExecuteAsync(_writer, "SAVEPOINT one_append");
                    try
                    {
                        await pending.RunAsync(_writer);
                        await ExecuteAsync(_writer, "RELEASE one_append");
                    }
                    catch (Exception ex) when (!FailsTheGroup(ex))
                    {
                        // Undo this append alone; the others in the group still commit.
                        await ExecuteAsync(_writer, "ROLLBACK TO one_append");
                        await ExecuteAsync(_writer, "RELEASE one_append");
                        pending.Fail(ex);
                    }
                }
            }

            await ExecuteAsync(_writer, "COMMIT");
        }
        catch (Exception ex)
        {
            ResetWriter(); // closing the connection rolls back whatever the group had written
            foreach (var pending in batch)
            {
                pending.Fail(ex);
            }

            return;
        }

        foreach (var pending in batch)
        {
            pending.Complete();
        }
    }

    /// <summary>
    /// The file is locked by another process past the busy timeout, or cannot be read or written (I/O error, disk full,
    /// cannot open): the request answers 503 <c>store_unavailable</c>, not 500. Nothing of the failed transaction was
    /// committed (SQLite rolls it back), so the caller may try again. Constraint and schema errors stay what they are.
    /// </summary>
    internal static KillToken.Core.Ports.StoreUnavailableException? Unavailable(Exception ex) =>
        ex is SqliteException { SqliteErrorCode: 5 or 6 or 10 or 13 or 14 } sqlite
            ? new KillToken.Core.Ports.StoreUnavailableException($"The SQLite store failed (error {sqlite.SqliteErrorCode}).", null, sqlite)
            : null;

    /// <summary>Disk full, I/O error, corruption: the whole group fails, not one append.</summary>
    private static bool FailsTheGroup(Exception ex) => ex is SqliteException { SqliteErrorCode: 13 or 10 or 11 };

    /// <summary>
    /// Runs one of the group commit's own statements (BEGIN, SAVEPOINT, RELEASE, COMMIT, ROLLBACK), compiled once and
    /// kept with the writer connection: every commit runs the same few.
    /// </summary>
    private Task ExecuteAsync(SqliteConnection writer, string sql)
    {
        if (!_writerStatements.TryGetValue(sql, out var command))
        {
            command = writer.CreateCommand();
            command.CommandText = sql;
            command.Prepare();
            _writerStatements[sql] = command;
        }

        return command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private void ResetWriter()
    {
        foreach (var command in _writerStatements.Values)
        {
            command.Dispose();
        }

        _writerStatements.Clear();
        _writer?.Dispose();
        _writer = null;
    }

    /// <summary>Commits what is still queued, then closes the writer.</summary>
    public async ValueTask DisposeAsync()
    {
        await _checkpointer.DisposeAsync();
        _appends.Writer.TryComplete();
        if (_appender.IsValueCreated)
        {
            await _appender.Value;
        }

        ResetWriter();
        _writeGate.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<SqliteConnection> OpenWriterAsync()
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(CancellationToken.None);
        await using var pragma = connection.CreateCommand();
        // Checkpoints copy the WAL into the database and fsync: on a commit they would stall that call and every call
        // queued behind the writer, so the writer never runs them; CheckpointInBackground does (see the constructor).
        // A burst the checkpoints could not keep up with leaves a large WAL file behind; once it has been checkpointed,
        // the writer's next reset of the WAL cuts the file back to 32 MB (journal_size_limit), so it does not stay large.
        pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 33554432;";
        await pragma.ExecuteNonQueryAsync(CancellationToken.None);
        return connection;
    }

    private void Initialize()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS documents (
                pk TEXT NOT NULL,
                id TEXT NOT NULL,
                kind TEXT NOT NULL,
                body TEXT NOT NULL,
                etag INTEGER NOT NULL DEFAULT 1,
                expires_at INTEGER NULL,
                PRIMARY KEY (pk, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS documents_kind ON documents (pk, kind);
            CREATE TABLE IF NOT EXISTS lookups (
                id TEXT NOT NULL PRIMARY KEY,
                body TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS traces (
                workspace_id TEXT NOT NULL,
                id TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                project_id TEXT NULL,
                provider TEXT NULL,
                model TEXT NULL,
                mode TEXT NULL,
                cache_status TEXT NULL,
                feature TEXT NOT NULL,
                body TEXT NOT NULL,
                seq INTEGER NULL,
                PRIMARY KEY (workspace_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS traces_recent ON traces (workspace_id, created_at DESC, id DESC);
            CREATE TABLE IF NOT EXISTS marks (
                name TEXT NOT NULL PRIMARY KEY,
                value INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS counters (
                pk TEXT NOT NULL,
                id TEXT NOT NULL,
                spent INTEGER NOT NULL DEFAULT 0,
                reserved INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (pk, id)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS audit_events (
                pk TEXT NOT NULL,
                sort_key TEXT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (pk, sort_key)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS vault_secrets (
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                envelope BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (name, version)
            ) WITHOUT ROWID;
            """;
        command.ExecuteNonQuery();
        using (var rollups = connection.CreateCommand())
        {
            rollups.CommandText = RollupColumns.CreateTable;
            rollups.ExecuteNonQuery();
        }

        AddTraceSequence(connection);

        // The embedded store belongs to one process, so when it opens no call can be in flight: any budget money still
        // reserved was held by calls that a crash or a kill never let settle. Releasing it here means a crash never
        // leaves a project refused for money nobody is spending (settled spend is kept as it was).
        using var release = connection.CreateCommand();
        release.CommandText = "UPDATE counters SET reserved = 0 WHERE reserved <> 0;";
        OrphanedReservationsReleased = release.ExecuteNonQuery();
    }

    /// <summary>
    /// Traces carry the order in which they were committed (<c>seq</c>), which the rollups follow from a mark
    /// (<see cref="SqliteUsageRollups"/>). A file made before the column existed gets it; its older traces have none and
    /// were already counted.
    /// </summary>
    private static void AddTraceSequence(SqliteConnection connection)
    {
        using var columns = connection.CreateCommand();
        columns.CommandText = "SELECT COUNT(*) FROM pragma_table_info('traces') WHERE name = 'seq'";
        if ((long)columns.ExecuteScalar()! == 0)
        {
            using var add = connection.CreateCommand();
            add.CommandText = "ALTER TABLE traces ADD COLUMN seq INTEGER NULL";
            add.ExecuteNonQuery();
        }

        using var index = connection.CreateCommand();
        index.CommandText = "CREATE INDEX IF NOT EXISTS traces_seq ON traces (seq)";
        index.ExecuteNonQuery();
    }

    /// <summary>Budget counters whose reservations were left behind by the previous process and released at open.</summary>
    public int OrphanedReservationsReleased { get; private set; }

    private sealed record RememberedRead(long Generation, object? Value);

    /// <summary>One queued append: run inside the group's transaction, completed (or failed) after the group's commit.</summary>
    private abstract class PendingAppend
    {
        public abstract Task RunAsync(SqliteConnection connection);

        public abstract void Complete();

        public abstract void Fail(Exception exception);
    }

    private sealed class PendingAppend<T>(Func<SqliteConnection, Task<T>> work) : PendingAppend
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _completion.Task;

        public override async Task RunAsync(SqliteConnection connection) => _result = await work(connection);

        public override void Complete() => _completion.TrySetResult(_result!);

        public override void Fail(Exception exception) => _completion.TrySetException(Unavailable(exception) ?? exception);
    }
}
