using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace KillToken.Client.Internal;

/// <summary>
/// Sends one call: the key and user agent on every attempt, a per-attempt timeout, and — for calls safe to repeat —
/// bounded retries on 408/429/5xx and on no answer, waiting what <c>Retry-After</c> says (never longer than
/// <see cref="KillTokenClientOptions.MaxRetryDelay"/>). Failures become <see cref="KillTokenRequestException"/>.
/// </summary>
internal sealed class GatewayPipeline
{
    /// <summary>One connection pool for every client that was not handed an HttpClient (Azure SDK's shared transport).</summary>
    private static readonly HttpClient SharedHttpClient = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static readonly string PackageUserAgent = BuildUserAgent();

    private readonly HttpClient _http;
    private readonly KillTokenKeyCredential _credential;
    private readonly KillTokenClientOptions _options;
    private readonly string _userAgent;

    public GatewayPipeline(HttpClient? http, Uri endpoint, KillTokenKeyCredential credential, KillTokenClientOptions options)
    {
        _http = http ?? SharedHttpClient;
        Endpoint = endpoint;
        _credential = credential;
        _options = options;
        _userAgent = options.ApplicationId is { } app ? $"{app} {PackageUserAgent}" : PackageUserAgent;
    }

    public Uri Endpoint { get; }

    /// <summary>
    /// The successful response. With <paramref name="streamed"/> it is returned as soon as its headers arrive (the caller
    /// reads and disposes it); otherwise its body is read within the attempt's timeout.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, byte[]? jsonBody, bool retrySafe, bool streamed,
        CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_options.NetworkTimeout != Timeout.InfiniteTimeSpan)
            {
                attemptTimeout.CancelAfter(_options.NetworkTimeout);
            }

            KillTokenRequestException failure;
            var mayRetry = retrySafe;
            try
            {
                using var request = CreateRequest(method, pathAndQuery, jsonBody, streamed);
                var response = await _http.SendAsync(request, streamed ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead,
                    attemptTimeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }

                using (response)
                {
                    failure = await ReadFailureAsync(response, attemptTimeout.Token).ConfigureAwait(false);
                    mayRetry &= IsRetryableStatus(response.StatusCode) && !SaysDoNotRetry(response);
                }
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new KillTokenRequestException(0, null, $"The gateway did not answer within {_options.NetworkTimeout.TotalSeconds:0.###} s.",
                    new TimeoutException("The attempt's NetworkTimeout passed.", ex));
            }
            catch (HttpRequestException ex)
            {
                failure = new KillTokenRequestException(0, null, $"The gateway could not be reached ({ex.HttpRequestError}).", ex);
            }

            if (!mayRetry || attempt >= _options.MaxRetries || Delay(attempt, failure.RetryAfter) is not { } delay)
            {
                throw failure;
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The wait before retry <paramref name="attempt"/> + 1, or null when the gateway asked for longer than the client may wait.</summary>
    private TimeSpan? Delay(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } asked)
        {
            return asked <= _options.MaxRetryDelay ? asked : null;
        }

        var backoff = _options.RetryDelay.TotalMilliseconds * Math.Pow(2, attempt) * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return TimeSpan.FromMilliseconds(Math.Min(backoff, _options.MaxRetryDelay.TotalMilliseconds));
    }

    private HttpRequestMessage CreateRequest(HttpMethod method, string pathAndQuery, byte[]? jsonBody, bool streamed)
    {
        var request = new HttpRequestMessage(method, new Uri(Endpoint, pathAndQuery));
        // The key is read on every attempt, so a credential updated meanwhile is used at once.
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _credential.Key);
        request.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
        request.Headers.Accept.ParseAdd(streamed && method == HttpMethod.Post ? "text/event-stream" : "application/json");
        if (jsonBody is not null)
        {
            request.Content = new ByteArrayContent(jsonBody);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        return request;
    }

    /// <summary>The gateway's error body as an exception; any occurrence of the key is masked, though the gateway never echoes one.</summary>
    internal async Task<KillTokenRequestException> ReadFailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        ErrorBody? error = null;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (bytes.Length > 0 && bytes.Length < 1_000_000)
            {
                error = JsonSerializer.Deserialize(bytes, KillTokenJsonContext.Default.ErrorEnvelope)?.Error;
            }
        }
        catch (JsonException)
        {
            // Not the contract's error shape (a proxy's HTML page): the status alone tells what happened.
        }

        return Failure(status, error, RequestIdOf(response), RetryAfterOf(response));
    }

    internal KillTokenRequestException Failure(int status, ErrorBody? error, string? requestId, TimeSpan? retryAfter)
    {
        var gatewayMessage = Mask(error?.Message) ?? $"The gateway answered HTTP {status} ({ReasonPhrase(status)}).";
        var code = error?.Code;
        requestId = error?.RequestId ?? requestId;
        var message = $"{gatewayMessage} Status: {status}{(code is null ? "" : $", code: {code}")}{(requestId is null ? "" : $", request: {requestId}")}.";
        return new KillTokenRequestException(status, code, message)
        {
            GatewayMessage = gatewayMessage,
            RequestId = requestId,
            RetryAfter = retryAfter,
            Details = error?.Details ?? new Dictionary<string, JsonElement>(),
        };
    }

    private string? Mask(string? text)
    {
        var key = _credential.Key;
        return text is null || key.Length < 8 ? text : text.Replace(key, "[redacted key]", StringComparison.Ordinal);
    }

    private static bool IsRetryableStatus(HttpStatusCode status) => (int)status is 408 or 429 or 500 or 502 or 503 or 504;

    /// <summary>The gateway's <c>x-should-retry: false</c>: a spent budget or a provider's rejected credential cannot change on a retry.</summary>
    private static bool SaysDoNotRetry(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-should-retry", out var values) && values.Any(v => string.Equals(v, "false", StringComparison.OrdinalIgnoreCase));

    private static string? RequestIdOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-request-id", out var values) ? values.FirstOrDefault() : null;

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP " + status,
    };

    private static string BuildUserAgent()
    {
        var assembly = typeof(GatewayPipeline).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        version = plus < 0 ? version : version[..plus];
        var os = RuntimeInformation.OSDescription.Replace('(', '[').Replace(')', ']').Replace(';', ',');
        return $"KillToken.Client/{version} ({RuntimeInformation.FrameworkDescription}; {os})";
    }
}
