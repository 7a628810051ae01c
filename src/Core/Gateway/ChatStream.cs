using KillToken.Core.Providers;

namespace KillToken.Core.Gateway;

/// <summary>
/// A streamed answer on its way to the client: the provider's events as they arrive (or a replay of a stored answer).
/// Enumerate <see cref="Events"/> once; <see cref="Outcome"/> (metrics, and the error if the stream failed) is set when
/// the enumeration ends — the call is settled (cost, budget, cache, idempotency, trace) by then. A client that stops
/// enumerating (disconnects) cancels the upstream and the call is settled as <c>499 client_closed_request</c>.
/// </summary>
public sealed class ChatStream : IAsyncDisposable
{
    private readonly IAsyncEnumerable<ServerSentEvent> _events;
    private readonly Func<ValueTask>? _abandon;
    private int _started;

    internal ChatStream(ProviderId provider, string model, IAsyncEnumerable<ServerSentEvent> events, Func<ValueTask>? abandon)
    {
        Provider = provider;
        Model = model;
        _events = events;
        _abandon = abandon;
    }

    /// <summary>The provider whose wire format the events are in (the fallback's provider after a cross-provider fallback).</summary>
    public ProviderId Provider { get; }

    /// <summary>The model the provider was asked for (the fallback model when the budget chose it).</summary>
    public string Model { get; }

    /// <summary>True when the events replay a stored answer (cache hit, idempotent replay) rather than a live upstream.</summary>
    public bool IsReplay { get; internal init; }

    public ChatOutcome? Outcome { get; internal set; }

    public IAsyncEnumerable<ServerSentEvent> Events => _events;

    /// <summary>Releases what a stream whose events were never read still holds (its reservation, its idempotency key, the upstream).</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _started, 1) == 0 && _abandon is not null ? _abandon() : ValueTask.CompletedTask;

    /// <summary>Called by the pump as it begins: from then on it settles and releases the call itself.</summary>
    internal void MarkStarted() => Interlocked.Exchange(ref _started, 1);
}

/// <summary>The start of a streaming call: a stream to forward, or an outcome that ended it before any event (an error).</summary>
public sealed record ChatStreamResult
{
    public ChatStream? Stream { get; init; }
    public ChatOutcome? Outcome { get; init; }
}
