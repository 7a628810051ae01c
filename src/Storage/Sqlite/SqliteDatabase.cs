using System.Collections.Concurrent;
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
/// </remarks>
public sealed class SqliteDatabase : IDisposable
{
    private const int MaxRememberedReads = 10_000;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<string, RememberedRead> _remembered = new(StringComparer.Ordinal);
    private long _generation;
    private SqliteConnection? _writer;

    public SqliteDatabase(string path)
    {
        Path = path;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Initialize();
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
        await using var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        return await work(connection);
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
            return await AppendAsync(work, cancellationToken);
        }
        finally
        {
            Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>
    /// A hot-path write to records no remembered read returns (traces, budget counters, rollups, cache and idempotency
    /// entries): it keeps the remembered reads.
    /// </summary>
    public async Task<T> AppendAsync<T>(Func<SqliteConnection, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            _writer ??= await OpenWriterAsync();
            return await work(_writer);
        }
        catch (SqliteException)
        {
            // A broken connection is replaced on the next write rather than reused.
            _writer?.Dispose();
            _writer = null;
            throw;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public void Dispose()
    {
        _writer?.Dispose();
        _writeGate.Dispose();
    }

    private async Task<SqliteConnection> OpenWriterAsync()
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(CancellationToken.None);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = NORMAL;";
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
                PRIMARY KEY (workspace_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS traces_recent ON traces (workspace_id, created_at DESC, id DESC);
            CREATE TABLE IF NOT EXISTS counters (
                pk TEXT NOT NULL,
                id TEXT NOT NULL,
                spent INTEGER NOT NULL DEFAULT 0,
                reserved INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (pk, id)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS rollups (
                pk TEXT NOT NULL,
                day TEXT NOT NULL,
                dim TEXT NOT NULL,
                key TEXT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (pk, day, dim, key)
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
    }

    private sealed record RememberedRead(long Generation, object? Value);
}
