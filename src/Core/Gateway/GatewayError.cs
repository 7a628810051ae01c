using System.Text.Json.Nodes;

namespace KillToken.Core.Gateway;

/// <summary>
/// A failure the gateway answers with: HTTP status, the contract's snake_case code and a safe message.
/// Carried as a value through the pipeline (YARP's ForwarderError habit), never thrown.
/// </summary>
public sealed record GatewayError(int Status, string Code, string Message)
{
    /// <summary>Extra top-level fields of the error object (budget scope, provider error body, …).</summary>
    public JsonObject? Details { get; init; }

    /// <summary>Seconds for a <c>Retry-After</c> header, where the client should wait.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static GatewayError BadRequest(string code, string message) => new(400, code, message);
    public static GatewayError Unauthorized(string message = "Missing, unknown or revoked API key.") => new(401, ErrorCodes.InvalidApiKey, message);
    public static GatewayError Forbidden(string message) => new(403, ErrorCodes.Forbidden, message);
    public static GatewayError NotFound(string what) => new(404, ErrorCodes.NotFound, $"{what} was not found.");

    /// <summary>
    /// 503 for a store or vault that could not answer: its code, a message that names no internals, and a
    /// <c>Retry-After</c> of what the dependency asked for (at least 1 s, at most 30 s), else <see cref="DefaultRetryAfterSeconds"/>.
    /// </summary>
    public static GatewayError Unavailable(Ports.DependencyUnavailableException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var seconds = exception.RetryAfter is { } wait ? (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 30) : DefaultRetryAfterSeconds;
        var message = exception is Ports.VaultUnavailableException
            ? "The secret vault is unavailable for the moment; retry after the Retry-After delay."
            : "The store is unavailable for the moment; retry after the Retry-After delay.";
        return new GatewayError(503, exception.Code, message) { RetryAfterSeconds = seconds };
    }

    /// <summary>Retry-After for a store or vault that gave no delay of its own.</summary>
    public const int DefaultRetryAfterSeconds = 2;
}

/// <summary>The error codes of the contract (§4). Clients match on these strings.</summary>
public static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string InvalidRequest = "invalid_request";
    public const string InvalidMessages = "invalid_messages";
    public const string InvalidModel = "invalid_model";
    public const string InvalidCachePolicy = "invalid_cache_policy";
    public const string InvalidOptimizationMode = "invalid_optimization_mode";
    public const string InvalidIdempotencyKey = "invalid_idempotency_key";
    public const string InvalidProviderOptions = "invalid_provider_options";
    public const string InvalidMetadata = "invalid_metadata";
    public const string InvalidApiKey = "invalid_api_key";
    public const string InvalidProviderSecrets = "invalid_provider_secrets";
    public const string InvalidProviderConfig = "invalid_provider_config";
    public const string ProviderCredentialRequired = "provider_credential_required";
    public const string ProviderNotSupported = "provider_not_supported";
    public const string StreamingNotSupported = "streaming_not_supported";
    public const string BudgetExceeded = "budget_exceeded";
    public const string RequestTooLarge = "request_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string ProviderError = "provider_error";
    public const string ProviderTimeout = "provider_timeout";
    public const string ProviderAuthFailed = "provider_auth_failed";
    public const string ProviderRateLimited = "provider_rate_limited";
    public const string ProviderRejected = "provider_rejected";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string InternalError = "internal_error";
    public const string Conflict = "conflict";
    public const string InviteExpired = "invite_expired";
    public const string InviteEmailMismatch = "invite_email_mismatch";
    public const string LastOwner = "last_owner";
    public const string ValidationFailed = "validation_failed";
    public const string InvalidCredentials = "invalid_credentials";
    public const string TooManyAttempts = "too_many_attempts";
    /// <summary>429 with Retry-After: the project sent more requests than its per-minute rate (this instance's count).</summary>
    public const string RateLimited = "rate_limited";
    public const string Unauthenticated = "unauthenticated";
    public const string InsufficientScope = "insufficient_scope";
    public const string ClientClosedRequest = "client_closed_request";
    public const string StoreUnavailable = "store_unavailable";
    public const string VaultUnavailable = "vault_unavailable";
}
