using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using KillToken.Core.Observability;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace KillToken.Tests.Observability;

/// <summary>One measurement a gateway's meter recorded.</summary>
internal sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? value?.ToString() : null;
}

/// <summary>
/// What one gateway records: its spans, collected through the OpenTelemetry SDK with the hosts' own instrumentation
/// (<see cref="KillTokenTelemetryServiceCollectionExtensions.AddKillTokenInstrumentation"/>) at the point an exporter
/// would get them, and its own meter's measurements. SDK listeners are process-wide, so spans are read by trace id
/// (each test request carries its own <c>traceparent</c>) and measurements only from this gateway's meter.
/// </summary>
internal sealed class TelemetryCollector : IDisposable
{
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private MeterListener? _listener;

    public IReadOnlyList<Activity> Spans => [.. _spans];

    public IReadOnlyList<Measurement> Measurements => [.. _measurements];

    /// <summary>The tracer the gateway gets (before AddKillToken, which adds no SDK of its own without an exporter setting).</summary>
    public void AddTo(IServiceCollection services) =>
        services.AddOpenTelemetry().WithTracing(tracing => tracing.AddKillTokenInstrumentation().AddProcessor(new Collect(_spans)));

    /// <summary>Listens to <paramref name="host"/>'s meter only (each gateway's meter comes from its own factory).</summary>
    public void ListenTo(GatewayHost host)
    {
        var meter = host.Services.GetRequiredService<KillTokenTelemetry>().Meter;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    public List<Activity> SpansOf(ActivityTraceId traceId) => [.. _spans.Where(s => s.TraceId == traceId)];

    /// <summary>The spans of a trace once <paramref name="until"/> holds (the server span ends after the client has its answer).</summary>
    public async Task<List<Activity>> WaitForSpansAsync(ActivityTraceId traceId, Func<List<Activity>, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var spans = SpansOf(traceId);
            if (until(spans) || DateTime.UtcNow > deadline)
            {
                return spans;
            }

            await Task.Delay(20);
        }
    }

    public void ClearMeasurements() => _measurements.Clear();

    public List<Measurement> MeasurementsOf(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument)];

    public void Dispose() => _listener?.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue(new Measurement(instrument.Name, value, copy));
    }

    /// <summary>Sees every span as an exporter would, when it ends.</summary>
    private sealed class Collect(ConcurrentQueue<Activity> spans) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data) => spans.Enqueue(data);
    }
}

/// <summary>
/// Requests in a trace of their own, so a test finds its spans among every gateway's: a sampled root activity around the
/// request, which the test's HttpClient continues (with a tracer in the process, it replaces any traceparent header set by hand).
/// </summary>
internal static class Traced
{
    /// <summary>Starts the root; requests sent until it is disposed carry its trace id.</summary>
    public static Activity Start()
    {
        var root = new Activity("test request") { ActivityTraceFlags = ActivityTraceFlags.Recorded };
        root.SetIdFormat(ActivityIdFormat.W3C);
        return root.Start();
    }

    public static async Task<(HttpResponseMessage Response, ActivityTraceId TraceId)> SendAsync(Tenant tenant, HttpMethod method, string path, object? body = null, bool session = false)
    {
        using var root = Start();
        var response = await tenant.SendAsync(method, path, body, session);
        return (response, root.TraceId);
    }

    /// <summary>The gateway's own HTTP server span (the fake provider, in this process too, has its own).</summary>
    public static bool IsServerOf(this Activity span, GatewayHost host) =>
        span.Kind == ActivityKind.Server && span.Tag("server.port") == host.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string? Tag(this Activity span, string name) => span.GetTagItem(name) switch
    {
        null => null,
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        var value => value.ToString(),
    };
}
