using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Observability;
using KillToken.Core.Providers;

// The four calls the pipeline makes for one gateway call with a model call (start gateway span, start model span,
// end model call, end gateway call), timed per call and counted in bytes allocated per call: first with nobody
// listening (no exporter configured), then with an ActivityListener and a MeterListener that take everything.
var iterations = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2_000_000;
using var telemetry = new KillTokenTelemetry();
var call = new ChatCall
{
    RequestId = "req_0123456789",
    Project = new ProjectRecord
    {
        Id = "prj_0123456789", WorkspaceId = "ws_0123456789", Name = "bench", KeyHash = "hash", KeyPreview = "kt_…", Scopes = ["chat"],
        CreatedAt = DateTimeOffset.UnixEpoch,
    },
    Request = new ChatRequest
    {
        Provider = ProviderId.OpenAI, Model = "gpt-4o-mini", Messages = [new JsonObject { ["role"] = "user", ["content"] = "hi" }], Feature = "bench",
    },
    Endpoint = "chat",
    StartedAt = 0,
};
var providerCall = new ProviderCall
{
    Provider = ProviderId.OpenAI, Model = "gpt-4o-mini", Messages = call.Request.Messages,
    Credential = new ResolvedCredential("cred", ProviderId.OpenAI, "sk-bench", new Dictionary<string, string>(), new Dictionary<string, string>()),
};
var usage = new TokenUsage { InputTokens = 1000, OutputTokens = 500, Reported = true };
var outcome = new ChatOutcome
{
    Status = 200,
    Metrics = new ChatMetrics
    {
        RequestId = call.RequestId, Provider = "openai", Model = "gpt-4o-mini", FinalProvider = "openai", FinalModel = "gpt-4o-mini",
        InputTokens = 1000, OutputTokens = 500, CostUsd = 0.000435m, CostStatus = "priced", CacheStatus = "miss", Idempotency = "none",
        Feature = "bench", LatencyMs = 12.5,
    },
};

void OneCall()
{
    var gateway = telemetry.StartGatewayCall(call);
    var model = telemetry.StartModelCall(gateway, providerCall, 64);
    telemetry.EndModelCall(model, new ModelCallResult(ProviderId.OpenAI, "gpt-4o-mini", "gpt-4o-mini", usage, 0.000435m, null, TimeSpan.FromMilliseconds(10)));
    telemetry.EndGatewayCall(gateway, call, outcome, KillTokenTelemetry.BudgetStates.Unlimited);
}

Measure("no listener", iterations);
Measure("no listener (again)", iterations);

using var activities = new ActivityListener
{
    ShouldListenTo = source => source.Name == KillTokenTelemetry.Name,
    Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
};
ActivitySource.AddActivityListener(activities);
using var meters = new MeterListener { InstrumentPublished = (instrument, l) => { if (instrument.Meter == telemetry.Meter) l.EnableMeasurementEvents(instrument); } };
meters.SetMeasurementEventCallback<long>((_, _, _, _) => { });
meters.SetMeasurementEventCallback<double>((_, _, _, _) => { });
meters.Start();
Measure("spans and metrics recorded", Math.Max(iterations / 10, 1000));

void Measure(string label, int count)
{
    for (var i = 0; i < Math.Min(count, 100_000); i++)
    {
        OneCall(); // warm-up: JIT and tiering
    }

    GC.Collect();
    var allocated = GC.GetAllocatedBytesForCurrentThread();
    var started = Stopwatch.GetTimestamp();
    for (var i = 0; i < count; i++)
    {
        OneCall();
    }

    var elapsed = Stopwatch.GetElapsedTime(started);
    var bytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)count;
    Console.WriteLine($"{label,-28} {elapsed.TotalNanoseconds / count,8:0.0} ns per gateway call, {bytes,7:0.0} bytes allocated per call ({count:N0} calls)");
}
