using System.Collections.Frozen;
using System.Net;
using KillToken.Testing.FunctionsHost.Rpc;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KillToken.Testing.FunctionsHost;

/// <summary>
/// The host's public HTTP side: matches a request to a function, then, as the host does with the ASP.NET Core
/// integration, forwards the request itself to the worker's own Kestrel (tagged with the invocation id) while sending
/// the InvocationRequest over gRPC; the worker pairs the two and the function's HTTP response is copied back.
/// </summary>
internal sealed class FrontDoor : IDisposable
{
    /// <summary>How the worker's HTTP middleware finds the invocation a request belongs to.</summary>
    private const string InvocationIdHeader = "x-ms-invocation-id";
    private const string ForwardedFor = "X-Forwarded-For";

    /// <summary>Longer than the worker's own waits (15 s for the request, 5 s for the invocation) so it times out first.</summary>
    private static readonly TimeSpan InvocationResponseWait = TimeSpan.FromSeconds(30);

    private const int ConnectAttempts = 30;
    private static readonly TimeSpan ConnectRetryDelay = TimeSpan.FromMilliseconds(100);

    private static readonly FrozenSet<string> HopByHopHeaders = new[]
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private readonly WorkerChannel _channel;
    private readonly OutputLog _output;
    private readonly HttpMessageInvoker _http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
    });

    private volatile Open? _open;

    public FrontDoor(WorkerChannel channel, OutputLog output)
    {
        _channel = channel;
        _output = output;
    }

    /// <summary>Starts serving once the functions are loaded; until then every request gets 503.</summary>
    public void Start(HttpRouteTable routes, Uri workerHttpUri) => _open = new Open(routes, workerHttpUri);

    public async Task HandleAsync(HttpContext context)
    {
        if (_open is not { } open)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        // As the host: no function takes this method and path → 404 with an empty body.
        if (open.Routes.Match(context.Request.Method, context.Request.Path) is not { } match)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var aborted = context.RequestAborted;
        var invocationId = Guid.NewGuid().ToString();
        Task<InvocationResult> invocation;
        try
        {
            invocation = await _channel.StartInvocationAsync(InvocationMessages.ForHttp(invocationId, match, context.Request), match.Route.Function.Name, aborted);
        }
        catch (InvalidOperationException ex)
        {
            _output.Add($"[host] {context.Request.Method} {context.Request.Path}: the invocation could not be sent: {ex.Message}");
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        try
        {
            using var answer = await SendToWorkerAsync(context.Request, open.WorkerHttpUri, invocationId, invocation, aborted);
            await CopyAsync(answer, context.Response, aborted);
        }
        catch (HttpRequestException ex) when (!context.Response.HasStarted)
        {
            _output.Add($"[host] {context.Request.Method} {context.Request.Path}: the worker did not answer: {ex.Message}");
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return;
        }

        // So Invocations holds this call's result by the time its caller has read the response.
        try
        {
            await invocation.WaitAsync(InvocationResponseWait, aborted);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            _output.Add($"[host] no InvocationResponse for {match.Route.Function.Name} ({invocationId}): {ex.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// As the real host's proxy does: a connection the worker refuses (its Kestrel can still be starting when the first
    /// invocations arrive) is tried again, a few times and briefly, unless the invocation has already ended. Only a
    /// failed connect is retried, so no body has been read.
    /// </summary>
    private async Task<HttpResponseMessage> SendToWorkerAsync(HttpRequest request, Uri workerHttpUri, string invocationId, Task<InvocationResult> invocation, CancellationToken aborted)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var forward = Forward(request, workerHttpUri, invocationId);
            try
            {
                return await _http.SendAsync(forward, aborted);
            }
            catch (HttpRequestException ex) when (ex.InnerException is System.Net.Sockets.SocketException && attempt < ConnectAttempts && !invocation.IsCompleted)
            {
                _output.Add($"[host] {request.Method} {request.Path}: the worker refused the connection (attempt {attempt}); trying again");
                await Task.Delay(ConnectRetryDelay, aborted);
            }
        }
    }

    private static HttpRequestMessage Forward(HttpRequest request, Uri workerHttpUri, string invocationId)
    {
        // Path and query set as they are: a path like "//x" must stay a path, never become another authority.
        var target = new UriBuilder(workerHttpUri) { Path = request.PathBase.Add(request.Path).ToUriComponent(), Query = request.QueryString.ToUriComponent() }.Uri;
        var forward = new HttpRequestMessage(new HttpMethod(request.Method), target);
        if (request.ContentLength is not null || request.Headers.TransferEncoding.Count > 0)
        {
            // Streamed as it arrives, never buffered here.
            forward.Content = new StreamContent(request.Body);
        }

        foreach (var (name, values) in request.Headers)
        {
            // Host is the worker's own (the forwarder's default), so the worker's Kestrel sees its address.
            if (HopByHopHeaders.Contains(name) || name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!forward.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                forward.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        // As the host's proxy does (YARP's default X-Forwarded transform, action Set; the worker trusts these through its
        // forwarded-headers middleware): the caller's own address, host and scheme replace whatever the caller sent.
        forward.Headers.Remove(ForwardedFor);
        if (request.HttpContext.Connection.RemoteIpAddress?.ToString() is { } caller)
        {
            forward.Headers.TryAddWithoutValidation(ForwardedFor, caller);
        }

        forward.Headers.Remove("X-Forwarded-Host");
        forward.Headers.TryAddWithoutValidation("X-Forwarded-Host", request.Host.Value);
        forward.Headers.Remove("X-Forwarded-Proto");
        forward.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
        forward.Headers.TryAddWithoutValidation(InvocationIdHeader, invocationId);
        return forward;
    }

    /// <summary>Status, headers, then the body chunk by chunk with a flush after each, so a stream (SSE) arrives as it is written.</summary>
    private static async Task CopyAsync(HttpResponseMessage answer, HttpResponse response, CancellationToken aborted)
    {
        response.StatusCode = (int)answer.StatusCode;
        foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
        {
            if (!HopByHopHeaders.Contains(name))
            {
                response.Headers[name] = values.ToArray();
            }
        }

        response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(aborted);
        await using var body = await answer.Content.ReadAsStreamAsync(aborted);
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(buffer, aborted)) > 0)
        {
            await response.Body.WriteAsync(buffer.AsMemory(0, read), aborted);
            await response.Body.FlushAsync(aborted);
        }
    }

    private sealed record Open(HttpRouteTable Routes, Uri WorkerHttpUri);
}
