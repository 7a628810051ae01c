namespace KillToken.Core.Idempotency;

public static class IdempotencyStatus
{
    public const string None = "none";
    public const string New = "new";
    public const string Replayed = "replayed";
}

/// <summary>A finished answer kept for replay under an idempotency key.</summary>
public sealed record StoredOutcome(int Status, string BodyJson, string MetricsJson);

public sealed record IdempotencyDecision
{
    /// <summary>Proceed with the call; the step holds the key until <see cref="IIdempotencyGate.CompleteAsync"/>.</summary>
    public bool Proceed { get; init; }
    public StoredOutcome? Replay { get; init; }
    /// <summary>Same key, different request.</summary>
    public bool Conflict { get; init; }

    public static IdempotencyDecision Go { get; } = new() { Proceed = true };
}

public interface IIdempotencyGate
{
    Task<IdempotencyDecision> BeginAsync(string workspaceId, string projectId, string key, string requestHash, CancellationToken cancellationToken = default);

    Task CompleteAsync(string workspaceId, string projectId, string key, string requestHash, StoredOutcome outcome, CancellationToken cancellationToken = default);

    /// <summary>The first attempt failed before the provider answered: free the key for a retry.</summary>
    Task AbandonAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default);
}

/// <summary>The spine's pass-through: every request proceeds.</summary>
public sealed class NoIdempotencyGate : IIdempotencyGate
{
    public Task<IdempotencyDecision> BeginAsync(string workspaceId, string projectId, string key, string requestHash, CancellationToken cancellationToken = default) => Task.FromResult(IdempotencyDecision.Go);

    public Task CompleteAsync(string workspaceId, string projectId, string key, string requestHash, StoredOutcome outcome, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task AbandonAsync(string workspaceId, string projectId, string key, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
