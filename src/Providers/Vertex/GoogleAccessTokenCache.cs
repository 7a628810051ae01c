using System.Collections.Concurrent;
using KillToken.Core.Gateway;

namespace KillToken.Providers.Vertex;

/// <summary>An OAuth access token and when it stops working.</summary>
internal sealed record GoogleAccessToken(string Value, DateTimeOffset ExpiresAt)
{
    public override string ToString() => $"access token (redacted, expires {ExpiresAt:O})";
}

/// <summary>
/// Access tokens per credential (id + secret version), reused until <see cref="RefreshMargin"/> before they expire.
/// Thread-safe; at most one exchange per credential at a time — callers arriving during a refresh wait for it and reuse it.
/// </summary>
internal sealed class GoogleAccessTokenCache(TimeProvider time)
{
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);

    /// <summary>The cached token, or a new one from <paramref name="exchange"/> (which is never run twice at once per key).</summary>
    public async Task<(GoogleAccessToken? Token, GatewayError? Error)> GetAsync(
        string key, Func<CancellationToken, Task<(GoogleAccessToken? Token, GatewayError? Error)>> exchange, CancellationToken cancellationToken = default)
    {
        var slot = _slots.GetOrAdd(key, _ => new Slot());
        if (Fresh(Volatile.Read(ref slot.Current)) is { } cached)
        {
            return (cached, null);
        }

        await slot.Gate.WaitAsync(cancellationToken);
        try
        {
            if (Fresh(Volatile.Read(ref slot.Current)) is { } refreshed)
            {
                return (refreshed, null);
            }

            var (token, error) = await exchange(cancellationToken);
            if (token is not null)
            {
                Volatile.Write(ref slot.Current, token);
            }

            return (token, error);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    /// <summary>Drops <paramref name="token"/> after the provider refused it, unless a newer one already replaced it.</summary>
    public void Invalidate(string key, GoogleAccessToken token)
    {
        if (_slots.TryGetValue(key, out var slot))
        {
            Interlocked.CompareExchange(ref slot.Current, null, token);
        }
    }

    private GoogleAccessToken? Fresh(GoogleAccessToken? token) =>
        token is not null && time.GetUtcNow() < token.ExpiresAt - RefreshMargin ? token : null;

    private sealed class Slot
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public GoogleAccessToken? Current;
    }
}
