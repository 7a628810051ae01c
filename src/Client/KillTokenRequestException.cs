using System.Text.Json;

namespace KillToken.Client;

/// <summary>
/// The gateway refused or failed a call (Azure SDK's <c>RequestFailedException</c> shape): the HTTP status, the
/// contract's error code (<c>budget_exceeded</c>, <c>invalid_api_key</c>, …) to match on, the gateway's own safe message,
/// its request id, and how long to wait when it said. A call that got no answer at all (connection refused, timed out)
/// has <see cref="Status"/> 0 and the cause as <see cref="Exception.InnerException"/>. Never carries the key.
/// </summary>
public sealed class KillTokenRequestException : Exception
{
    /// <summary>An exception with a message only (status 0).</summary>
    public KillTokenRequestException()
    {
    }

    /// <summary>An exception with a message only (status 0).</summary>
    public KillTokenRequestException(string message)
        : base(message)
    {
    }

    /// <summary>An exception with a message and its cause (status 0).</summary>
    public KillTokenRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>An exception for an answer of the gateway.</summary>
    public KillTokenRequestException(int status, string? errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorCode = errorCode;
    }

    /// <summary>The HTTP status of the gateway's answer; 0 when no answer arrived.</summary>
    public int Status { get; }

    /// <summary>The contract's snake_case error code (<c>error.code</c>), or null when the answer had none.</summary>
    public string? ErrorCode { get; }

    /// <summary>The gateway's message, written for people and free of secrets (the exception's message adds status and code).</summary>
    public string? GatewayMessage { get; init; }

    /// <summary>The gateway's id of the failed request (<c>x-request-id</c>), to find its trace.</summary>
    public string? RequestId { get; init; }

    /// <summary>How long the gateway asked the client to wait (<c>Retry-After</c>) before trying again.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// The other fields of the error object: for <c>budget_exceeded</c> <c>scope</c>, <c>limitUsd</c>, <c>spentUsd</c>,
    /// <c>resetsAt</c>; for a provider failure <c>providerStatus</c> and <c>providerError</c>.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement> Details { get; init; } = new Dictionary<string, JsonElement>();
}
