using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using Microsoft.Extensions.Logging;

namespace KillToken.Providers.Common;

/// <summary>What the shared sender hands back: the upstream's JSON or a mapped failure.</summary>
internal sealed record UpstreamResult(int Status, JsonNode? Body, GatewayError? Error, TimeSpan Latency);

/// <summary>
/// Sends one provider request with a per-attempt timeout and bounded, jittered retries on connection
/// failures, 429 and 5xx; maps failures to the contract's codes; scrubs the credential from anything it returns.
/// </summary>
internal sealed partial class ProviderHttp(IHttpClientFactory clients, GatewayOptions options, TimeProvider time, ILogger<ProviderHttp> logger)
{
    public const string ClientName = "killtoken-providers";
    private const int MaxAttempts = 3;
    private static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(5);

    public async Task<UpstreamResult> SendAsync(
        Func<HttpRequestMessage> createRequest, ResolvedCredential credential, string providerName, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(ClientName);
        var started = time.GetTimestamp();
        UpstreamResult? last = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ProviderTimeout);
            TimeSpan? retryAfter = null;
            try
            {
                using var request = createRequest();
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
                var status = (int)response.StatusCode;
                retryAfter = RetryAfter(response);
                last = Map(status, bytes, retryAfter, credential, providerName, time.GetElapsedTime(started));
                if (last.Error is null || !IsRetryable(status) || attempt == MaxAttempts)
                {
                    return last;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // One attempt ran out of time: answer 504 rather than wait for another full timeout.
                return new UpstreamResult(504, null, new GatewayError(504, ErrorCodes.ProviderTimeout,
                    $"{providerName} did not answer within {options.ProviderTimeout.TotalSeconds:0} seconds."), time.GetElapsedTime(started));
            }
            catch (HttpRequestException ex)
            {
                Log.ConnectionFailed(logger, providerName, attempt, ex.HttpRequestError.ToString());
                last = new UpstreamResult(502, null, new GatewayError(502, ErrorCodes.ProviderError,
                    $"Could not reach {providerName} ({ex.HttpRequestError})."), time.GetElapsedTime(started));
                if (attempt == MaxAttempts)
                {
                    return last;
                }
            }

            await Task.Delay(Backoff(attempt, retryAfter), time, cancellationToken);
        }

        return last!;
    }

    /// <summary>
    /// Sends a streaming request and waits for the response to begin. Like <see cref="SendAsync"/> it retries connection
    /// failures, 429 and 5xx with backoff — but only until a response began: an event stream is handed over at once and
    /// never retried. The per-attempt timeout covers the wait for the headers; the stream then has an idle timeout
    /// between events of the same length.
    /// </summary>
    public Task<ProviderStreamStart> OpenStreamAsync(
        Func<HttpRequestMessage> createRequest, IStreamAccumulator accumulator, ResolvedCredential credential, string providerName,
        CancellationToken cancellationToken) =>
        OpenStreamAsync(createRequest, accumulator, StreamWireFormat.ServerSentEvents, credential, providerName, cancellationToken);

    /// <summary>As <see cref="OpenStreamAsync(Func{HttpRequestMessage}, IStreamAccumulator, ResolvedCredential, string, CancellationToken)"/>, for a stream in <paramref name="format"/>.</summary>
    public async Task<ProviderStreamStart> OpenStreamAsync(
        Func<HttpRequestMessage> createRequest, IStreamAccumulator accumulator, StreamWireFormat format, ResolvedCredential credential,
        string providerName, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(ClientName);
        var started = time.GetTimestamp();
        ProviderStreamStart? last = null;
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ProviderTimeout);
            TimeSpan? retryAfter = null;
            HttpResponseMessage? response = null;
            try
            {
                using var request = createRequest();
                request.Headers.Accept.ParseAdd(format.MediaType);
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var status = (int)response.StatusCode;
                var latency = time.GetElapsedTime(started);
                if (response.IsSuccessStatusCode && IsEventStream(response, format))
                {
                    var body = await response.Content.ReadAsStreamAsync(timeout.Token);
                    var stream = new SseProviderStream(response, body, accumulator, credential, providerName, options.ProviderTimeout, time, format);
                    response = null; // the stream owns it now
                    return new ProviderStreamStart { Stream = stream, UpstreamStatus = status, Latency = latency };
                }

                var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
                retryAfter = RetryAfter(response);
                var error = response.IsSuccessStatusCode
                    ? new GatewayError(502, ErrorCodes.ProviderError,
                        $"{providerName} answered a streaming request with '{response.Content.Headers.ContentType?.MediaType}', not an event stream.")
                    : Map(status, bytes, retryAfter, credential, providerName, latency).Error!;
                last = new ProviderStreamStart { Error = error, UpstreamStatus = status, Latency = latency };
                if (response.IsSuccessStatusCode || !IsRetryable(status) || attempt == MaxAttempts)
                {
                    return last;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new ProviderStreamStart
                {
                    Error = new GatewayError(504, ErrorCodes.ProviderTimeout,
                        $"{providerName} did not begin its answer within {options.ProviderTimeout.TotalSeconds:0} seconds."),
                    UpstreamStatus = 504,
                    Latency = time.GetElapsedTime(started),
                };
            }
            catch (HttpRequestException ex) when (MayHaveReachedProvider(ex))
            {
                // The connection broke after the request went out (a reset, or an end before the headers were read): the
                // provider may already be generating, and billing, this answer. Sending it again would be a second
                // billable call, so it is not retried, and the pipeline charges the prompt it delivered.
                Log.ConnectionFailed(logger, providerName, attempt, ex.HttpRequestError.ToString());
                return new ProviderStreamStart
                {
                    Error = new GatewayError(502, ErrorCodes.ProviderError,
                        $"{providerName} broke the connection before its answer began ({ex.HttpRequestError})."),
                    UpstreamStatus = 502,
                    Latency = time.GetElapsedTime(started),
                    RequestDelivered = true,
                };
            }
            catch (HttpRequestException ex)
            {
                Log.ConnectionFailed(logger, providerName, attempt, ex.HttpRequestError.ToString());
                last = new ProviderStreamStart
                {
                    Error = new GatewayError(502, ErrorCodes.ProviderError, $"Could not reach {providerName} ({ex.HttpRequestError})."),
                    UpstreamStatus = 502,
                    Latency = time.GetElapsedTime(started),
                };
                if (attempt == MaxAttempts)
                {
                    return last;
                }
            }
            finally
            {
                response?.Dispose();
            }

            await Task.Delay(Backoff(attempt, retryAfter), time, cancellationToken);
        }

        return last!;
    }

    /// <summary>
    /// False for failures that happen before a request can leave (no connection, no name, no TLS, no proxy tunnel),
    /// which are safe to retry; true for the rest (reset, premature end, invalid response), after which the provider
    /// may have received the request.
    /// </summary>
    private static bool MayHaveReachedProvider(HttpRequestException ex) => ex.HttpRequestError is not
        (HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
        or HttpRequestError.ProxyTunnelError or HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.VersionNegotiationError
        or HttpRequestError.ExtendedConnectNotSupported or HttpRequestError.UserAuthenticationError);

    private static bool IsEventStream(HttpResponseMessage response, StreamWireFormat format) =>
        string.Equals(response.Content.Headers.ContentType?.MediaType, format.MediaType, StringComparison.OrdinalIgnoreCase);

    private static bool IsRetryable(int status) => status == 429 || status >= 500;

    private static TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } hint && hint > TimeSpan.Zero)
        {
            return hint < MaxRetryAfter ? hint : MaxRetryAfter;
        }

        var exponential = BaseDelay * Math.Pow(2, attempt - 1);
        return exponential * (0.5 + (Random.Shared.NextDouble() / 2));
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - DateTimeOffset.UtcNow : null;
    }

    internal static UpstreamResult Map(int status, byte[] bytes, TimeSpan? retryAfter, ResolvedCredential credential, string providerName, TimeSpan latency)
    {
        // Not acceptable JSON (duplicate names, invalid UTF-8 …) is no body: a broken answer, never an exception later.
        JsonNode? body = null;
        if (bytes.Length > 0 && !UntrustedJson.TryParse(bytes, out body, out _))
        {
            body = null;
        }

        if (status is >= 200 and < 300)
        {
            return body is JsonObject
                ? new UpstreamResult(status, body, null, latency)
                : new UpstreamResult(status, null, new GatewayError(502, ErrorCodes.ProviderError, $"{providerName} answered with a body that is not a JSON object."), latency);
        }

        var redactor = new SecretRedactor(credential.SecretValues());
        var providerError = Scrub(body, bytes, redactor);
        var message = ProviderMessage(body) is { } m ? redactor.Redact(m) : $"{providerName} answered HTTP {status}.";
        var error = status switch
        {
            401 or 403 => new GatewayError(502, ErrorCodes.ProviderAuthFailed,
                $"{providerName} rejected the workspace's credential (HTTP {status}): {message}"),
            429 => new GatewayError(429, ErrorCodes.ProviderRateLimited, $"{providerName} is rate limiting this credential: {message}")
            {
                RetryAfterSeconds = retryAfter is { } r ? Math.Max(1, (int)Math.Ceiling(r.TotalSeconds)) : null,
            },
            >= 400 and < 500 => new GatewayError(status, ErrorCodes.ProviderRejected, $"{providerName} rejected the request: {message}"),
            _ => new GatewayError(502, ErrorCodes.ProviderError, $"{providerName} failed (HTTP {status})."),
        };

        return new UpstreamResult(status, null, error with
        {
            Details = new JsonObject { ["providerStatus"] = status, ["providerError"] = providerError },
        }, latency);
    }

    private static string? ProviderMessage(JsonNode? body) =>
        ChatRequestParser.AsString(ChatRequestParser.Field(ChatRequestParser.Field(body, "error"), "message"))
        ?? ChatRequestParser.AsString(ChatRequestParser.Field(body, "message"))
        ?? ChatRequestParser.AsString(ChatRequestParser.Field(body, "error"));

    private static JsonNode? Scrub(JsonNode? body, byte[] bytes, SecretRedactor redactor)
    {
        if (body is not null)
        {
            return redactor.Redact(body);
        }

        // Redact first, then shorten: a secret cut in half by the limit would otherwise escape the scrub.
        var redacted = redactor.Redact(Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 64 * 1024)));
        return redacted.Length == 0 ? null : JsonValue.Create(redacted.Length > 2048 ? redacted[..2048] : redacted);
    }

    /// <summary>A provider's JSON with every secret of the credential removed from its strings (see <see cref="SecretRedactor"/>).</summary>
    internal static JsonNode? Scrub(JsonNode? body, ResolvedCredential credential) => new SecretRedactor(credential.SecretValues()).Redact(body);

    /// <summary>Removes every secret of the credential from text that came back from the provider: as sent, JSON-escaped, percent-encoded or base64 (see <see cref="SecretRedactor"/>).</summary>
    internal static string Redact(string text, ResolvedCredential credential) => new SecretRedactor(credential.SecretValues()).Redact(text);

    public static StringContent JsonContent(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    public static HttpRequestMessage Get(Uri url) => new(HttpMethod.Get, url);

    public async Task<CredentialTestResult> TestAsync(Func<HttpRequestMessage> createRequest, ResolvedCredential credential, string providerName, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(ClientName);
        var started = time.GetTimestamp();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(Math.Min(30, options.ProviderTimeout.TotalSeconds)));
            using var request = createRequest();
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            var elapsed = Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return new CredentialTestResult(true, elapsed, status, $"{providerName} accepted the credential.");
            }

            var mapped = Map(status, bytes, null, credential, providerName, TimeSpan.Zero);
            return new CredentialTestResult(false, elapsed, status, mapped.Error!.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CredentialTestResult(false, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1), null, $"{providerName} did not answer in time.");
        }
        catch (HttpRequestException ex)
        {
            return new CredentialTestResult(false, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1), null, $"Could not reach {providerName} ({ex.HttpRequestError}).");
        }
    }

    public static void Bearer(HttpRequestMessage request, string? token) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Connection to {Provider} failed on attempt {Attempt}: {Reason}")]
        public static partial void ConnectionFailed(ILogger logger, string provider, int attempt, string reason);
    }
}
