using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>What the proxy does to a request it picks for a fault.</summary>
public enum FaultKind
{
    None,
    /// <summary>Waits <see cref="FaultPlan.Latency"/>, then forwards.</summary>
    Latency,
    /// <summary>429 with the service's retry-after header (Cosmos DB: <c>x-ms-retry-after-ms</c>; Key Vault: <c>Retry-After</c>), not forwarded.</summary>
    Throttle,
    /// <summary>503, not forwarded.</summary>
    Unavailable,
    /// <summary>408, not forwarded.</summary>
    Timeout,
    /// <summary>The request is read, then the connection is cut: the store never saw it.</summary>
    DropBeforeForward,
    /// <summary>The request is forwarded and answered, then the connection is cut: the store applied it, the answer is lost.</summary>
    DropAfterForward,
}

/// <summary>Which service the proxy imitates when it answers on the upstream's behalf (headers and error bodies).</summary>
internal enum FaultDialect
{
    Cosmos,
    KeyVault,
}

/// <summary>The faults in force: each request the filter selects gets <see cref="Kind"/> with probability <see cref="Rate"/>.</summary>
internal sealed record FaultPlan(FaultKind Kind, double Rate)
{
    public static readonly FaultPlan None = new(FaultKind.None, 0);

    /// <summary>Every request fails this way: the service is down.</summary>
    public static FaultPlan Always(FaultKind kind) => new(kind, 1);

    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>What a 429 asks the client to wait.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// A fault-injecting HTTPS reverse proxy on 127.0.0.1 (in-process Kestrel, a self-signed certificate) in front of a test
/// service — the Cosmos DB emulator or the Key Vault loopback server. It forwards with <see cref="HttpClient"/>, and
/// injects latency, 429s, 503s, 408s and cut connections (before or after forwarding) at the rate of the current
/// <see cref="Plan"/>, which a test switches at run time. For Cosmos DB it rewrites the account document (<c>GET /</c>)
/// so every address it advertises is the proxy's: whatever the client reads there, its traffic stays on the proxy.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Host", "Content-Length",
    };

    private readonly WebApplication _app;
    private readonly HttpClient _upstream;
    private readonly Uri _target;
    private readonly FaultDialect _dialect;
    private readonly Func<HttpRequest, bool> _faultable;
    private readonly Random _random;
    private readonly Lock _randomGate = new();
    private readonly ConcurrentDictionary<FaultKind, int> _injected = new();
    private int _forwarded;
    private volatile FaultPlan _plan = FaultPlan.None;

    private FaultProxy(WebApplication app, HttpClient upstream, Uri target, FaultDialect dialect, Func<HttpRequest, bool> faultable, int seed, X509Certificate2 certificate)
    {
        _app = app;
        _upstream = upstream;
        _target = target;
        _dialect = dialect;
        _faultable = faultable;
        _random = new Random(seed);
        Certificate = certificate;
    }

    /// <summary><c>https://127.0.0.1:PORT/</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The proxy's own certificate (self-signed, for 127.0.0.1 and localhost).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The faults in force; <see cref="FaultPlan.None"/> forwards everything.</summary>
    public FaultPlan Plan
    {
        get => _plan;
        set => _plan = value ?? FaultPlan.None;
    }

    /// <summary>Requests forwarded to the upstream (DropAfterForward included).</summary>
    public int Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>Faults injected so far, by kind.</summary>
    public int Injected(FaultKind kind) => _injected.GetValueOrDefault(kind);

    /// <summary>All faults injected so far.</summary>
    public int InjectedTotal => _injected.Values.Sum();

    /// <summary>
    /// Starts a proxy in front of <paramref name="target"/>. <paramref name="upstreamHandler"/> reaches it (it must trust
    /// the target's certificate); <paramref name="faultable"/> picks the requests faults may hit (default: all).
    /// </summary>
    public static async Task<FaultProxy> StartAsync(Uri target, HttpMessageHandler upstreamHandler, FaultDialect dialect,
        Func<HttpRequest, bool>? faultable = null, int seed = 19)
    {
        var certificate = CreateCertificate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.UseHttps(certificate);
            });
        });
        var app = builder.Build();
        var upstream = new HttpClient(upstreamHandler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(30) };
        var proxy = new FaultProxy(app, upstream, target, dialect, faultable ?? (_ => true), seed, certificate);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return proxy;
    }

    /// <summary>A proxy in front of the Cosmos DB emulator; faults hit data requests (<c>/dbs/…</c>), never the account read.</summary>
    public static Task<FaultProxy> ForCosmosAsync(CosmosEmulator emulator) =>
        StartAsync(emulator.Endpoint, AcceptAnyCertificate(), FaultDialect.Cosmos,
            request => request.Path.StartsWithSegments("/dbs", StringComparison.OrdinalIgnoreCase));

    /// <summary>A connection string for the emulator that goes through this proxy.</summary>
    public string CosmosConnectionString => $"AccountEndpoint={Address.AbsoluteUri};AccountKey={CosmosEmulator.AccountKey};";

    /// <summary>A handler that trusts exactly this proxy's certificate (for a Key Vault client aimed at it).</summary>
    public HttpMessageHandler CreateTrustedHandler()
    {
        var trusted = Certificate.RawData;
        return new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(trusted),
            },
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
        Certificate.Dispose();
    }

    private static SocketsHttpHandler AcceptAnyCertificate() => new()
    {
        // TEST ONLY: the emulator's self-signed certificate on the loopback address.
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
    };

    private FaultKind Choose(HttpRequest request)
    {
        var plan = _plan;
        if (plan.Kind == FaultKind.None || plan.Rate <= 0 || !_faultable(request))
        {
            return FaultKind.None;
        }

        double draw;
        lock (_randomGate)
        {
            draw = _random.NextDouble();
        }

        return draw < plan.Rate ? plan.Kind : FaultKind.None;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var plan = _plan;
        var fault = Choose(context.Request);
        if (fault != FaultKind.None)
        {
            _injected.AddOrUpdate(fault, 1, static (_, n) => n + 1);
        }

        // The whole request is read first, as a service would before answering.
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        switch (fault)
        {
            case FaultKind.DropBeforeForward:
                context.Abort();
                return;
            case FaultKind.Throttle:
                await AnswerAsync(context, 429, plan);
                return;
            case FaultKind.Unavailable:
                await AnswerAsync(context, 503, plan);
                return;
            case FaultKind.Timeout:
                await AnswerAsync(context, 408, plan);
                return;
            case FaultKind.Latency:
                await Task.Delay(plan.Latency, context.RequestAborted);
                break;
        }

        using var forward = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(_target, context.Request.Path + context.Request.QueryString));
        if (body.Length > 0 || context.Request.ContentLength is not null)
        {
            forward.Content = new ByteArrayContent(body.ToArray());
        }

        foreach (var (name, values) in context.Request.Headers)
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (!forward.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                forward.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        using var answer = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseContentRead, context.RequestAborted);
        Interlocked.Increment(ref _forwarded);
        if (fault == FaultKind.DropAfterForward)
        {
            context.Abort();
            return;
        }

        var bytes = await answer.Content.ReadAsByteArrayAsync(context.RequestAborted);
        if (_dialect == FaultDialect.Cosmos && context.Request.Path == "/" && HttpMethods.IsGet(context.Request.Method))
        {
            bytes = RewriteAccount(bytes);
        }

        context.Response.StatusCode = (int)answer.StatusCode;
        foreach (var (name, values) in answer.Headers.Concat(answer.Content.Headers))
        {
            if (!HopByHop.Contains(name))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    /// <summary>The account's advertised locations point at the proxy, so a client that follows them stays on it.</summary>
    private byte[] RewriteAccount(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var proxy = Address.GetLeftPart(UriPartial.Authority);
        foreach (var host in new[] { _target.Host, "localhost", "127.0.0.1" })
        {
            text = text.Replace($"https://{host}:{_target.Port}", proxy, StringComparison.OrdinalIgnoreCase)
                .Replace($"https:\\/\\/{host}:{_target.Port}", proxy.Replace("/", "\\/", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        }

        return Encoding.UTF8.GetBytes(text);
    }

    private Task AnswerAsync(HttpContext context, int status, FaultPlan plan)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        string body;
        if (_dialect == FaultDialect.Cosmos)
        {
            var code = status switch { 429 => "TooManyRequests", 503 => "ServiceUnavailable", _ => "RequestTimeout" };
            if (status == 429)
            {
                context.Response.Headers["x-ms-retry-after-ms"] = ((long)plan.RetryAfter.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.Headers["x-ms-substatus"] = "3200";
            }

            context.Response.Headers["x-ms-activity-id"] = Guid.NewGuid().ToString();
            body = $$"""{"code":"{{code}}","message":"injected by the test's fault proxy"}""";
        }
        else
        {
            var code = status switch { 429 => "Throttled", 503 => "ServiceUnavailable", _ => "RequestTimeout" };
            if (status == 429)
            {
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(plan.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            body = "{\"error\":{\"code\":\"" + code + "\",\"message\":\"injected by the test's fault proxy\"}}";
        }

        return context.Response.WriteAsync(body, context.RequestAborted);
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=killtoken-fault-proxy", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Re-imported so Kestrel can use the private key on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}
