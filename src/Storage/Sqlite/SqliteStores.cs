using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using static KillToken.Storage.Sqlite.SqliteDocuments;

namespace KillToken.Storage.Sqlite;

internal static class Keys
{
    public static string User(string userId) => "user:" + userId;
    public static string Email(string email) => "email:" + email;
    public static string Memberships(string userId) => "memberships:" + userId;
    public static string Project(string projectId) => "project:" + projectId;
    public static string KeyHash(string hash) => "key:" + hash;
    public static string Member(string userId) => "member:" + userId;
    public static string InviteToken(string tokenHash) => "invite-token:" + tokenHash;
}

internal sealed class SqliteUserStore(SqliteDatabase db) : IUserStore
{
    public Task<bool> TryCreateAsync(UserRecord user, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            if (!await TryInsertLookupAsync(connection, Keys.Email(user.Email), user.Id, cancellationToken, transaction))
            {
                return false;
            }

            await UpsertLookupAsync(connection, Keys.User(user.Id), user, cancellationToken, transaction);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<UserRecord?> FindByEmailAsync(string email, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            var userId = await GetLookupAsync<string>(connection, Keys.Email(email), cancellationToken);
            return userId is null ? null : await GetLookupAsync<UserRecord>(connection, Keys.User(userId), cancellationToken);
        });

    public Task<UserRecord?> GetAsync(string userId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => GetLookupAsync<UserRecord>(connection, Keys.User(userId), cancellationToken));

    public Task SetPasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            // Writes are serialized on the one writer connection, so the read and the write see no other write between.
            var user = await GetLookupAsync<UserRecord>(connection, Keys.User(userId), cancellationToken);
            if (user is not null)
            {
                await UpsertLookupAsync(connection, Keys.User(userId), user with { PasswordHash = passwordHash }, cancellationToken);
            }

            return true;
        }, cancellationToken);
}

internal sealed class SqliteWorkspaceStore(SqliteDatabase db) : IWorkspaceStore
{
    // One process owns the file, so a lock per workspace in memory serialises its membership changes.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _memberLocks = new(StringComparer.Ordinal);

    private const string WorkspaceKind = "workspace";
    private const string MemberKind = "member";
    private const int WorkspacePageSize = 100;

    public Task CreateAsync(WorkspaceRecord workspace, MembershipRecord owner, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            await UpsertAsync(connection, workspace.Id, workspace.Id, WorkspaceKind, workspace, cancellationToken, transaction);
            await UpsertAsync(connection, workspace.Id, Keys.Member(owner.UserId), MemberKind, owner, cancellationToken, transaction);
            await AddMembershipAsync(connection, owner, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<WorkspaceRecord?> GetAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => GetAsync<WorkspaceRecord>(connection, workspaceId, workspaceId, WorkspaceKind, cancellationToken));

    public Task UpdateAsync(WorkspaceRecord workspace, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await UpsertAsync(connection, workspace.Id, workspace.Id, WorkspaceKind, workspace, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<MembershipRecord?> GetMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => GetAsync<MembershipRecord>(connection, workspaceId, Keys.Member(userId), MemberKind, cancellationToken));

    public Task<IReadOnlyList<MembershipRecord>> ListMembershipsOfUserAsync(string userId, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<MembershipRecord>>(async connection =>
        {
            var list = await GetLookupAsync<UserMemberships>(connection, Keys.Memberships(userId), cancellationToken);
            return list is null
                ? []
                : [.. list.Items.Select(i => new MembershipRecord { WorkspaceId = i.WorkspaceId, UserId = userId, Role = i.Role, JoinedAt = i.JoinedAt })];
        });

    public Task SaveMembershipAsync(MembershipRecord membership, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            await UpsertAsync(connection, membership.WorkspaceId, Keys.Member(membership.UserId), MemberKind, membership, cancellationToken, transaction);
            await AddMembershipAsync(connection, membership, transaction, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> RemoveMembershipAsync(string workspaceId, string userId, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            if (!await DeleteAsync(connection, workspaceId, Keys.Member(userId), MemberKind, cancellationToken, transaction))
            {
                return false;
            }

            var list = await GetLookupAsync<UserMemberships>(connection, Keys.Memberships(userId), cancellationToken);
            if (list is not null && list.Items.RemoveAll(i => i.WorkspaceId == workspaceId) > 0)
            {
                await UpsertLookupAsync(connection, Keys.Memberships(userId), list, cancellationToken, transaction);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public async Task<IAsyncDisposable> LockMembersAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        var gate = _memberLocks.GetOrAdd(workspaceId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Release(gate);
    }

    public Task<IReadOnlyList<MembershipRecord>> ListMembersAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<MembershipRecord>>(async connection => await ListAsync<MembershipRecord>(connection, workspaceId, MemberKind, cancellationToken));

    private sealed class Release(SemaphoreSlim gate) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            gate.Release();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Keyset pages over every partition (workspace documents are the ones whose id is their partition). Scans the
    /// table once per full listing: fine for the monthly job this serves, never used on the request path.
    /// </summary>
    public async IAsyncEnumerable<WorkspaceRecord> ListAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var after = string.Empty;
        while (true)
        {
            var page = await db.ReadAsync(connection => ListPageAcrossPartitionsAsync<WorkspaceRecord>(connection, WorkspaceKind, after, WorkspacePageSize, cancellationToken));
            foreach (var workspace in page.Where(w => w.DeletedAt is null))
            {
                yield return workspace;
            }

            if (page.Count < WorkspacePageSize)
            {
                yield break;
            }

            after = page[^1].Id;
        }
    }

    private static async Task AddMembershipAsync(SqliteConnection connection, MembershipRecord membership, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        var list = await GetLookupAsync<UserMemberships>(connection, Keys.Memberships(membership.UserId), cancellationToken) ?? new UserMemberships([]);
        list.Items.RemoveAll(i => i.WorkspaceId == membership.WorkspaceId);
        list.Items.Add(new UserMembershipEntry(membership.WorkspaceId, membership.Role, membership.JoinedAt));
        await UpsertLookupAsync(connection, Keys.Memberships(membership.UserId), list, cancellationToken, transaction);
    }
}

/// <summary>Invites as documents of their workspace; the token's hash is a lookup row, as a key hash is.</summary>
internal sealed class SqliteInviteStore(SqliteDatabase db) : IInviteStore
{
    private const string Kind = "invite";

    public Task<bool> TryCreateAsync(InviteRecord invite, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            // The one writer makes the check and the insert a unit: no second pending invite for the email can slip in.
            if ((await ListPendingAsync(connection, invite.WorkspaceId, cancellationToken)).Any(i => i.Email == invite.Email))
            {
                return false;
            }

            await using var transaction = connection.BeginTransaction();
            await UpsertAsync(connection, invite.WorkspaceId, invite.Id, Kind, invite, cancellationToken, transaction);
            await UpsertLookupAsync(connection, Keys.InviteToken(invite.TokenHash), new InvitePointer(invite.WorkspaceId, invite.Id), cancellationToken, transaction);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<InviteRecord?> GetAsync(string workspaceId, string inviteId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => GetAsync<InviteRecord>(connection, workspaceId, inviteId, Kind, cancellationToken));

    public Task<IReadOnlyList<InviteRecord>> ListPendingAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<InviteRecord>>(async connection => await ListPendingAsync(connection, workspaceId, cancellationToken));

    private static async Task<List<InviteRecord>> ListPendingAsync(SqliteConnection connection, string workspaceId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM documents WHERE pk = $pk AND kind = $kind AND json_extract(body, '$.status') = $pending";
        command.Parameters.AddWithValue("$pk", workspaceId);
        command.Parameters.AddWithValue("$kind", Kind);
        command.Parameters.AddWithValue("$pending", InviteStatus.Pending);
        var invites = new List<InviteRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            invites.Add(JsonSerializer.Deserialize<InviteRecord>(reader.GetString(0), Json)!);
        }

        return invites;
    }

    public Task<InviteRecord?> FindByTokenHashAsync(string tokenHash, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            var pointer = await GetLookupAsync<InvitePointer>(connection, Keys.InviteToken(tokenHash), cancellationToken);
            var invite = pointer is null ? null : await GetAsync<InviteRecord>(connection, pointer.WorkspaceId, pointer.InviteId, Kind, cancellationToken);
            return invite?.TokenHash == tokenHash ? invite : null;
        });

    public Task<bool> TryUpdateAsync(InviteRecord invite, string? previousTokenHash = null, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            var stored = await GetAsync<InviteRecord>(connection, invite.WorkspaceId, invite.Id, Kind, cancellationToken);
            if (stored is null || stored.Revision != invite.Revision - 1)
            {
                return false;
            }

            await using var transaction = connection.BeginTransaction();
            await UpsertAsync(connection, invite.WorkspaceId, invite.Id, Kind, invite, cancellationToken, transaction);
            if (previousTokenHash is not null && previousTokenHash != invite.TokenHash)
            {
                await UpsertLookupAsync(connection, Keys.InviteToken(invite.TokenHash), new InvitePointer(invite.WorkspaceId, invite.Id), cancellationToken, transaction);
                await DeleteLookupAsync(connection, Keys.InviteToken(previousTokenHash), cancellationToken, transaction);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);
}

/// <summary>Where a token's invite lives.</summary>
internal sealed record InvitePointer(string WorkspaceId, string InviteId);

internal sealed class SqliteProjectStore(SqliteDatabase db) : IProjectStore
{
    private const string Kind = "project";

    public Task CreateAsync(ProjectRecord project, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            var pointer = new ProjectPointer(project.WorkspaceId, project.Id);
            await UpsertAsync(connection, project.WorkspaceId, project.Id, Kind, project, cancellationToken, transaction);
            await UpsertLookupAsync(connection, Keys.Project(project.Id), pointer, cancellationToken, transaction);
            await UpsertLookupAsync(connection, Keys.KeyHash(project.KeyHash), pointer, cancellationToken, transaction);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<ProjectRecord?> GetAsync(string projectId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            var pointer = await GetLookupAsync<ProjectPointer>(connection, Keys.Project(projectId), cancellationToken);
            return pointer is null ? null : await GetAsync<ProjectRecord>(connection, pointer.WorkspaceId, pointer.ProjectId, Kind, cancellationToken);
        });

    public Task<IReadOnlyList<ProjectRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        db.ReadAsync<IReadOnlyList<ProjectRecord>>(async connection => await ListAsync<ProjectRecord>(connection, workspaceId, Kind, cancellationToken));

    public Task UpdateAsync(ProjectRecord project, string? previousKeyHash = null, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await using var transaction = connection.BeginTransaction();
            await UpsertAsync(connection, project.WorkspaceId, project.Id, Kind, project, cancellationToken, transaction);
            if (previousKeyHash is not null && previousKeyHash != project.KeyHash)
            {
                await DeleteLookupAsync(connection, Keys.KeyHash(previousKeyHash), cancellationToken, transaction);
                await UpsertLookupAsync(connection, Keys.KeyHash(project.KeyHash), new ProjectPointer(project.WorkspaceId, project.Id), cancellationToken, transaction);
            }

            await transaction.CommitAsync(cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>Every gateway call starts here, so the answer is remembered until the next write (a regenerated or deactivated key fails at once).</summary>
    public Task<ProjectRecord?> FindByKeyHashAsync(string keyHash, CancellationToken cancellationToken = default) =>
        db.ReadRememberedAsync("project-by-key:" + keyHash, async connection =>
        {
            var pointer = await GetLookupAsync<ProjectPointer>(connection, Keys.KeyHash(keyHash), cancellationToken);
            var project = pointer is null ? null : await GetAsync<ProjectRecord>(connection, pointer.WorkspaceId, pointer.ProjectId, Kind, cancellationToken);
            // A stale pointer (key regenerated between the two reads) must not authenticate.
            return project is not null && project.KeyHash == keyHash ? project : null;
        });
}

internal sealed class SqliteCredentialStore(SqliteDatabase db) : ICredentialStore
{
    private const string Kind = "credential";

    public Task CreateAsync(CredentialRecord credential, CancellationToken cancellationToken = default) => UpdateAsync(credential, cancellationToken);

    public Task<CredentialRecord?> GetAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(connection => GetAsync<CredentialRecord>(connection, workspaceId, credentialId, Kind, cancellationToken));

    /// <summary>Read on every gateway call (credential step), so remembered until the next write.</summary>
    public Task<IReadOnlyList<CredentialRecord>> ListAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        db.ReadRememberedAsync<IReadOnlyList<CredentialRecord>>("credentials:" + workspaceId,
            async connection => await ListAsync<CredentialRecord>(connection, workspaceId, Kind, cancellationToken));

    public Task UpdateAsync(CredentialRecord credential, CancellationToken cancellationToken = default) =>
        db.WriteAsync(async connection =>
        {
            await UpsertAsync(connection, credential.WorkspaceId, credential.Id, Kind, credential, cancellationToken);
            return true;
        }, cancellationToken);

    public Task<bool> DeleteAsync(string workspaceId, string credentialId, CancellationToken cancellationToken = default) =>
        db.WriteAsync(connection => SqliteDocuments.DeleteAsync(connection, workspaceId, credentialId, Kind, cancellationToken), cancellationToken);
}

internal sealed class SqliteTraceStore(SqliteDatabase db) : ITraceStore
{
    /// <summary>
    /// The trace and the settlement in one append (one savepoint of the writer's transaction): after any crash both are
    /// there or neither is. The trace takes the next commit sequence number, from which the rollups are kept.
    /// </summary>
    public Task AppendAsync(RequestTrace trace, BudgetSettlement? settlement = null, CancellationToken cancellationToken = default) =>
        db.AppendAsync(async connection =>
        {
            if (settlement is not null)
            {
                await SqliteBudgetLedger.SettleAsync(connection, trace.WorkspaceId, settlement.ProjectId, settlement.Periods,
                    settlement.ReservedUsd, settlement.ActualUsd, cancellationToken);
                if (settlement.WorkspaceReservedUsd != 0 || settlement.ActualUsd != 0)
                {
                    await SqliteBudgetLedger.SettleAsync(connection, trace.WorkspaceId, WorkspaceBudget.LedgerId, settlement.Periods,
                        settlement.WorkspaceReservedUsd, settlement.ActualUsd, cancellationToken);
                }
            }

            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO traces (workspace_id, id, created_at, project_id, provider, model, mode, cache_status, feature, body, seq)
                VALUES ($ws, $id, $at, $project, $provider, $model, $mode, $cache, $feature, $body, (SELECT IFNULL(MAX(seq), 0) + 1 FROM traces))
                ON CONFLICT (workspace_id, id) DO UPDATE SET body = excluded.body
                """;
            command.Parameters.AddWithValue("$ws", trace.WorkspaceId);
            command.Parameters.AddWithValue("$id", trace.Id);
            command.Parameters.AddWithValue("$at", trace.CreatedAt.UtcTicks);
            command.Parameters.AddWithValue("$project", (object?)trace.ProjectId ?? DBNull.Value);
            command.Parameters.AddWithValue("$provider", (object?)trace.Provider ?? DBNull.Value);
            command.Parameters.AddWithValue("$model", (object?)trace.FinalModel ?? DBNull.Value);
            command.Parameters.AddWithValue("$mode", (object?)trace.OptimizationMode ?? DBNull.Value);
            command.Parameters.AddWithValue("$cache", trace.CacheStatus);
            command.Parameters.AddWithValue("$feature", trace.Feature);
            command.Parameters.AddWithValue("$body", JsonSerializer.Serialize(trace, Json));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<RequestTrace?> GetAsync(string workspaceId, string requestId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT body FROM traces WHERE workspace_id = $ws AND id = $id";
            command.Parameters.AddWithValue("$ws", workspaceId);
            command.Parameters.AddWithValue("$id", requestId);
            var body = (string?)await command.ExecuteScalarAsync(cancellationToken);
            return body is null ? null : JsonSerializer.Deserialize<RequestTrace>(body, Json);
        });

    public Task<TracePage> QueryAsync(string workspaceId, TraceQuery query, CancellationToken cancellationToken = default) =>
        db.ReadAsync(async connection =>
        {
            var limit = Math.Clamp(query.Limit, 1, 500);
            var sql = new StringBuilder("SELECT body, created_at, id FROM traces WHERE workspace_id = $ws");
            await using var command = connection.CreateCommand();
            command.Parameters.AddWithValue("$ws", workspaceId);
            void Filter(string column, string name, string? value)
            {
                if (value is not null)
                {
                    sql.Append(CultureInfo.InvariantCulture, $" AND {column} = ${name}");
                    command.Parameters.AddWithValue("$" + name, value);
                }
            }

            Filter("provider", "provider", query.Provider);
            Filter("model", "model", query.Model);
            Filter("mode", "mode", query.Mode);
            Filter("cache_status", "cache", query.CacheStatus);
            Filter("feature", "feature", query.Feature);
            Filter("project_id", "project", query.ProjectId);
            Filter("COALESCE(json_extract(body, '$.finalProvider'), provider)", "finalProvider", query.FinalProvider);
            if (query.ModelContains is not null)
            {
                sql.Append(" AND instr(lower(model), lower($modelPart)) > 0");
                command.Parameters.AddWithValue("$modelPart", query.ModelContains);
            }

            if (query.From is { } from)
            {
                sql.Append(" AND created_at >= $from");
                command.Parameters.AddWithValue("$from", from.UtcTicks);
            }

            if (query.To is { } to)
            {
                sql.Append(" AND created_at <= $to");
                command.Parameters.AddWithValue("$to", to.UtcTicks);
            }

            if (query.Cursor is not null)
            {
                if (!TraceCursor.TryDecode(query.Cursor, out var cursorTicks, out var cursorId))
                {
                    throw new InvalidCursorException();
                }

                sql.Append(" AND (created_at < $cat OR (created_at = $cat AND id < $cid))");
                command.Parameters.AddWithValue("$cat", cursorTicks);
                command.Parameters.AddWithValue("$cid", cursorId);
            }

            sql.Append(" ORDER BY created_at DESC, id DESC LIMIT $limit");
            command.Parameters.AddWithValue("$limit", limit + 1);
            command.CommandText = sql.ToString();

            var items = new List<RequestTrace>();
            string? next = null;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (items.Count == limit)
                {
                    var last = items[^1];
                    next = TraceCursor.Encode(last.CreatedAt.UtcTicks, last.Id);
                    break;
                }

                items.Add(JsonSerializer.Deserialize<RequestTrace>(reader.GetString(0), Json)!);
            }

            return new TracePage(items, next);
        });
}

/// <summary>Opaque page cursors: base64url of "ticks|id" of the last item seen.</summary>
public static class TraceCursor
{
    public static string Encode(long ticks, string id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(ticks.ToString(CultureInfo.InvariantCulture) + "|" + id)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string? cursor, out long ticks, out string id)
    {
        ticks = 0;
        id = string.Empty;
        if (string.IsNullOrEmpty(cursor) || cursor.Length > 200)
        {
            return false;
        }

        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar <= 0 || !long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out ticks))
            {
                return false;
            }

            id = text[(bar + 1)..];
            return id.Length > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>The <c>store</c> readiness check: a query answered by the database file.</summary>
internal sealed class SqliteHealthCheck(SqliteDatabase db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await db.ReadAsync(async connection =>
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1";
                return await command.ExecuteScalarAsync(cancellationToken);
            });
            return HealthCheckResult.Healthy("sqlite");
        }
        catch (SqliteException ex)
        {
            return HealthCheckResult.Unhealthy($"sqlite error {ex.SqliteErrorCode}");
        }
        catch (StoreUnavailableException ex) when (ex.InnerException is SqliteException sqlite)
        {
            return HealthCheckResult.Unhealthy($"sqlite error {sqlite.SqliteErrorCode}");
        }
    }
}
