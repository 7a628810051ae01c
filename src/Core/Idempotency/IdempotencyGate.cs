using System.Collections.Concurrent;
using KillToken.Core.Gateway;

namespace KillToken.Core.Idempotency;

/// <summary>One idempotency key's record: held while the first attempt runs, then the stored answer.</summary>
public sealed record IdempotencyRecord
{
    public required string ProjectId { get; init; }
    public required string Key { get; init; }
    public required string RequestHash { get; init; }
    public StoredOutcome? Outcome { get; init; }
    /// <summary>When a pending hold is considered abandoned (a crashed instance), or when a finished record expires.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>Storage for idempotency records, scoped to a project; records expire (24 h once finished).</summary>
public interface IIdempotencyStore
{
    /// <summary>Creates the record unless one exists; returns the existing live record, or null when this call created it.</summary>
    Task<IdempotencyRecord?> TryCreateAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default);

    Task CompleteAsync(string workspaceId, IdempotencyRecord record, CancellationToken cancellationToken = default);

    Task DeleteAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default);
}

/// <summary>
/// §3 step 3 over an <see cref="IIdempotencyStore"/>: the first request under a key holds it; a twin arriving
/// meanwhile waits (in-process signal, else polling the store) and replays the stored answer, so exactly one
/// provider call happens; a first attempt that fails before the provider answered frees the key.
/// </summary>
public sealed class IdempotencyGate(IIdempotencyStore store, GatewayOptions options, TimeProvider time) : IIdempotencyGate
{
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _inFlight = new(StringComparer.Ordinal);

    private static string Slot(string projectId, string key) => projectId + "\n" + key;

    private TimeSpan HoldLimit => options.ProviderTimeout * 3 + TimeSpan.FromSeconds(30);

    public async Task<IdempotencyDecision> BeginAsync(string workspaceId, string projectId, string key, string requestHash, CancellationToken cancellationToken = default)
    {
        var deadline = time.GetUtcNow() + HoldLimit;
        while (true)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var existing = await store.TryCreateAsync(workspaceId, new IdempotencyRecord
            {
                ProjectId = projectId,
                Key = key,
                RequestHash = requestHash,
                ExpiresAt = time.GetUtcNow() + HoldLimit,
            }, cancellationToken);

            if (existing is null)
            {
                _inFlight[Slot(projectId, key)] = signal;
                return IdempotencyDecision.Go;
            }

            if (existing.RequestHash != requestHash)
            {
                return new IdempotencyDecision { Conflict = true };
            }

            if (existing.Outcome is not null)
            {
                return new IdempotencyDecision { Replay = existing.Outcome };
            }

            if (time.GetUtcNow() > deadline)
            {
                return new IdempotencyDecision { Conflict = true };
            }

            // The twin is in flight: wait for its signal here, or poll the store if it runs elsewhere.
            var wait = _inFlight.TryGetValue(Slot(projectId, key), out var running) ? running.Task : Task.CompletedTask;
            await Task.WhenAny(wait, Task.Delay(PollInterval, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public async Task CompleteAsync(string workspaceId, string projectId, string key, string requestHash, StoredOutcome outcome, CancellationToken cancellationToken = default)
    {
        await store.CompleteAsync(workspaceId, new IdempotencyRecord
        {
            ProjectId = projectId,
            Key = key,
            RequestHash = requestHash,
            Outcome = outcome,
            ExpiresAt = time.GetUtcNow() + Retention,
        }, cancellationToken);
        Release(projectId, key);
    }

    public async Task AbandonAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default)
    {
        await store.DeleteAsync(workspaceId, projectId, key, cancellationToken);
        Release(projectId, key);
    }

    private void Release(string projectId, string key)
    {
        if (_inFlight.TryRemove(Slot(projectId, key), out var signal))
        {
            signal.TrySetResult();
        }
    }
}
