using System.Globalization;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using KillToken.Client.Internal;

namespace KillToken.Client;

/// <summary>
/// The client of a KillToken gateway's project-key routes: <c>/v1/chat</c> (plain and streamed), request traces, the
/// summary and ROI reports, exports and provider credentials. Immutable and thread-safe: make one per gateway and key,
/// and share it. Every method takes a <see cref="CancellationToken"/>; failures are <see cref="KillTokenRequestException"/>.
/// </summary>
public class KillTokenClient
{
    private const string MetricsEvent = "killtoken.metrics";

    private readonly GatewayPipeline _pipeline = null!;

    /// <summary>For mocking in tests of code that uses the client.</summary>
    protected KillTokenClient()
    {
    }

    /// <summary>A client of the gateway at <paramref name="endpoint"/> (e.g. <c>http://localhost:7071</c>) with the project key <paramref name="apiKey"/>.</summary>
    public KillTokenClient(Uri endpoint, string apiKey)
        : this(endpoint, new KillTokenKeyCredential(apiKey), new KillTokenClientOptions())
    {
    }

    /// <summary>A client of the gateway at <paramref name="endpoint"/> with the project key <paramref name="apiKey"/> and <paramref name="options"/>.</summary>
    public KillTokenClient(Uri endpoint, string apiKey, KillTokenClientOptions options)
        : this(endpoint, new KillTokenKeyCredential(apiKey), options)
    {
    }

    /// <summary>A client whose key can be replaced later (<see cref="KillTokenKeyCredential.Update"/>), for keys that are regenerated.</summary>
    public KillTokenClient(Uri endpoint, KillTokenKeyCredential credential, KillTokenClientOptions? options = null)
    {
        _pipeline = CreatePipeline(null, endpoint, credential, options);
    }

    /// <summary>
    /// A client that sends through <paramref name="httpClient"/> (one from <c>IHttpClientFactory</c>, with your handlers).
    /// The client never disposes it; the HttpClient's own <see cref="HttpClient.Timeout"/> also applies.
    /// </summary>
    public KillTokenClient(HttpClient httpClient, Uri endpoint, KillTokenKeyCredential credential, KillTokenClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _pipeline = CreatePipeline(httpClient, endpoint, credential, options);
    }

    private static GatewayPipeline CreatePipeline(HttpClient? httpClient, Uri endpoint, KillTokenKeyCredential credential, KillTokenClientOptions? options)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(credential);
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException("The endpoint must be an absolute http or https address.", nameof(endpoint));
        }

        // A trailing slash, so that a gateway behind a path prefix (https://host/killtoken) keeps its prefix.
        var baseAddress = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        return new GatewayPipeline(httpClient, baseAddress, credential, (options ?? new KillTokenClientOptions()).Validated());
    }

    /// <summary>The gateway's address.</summary>
    public virtual Uri Endpoint => _pipeline.Endpoint;

    // ---- /v1/chat ----

    /// <summary>
    /// <c>POST /v1/chat</c>: the provider's response unchanged and the gateway's metrics. Retried on 429/5xx only when
    /// <see cref="ChatRequest.IdempotencyKey"/> is set (the gateway then replays instead of calling the provider twice).
    /// </summary>
    public virtual async Task<ChatResult> ChatAsync(ChatRequest request, CancellationToken cancellationToken = default)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(ChatRequestBody.From(request, stream: false), KillTokenJsonContext.Default.ChatRequestBody);
        var answer = await SendJsonAsync(HttpMethod.Post, "v1/chat", body, retrySafe: request.IdempotencyKey is not null,
            KillTokenJsonContext.Default.ChatResponseBody, cancellationToken).ConfigureAwait(false);
        return answer.Metrics is null || answer.Response.ValueKind == JsonValueKind.Undefined
            ? throw new KillTokenRequestException(200, null, "The gateway's answer has no 'response' and 'metrics': is the endpoint a KillToken gateway?")
            : new ChatResult(answer.Response, answer.Metrics);
    }

    /// <summary>
    /// <c>POST /v1/chat</c> with <c>stream: true</c>: the provider's events as they arrive, then one event carrying the
    /// metrics (<see cref="ChatStreamEvent.IsMetrics"/>). A refusal before the stream begins throws on the first
    /// <c>MoveNextAsync</c>; a failure reported inside the stream throws after its last event, with the stream's status (200).
    /// </summary>
    public virtual async IAsyncEnumerable<ChatStreamEvent> StreamChatAsync(ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(ChatRequestBody.From(request, stream: true), KillTokenJsonContext.Default.ChatRequestBody);
        using var response = await _pipeline.SendAsync(HttpMethod.Post, "v1/chat", body, retrySafe: request.IdempotencyKey is not null, streamed: true,
            cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        KillTokenRequestException? failure = null;
        await foreach (var sse in ServerSentEvents.ReadAsync(stream, cancellationToken).ConfigureAwait(false))
        {
            if (sse.Name == MetricsEvent)
            {
                var metrics = Deserialize(sse.Data, KillTokenJsonContext.Default.ChatMetrics, (int)response.StatusCode);
                yield return new ChatStreamEvent(sse.Name, sse.Data, metrics);
            }
            else if (sse.Name == "error" && GatewayError(sse.Data) is { } error)
            {
                failure = _pipeline.Failure((int)response.StatusCode, error, null, null);
            }
            else
            {
                yield return new ChatStreamEvent(sse.Name, sse.Data, null);
            }
        }

        if (failure is not null)
        {
            throw failure;
        }
    }

    // ---- traces ----

    /// <summary><c>GET /v1/requests</c>: one page of traces, newest first; pass <see cref="RequestTracePage.NextCursor"/> for the next.</summary>
    public virtual Task<RequestTracePage> GetRequestsPageAsync(RequestQuery? query = null, string? cursor = null, CancellationToken cancellationToken = default)
    {
        var path = "v1/requests" + QueryString(TraceFilters(query, paging: true).Append(("cursor", cursor)));
        return SendJsonAsync(HttpMethod.Get, path, null, retrySafe: true, KillTokenJsonContext.Default.RequestTracePage, cancellationToken);
    }

    /// <summary><c>GET /v1/requests</c>: every trace that matches, newest first, reading page after page as it is enumerated.</summary>
    public virtual async IAsyncEnumerable<RequestTrace> GetRequestsAsync(RequestQuery? query = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await GetRequestsPageAsync(query, cursor, cancellationToken).ConfigureAwait(false);
            foreach (var trace in page.Data)
            {
                yield return trace;
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary><c>GET /v1/requests/{id}</c>: one trace of the key's workspace.</summary>
    public virtual Task<RequestTrace> GetRequestAsync(string requestId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        return SendJsonAsync(HttpMethod.Get, "v1/requests/" + Uri.EscapeDataString(requestId), null, retrySafe: true,
            KillTokenJsonContext.Default.RequestTrace, cancellationToken);
    }

    // ---- reports ----

    /// <summary><c>GET /v1/summary</c>: totals, savings, cache hit rate, top templates, by feature (the last 30 days by default).</summary>
    public virtual Task<SummaryReport> GetSummaryAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default) =>
        SendJsonAsync(HttpMethod.Get, "v1/summary" + QueryString([("from", Instant(from)), ("to", Instant(to))]), null, retrySafe: true,
            KillTokenJsonContext.Default.SummaryReport, cancellationToken);

    /// <summary><c>GET /v1/reports/roi</c>: estimated, verified, potential and cache savings (the last 30 days by default).</summary>
    public virtual Task<RoiReport> GetRoiReportAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default) =>
        SendJsonAsync(HttpMethod.Get, "v1/reports/roi" + QueryString([("from", Instant(from)), ("to", Instant(to))]), null, retrySafe: true,
            KillTokenJsonContext.Default.RoiReport, cancellationToken);

    // ---- exports ----

    /// <summary>
    /// <c>GET /v1/exports/requests.csv</c>: the privacy-safe request columns as CSV (at most 10,000 rows), streamed.
    /// Dispose the stream when done.
    /// </summary>
    public virtual async Task<Stream> ExportRequestsCsvAsync(RequestQuery? query = null, CancellationToken cancellationToken = default)
    {
        var response = await _pipeline.SendAsync(HttpMethod.Get, "v1/exports/requests.csv" + QueryString(TraceFilters(query, paging: false)), null,
            retrySafe: true, streamed: true, cancellationToken).ConfigureAwait(false);
        try
        {
            // Disposing the content stream releases the connection; the response has nothing else to free.
            return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary><c>GET /v1/exports/analytics.json</c>: every analytics report of the range in one stamped document.</summary>
    public virtual Task<AnalyticsExport> ExportAnalyticsAsync(AnalyticsQuery? query = null, CancellationToken cancellationToken = default)
    {
        var filters = query is null ? [] : new (string, string?)[]
        {
            ("from", Day(query.From)), ("to", Day(query.To)), ("provider", query.Provider?.Value), ("model", query.Model),
            ("feature", query.Feature), ("projectId", query.ProjectId),
        };
        return SendJsonAsync(HttpMethod.Get, "v1/exports/analytics.json" + QueryString(filters), null, retrySafe: true,
            KillTokenJsonContext.Default.AnalyticsExport, cancellationToken);
    }

    // ---- provider credentials ----

    /// <summary><c>GET /v1/provider-credentials</c>: the workspace's credentials (masked).</summary>
    public virtual async Task<IReadOnlyList<ProviderCredential>> GetProviderCredentialsAsync(CancellationToken cancellationToken = default) =>
        (await SendJsonAsync(HttpMethod.Get, "v1/provider-credentials", null, retrySafe: true, KillTokenJsonContext.Default.CredentialList, cancellationToken)
            .ConfigureAwait(false)).Data;

    /// <summary><c>GET /v1/provider-credentials/{id}</c>.</summary>
    public virtual Task<ProviderCredential> GetProviderCredentialAsync(string credentialId, CancellationToken cancellationToken = default) =>
        SendJsonAsync(HttpMethod.Get, CredentialPath(credentialId), null, retrySafe: true, KillTokenJsonContext.Default.ProviderCredential, cancellationToken);

    /// <summary><c>POST /v1/provider-credentials</c> (needs the key's <c>credentials:write</c> scope): the stored credential, masked.</summary>
    public virtual Task<ProviderCredential> CreateProviderCredentialAsync(CreateProviderCredentialOptions credential, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credential);
        var body = JsonSerializer.SerializeToUtf8Bytes(credential, KillTokenJsonContext.Default.CreateProviderCredentialOptions);
        return SendJsonAsync(HttpMethod.Post, "v1/provider-credentials", body, retrySafe: false, KillTokenJsonContext.Default.ProviderCredential, cancellationToken);
    }

    /// <summary><c>PATCH /v1/provider-credentials/{id}</c> (needs <c>credentials:write</c>): relabel, reconfigure, rotate, disable or enable.</summary>
    public virtual Task<ProviderCredential> UpdateProviderCredentialAsync(string credentialId, UpdateProviderCredentialOptions changes,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var body = JsonSerializer.SerializeToUtf8Bytes(changes, KillTokenJsonContext.Default.UpdateProviderCredentialOptions);
        return SendJsonAsync(HttpMethod.Patch, CredentialPath(credentialId), body, retrySafe: false, KillTokenJsonContext.Default.ProviderCredential, cancellationToken);
    }

    /// <summary><c>DELETE /v1/provider-credentials/{id}</c> (needs <c>credentials:write</c>).</summary>
    public virtual async Task DeleteProviderCredentialAsync(string credentialId, CancellationToken cancellationToken = default)
    {
        using var response = await _pipeline.SendAsync(HttpMethod.Delete, CredentialPath(credentialId), null, retrySafe: false, streamed: false, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary><c>POST /v1/provider-credentials/{id}/test</c> (needs <c>credentials:write</c>): the cheapest real call the provider allows.</summary>
    public virtual Task<CredentialTestResult> TestProviderCredentialAsync(string credentialId, CancellationToken cancellationToken = default) =>
        SendJsonAsync(HttpMethod.Post, CredentialPath(credentialId) + "/test", null, retrySafe: false, KillTokenJsonContext.Default.CredentialTestResult,
            cancellationToken);

    // ---- plumbing ----

    private async Task<T> SendJsonAsync<T>(HttpMethod method, string path, byte[]? body, bool retrySafe, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await _pipeline.SendAsync(method, path, body, retrySafe, streamed: false, cancellationToken).ConfigureAwait(false);
        try
        {
            return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("The body was null.");
        }
        catch (JsonException ex)
        {
            throw new KillTokenRequestException((int)response.StatusCode, null, $"The gateway's answer could not be read as {typeof(T).Name}.", ex);
        }
    }

    private static T Deserialize<T>(string json, JsonTypeInfo<T> type, int status)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw new JsonException("The event was null.");
        }
        catch (JsonException ex)
        {
            throw new KillTokenRequestException(status, null, $"The gateway's {typeof(T).Name} event could not be read.", ex);
        }
    }

    /// <summary>The gateway's own error event (<c>{"error":{"code",…}}</c>), not a provider's event that is also named <c>error</c> (Anthropic's).</summary>
    private static ErrorBody? GatewayError(string data)
    {
        try
        {
            return JsonSerializer.Deserialize(data, KillTokenJsonContext.Default.ErrorEnvelope)?.Error is { Code: not null } error ? error : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string CredentialPath(string credentialId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(credentialId);
        return "v1/provider-credentials/" + Uri.EscapeDataString(credentialId);
    }

    private static IEnumerable<(string Name, string? Value)> TraceFilters(RequestQuery? query, bool paging)
    {
        if (query is null)
        {
            yield break;
        }

        yield return ("provider", query.Provider?.Value);
        yield return ("model", query.Model);
        yield return ("mode", query.Mode switch { OptimizationMode.Safe => "safe", OptimizationMode.MeasureOnly => "measure_only", _ => null });
        yield return ("cacheStatus", query.CacheStatus?.Value);
        yield return ("feature", query.Feature);
        yield return ("project", query.ProjectId);
        yield return ("from", Instant(query.From));
        yield return ("to", Instant(query.To));
        if (paging)
        {
            yield return ("limit", query.PageSize?.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static string? Instant(DateTimeOffset? value) => value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string? Day(DateTimeOffset? value) => value?.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string QueryString(IEnumerable<(string Name, string? Value)> parameters)
    {
        var query = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (!string.IsNullOrEmpty(value))
            {
                query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        return query.ToString();
    }
}
