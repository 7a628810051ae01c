using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Soak;

/// <summary>One answered (or lost) gateway call as the client saw it.</summary>
/// <param name="Kind">Which part of the mix sent it (plain, stream, cached, twin, replay, fail-500, fail-cut, fail-late, fail-slow, budget).</param>
/// <param name="RequestId">The gateway's <c>x-request-id</c>; null when no answer came back at all.</param>
/// <param name="CostUsd">The call's <c>metrics.costUsd</c> (body, error body or the stream's metrics event); null when it carried none.</param>
internal sealed record SoakCall(string Kind, string? RequestId, int Status, string? ErrorCode, decimal? CostUsd, string? Idempotency, string? CacheStatus, string? Failure);

/// <summary>
/// The soak's traffic: a steady mix at a fixed rate of operations per second (not a closed loop, so the gateway is
/// loaded the same way for the whole run), and a management loop writing every few seconds. Every call is kept in
/// <see cref="Calls"/>, so the run can be reconciled with the gateway's traces and rollups afterwards.
/// Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed class SoakTraffic(HttpClient gateway, SoakTenant tenant)
{
    /// <summary>The order the mix repeats in: 20 operations, each a call or (twin) two concurrent calls.</summary>
    private static readonly string[] Pattern =
    [
        "plain", "stream", "cached", "budget", "plain", "twin", "stream", "fail-500", "cached", "plain",
        "budget", "stream", "fail-cut", "plain", "cached", "twin", "budget", "fail-slow", "stream", "fail-late",
    ];

    /// <summary>The prompts cacheable calls repeat: after the first of each, the exact cache answers.</summary>
    private const int CachedPrompts = 8;

    private readonly ConcurrentQueue<SoakCall> _calls = new();
    private readonly ConcurrentQueue<(string Key, string Content)> _replays = new();
    private readonly ConcurrentQueue<string> _managementFailures = new();
    private long _sequence;
    private long _operations;
    private int _inFlight;
    private long _shed;
    private long _managementWrites;

    /// <summary>Calls over the whole run, in the order they ended.</summary>
    public IReadOnlyCollection<SoakCall> Calls => _calls;

    /// <summary>Operations the generator skipped because <see cref="MaxInFlight"/> were still waiting.</summary>
    public long Shed => Interlocked.Read(ref _shed);

    public long ManagementWrites => Interlocked.Read(ref _managementWrites);
    public IReadOnlyCollection<string> ManagementFailures => _managementFailures;
    public int InFlight => Volatile.Read(ref _inFlight);
    public int MaxInFlight { get; init; } = 256;

    /// <summary>Sends <paramref name="operationsPerSecond"/> operations of the mix each second until cancelled, then waits for those in flight.</summary>
    public async Task RunLoadAsync(double operationsPerSecond, CancellationToken stop)
    {
        // Ticks of 50 ms, each sending its share (the fraction carried over), so the rate holds without a timer per call.
        var pending = new ConcurrentDictionary<Task, byte>();
        var tick = TimeSpan.FromMilliseconds(50);
        var started = Stopwatch.GetTimestamp();
        double owed = 0;
        long ticks = 0;
        while (!stop.IsCancellationRequested)
        {
            owed += operationsPerSecond * tick.TotalSeconds;
            for (; owed >= 1; owed--)
            {
                if (Volatile.Read(ref _inFlight) >= MaxInFlight)
                {
                    Interlocked.Increment(ref _shed);
                    continue;
                }

                var task = OperationAsync(Pattern[Interlocked.Increment(ref _operations) % Pattern.Length]);
                pending[task] = 0;
                _ = task.ContinueWith(t => pending.TryRemove(t, out _), TaskScheduler.Default);
            }

            ticks++;
            var due = TimeSpan.FromTicks(tick.Ticks * ticks) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(due, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await Task.WhenAll(pending.Keys);
    }

    /// <summary>A management write every <paramref name="interval"/>: projects created and renamed, a key regenerated, a budget moved, the credential rotated, the workspace renamed.</summary>
    public async Task RunManagementAsync(TimeSpan interval, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        var step = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var n = step.ToString(CultureInfo.InvariantCulture);
                try
                {
                    switch (step++ % 6)
                    {
                        case 0:
                            await SoakApi.SendAsync(gateway, HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/projects", tenant.Session,
                                new JsonObject { ["name"] = "soak-extra-" + n }, 201, CancellationToken.None);
                            break;
                        case 1:
                            await SoakApi.SendAsync(gateway, HttpMethod.Patch, $"api/projects/{tenant.Steady.Id}", tenant.Session,
                                new JsonObject { ["name"] = "soak-steady-" + n }, 200, CancellationToken.None);
                            break;
                        case 2:
                            var regenerated = await SoakApi.SendAsync(gateway, HttpMethod.Post, $"api/projects/{tenant.Rotating.Id}/regenerate-key", tenant.Session,
                                null, 200, CancellationToken.None);
                            tenant.Rotating.Key = regenerated["apiKey"]!.GetValue<string>();
                            break;
                        case 3:
                            var tight = step / 6 % 2 == 0;
                            await SoakApi.SendAsync(gateway, HttpMethod.Patch, $"api/projects/{tenant.Budget.Id}", tenant.Session,
                                new JsonObject { ["dailyBudgetUsd"] = tight ? SoakTenant.TightUsd : SoakTenant.PlentyUsd }, 200, CancellationToken.None);
                            break;
                        case 4:
                            await SoakApi.SendAsync(gateway, HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials/{tenant.CredentialId}",
                                tenant.Session, new JsonObject { ["apiKey"] = "sk-soak-" + Guid.NewGuid().ToString("N") }, 200, CancellationToken.None);
                            break;
                        default:
                            await SoakApi.SendAsync(gateway, HttpMethod.Patch, $"api/workspaces/{tenant.WorkspaceId}", tenant.Session,
                                new JsonObject { ["name"] = "Soak " + n }, 200, CancellationToken.None);
                            break;
                    }

                    Interlocked.Increment(ref _managementWrites);
                }
                catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or TaskCanceledException)
                {
                    _managementFailures.Enqueue(ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    /// <summary>One operation of each kind, one after another (JIT, first cache entries), before the timed load.</summary>
    public async Task ProbeAsync()
    {
        foreach (var kind in Pattern.Distinct())
        {
            await OperationAsync(kind);
        }
    }

    private async Task OperationAsync(string kind)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            var n = Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
            var unique = $"soak {n}: say hello";
            switch (kind)
            {
                case "plain":
                    await CallAsync(kind, Pick(n), Body(unique, stream: false));
                    break;
                case "stream":
                    await CallAsync(kind, Pick(n), Body(unique, stream: true));
                    break;
                case "cached":
                    var prompt = $"soak cached prompt {long.Parse(n, CultureInfo.InvariantCulture) % CachedPrompts}";
                    var cached = Body(prompt, stream: false);
                    cached["cachePolicy"] = new JsonObject { ["exactCache"] = "read_write" };
                    await CallAsync(kind, tenant.Steady, cached);
                    break;
                case "twin":
                    var key = "soak-idem-" + n;
                    await Task.WhenAll(
                        CallAsync(kind, tenant.Steady, Idempotent(unique, key)),
                        CallAsync(kind, tenant.Steady, Idempotent(unique, key)));
                    if (_replays.Count < 64)
                    {
                        _replays.Enqueue((key, unique));
                    }

                    // A replay of an older twin, well after it finished.
                    if (_replays.Count > 8 && _replays.TryDequeue(out var old))
                    {
                        await CallAsync("replay", tenant.Steady, Idempotent(old.Content, old.Key));
                    }

                    break;
                case "fail-500":
                    await CallAsync(kind, Pick(n), Body(unique + " " + SoakUpstream.Fail500, stream: false));
                    break;
                case "fail-cut":
                    await CallAsync(kind, Pick(n), Body(unique + " " + SoakUpstream.FailCut, stream: true));
                    break;
                case "fail-late":
                    await CallAsync(kind, Pick(n), Body(unique + " " + SoakUpstream.FailLate, stream: true));
                    break;
                case "fail-slow":
                    await CallAsync(kind, Pick(n), Body(unique + " " + SoakUpstream.FailSlow, stream: false));
                    break;
                case "budget":
                    await CallAsync(kind, tenant.Budget, Body(unique, stream: false));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a kind of the mix.");
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private SoakProject Pick(string n) => n[^1] % 2 == 0 ? tenant.Steady : tenant.Rotating;

    private static JsonObject Body(string content, bool stream) => new()
    {
        ["provider"] = "openai",
        ["model"] = "gpt-4o-mini",
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
        ["stream"] = stream,
    };

    private static JsonObject Idempotent(string content, string key)
    {
        var body = Body(content, stream: false);
        body["idempotencyKey"] = key;
        return body;
    }

    private async Task CallAsync(string kind, SoakProject project, JsonObject body)
    {
        SoakCall call;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("v1/chat", UriKind.Relative))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", project.Key);
        string? requestId = null;
        var status = 0;
        try
        {
            using var response = await gateway.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            status = (int)response.StatusCode;
            requestId = response.Headers.TryGetValues("x-request-id", out var ids) ? ids.FirstOrDefault() : null;
            var text = await response.Content.ReadAsStringAsync();
            var streamed = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            var (metrics, error) = streamed ? FromStream(text) : FromJson(text);
            call = new SoakCall(kind, requestId, status, error,
                metrics?["costUsd"]?.GetValue<decimal>(), metrics?["idempotency"]?.ToString(), metrics?["cacheStatus"]?.ToString(), null);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or System.Text.Json.JsonException)
        {
            call = new SoakCall(kind, requestId, status, null, null, null, null, ex.GetType().Name + ": " + ex.Message);
        }

        _calls.Enqueue(call);
    }

    private static (JsonNode? Metrics, string? ErrorCode) FromJson(string text)
    {
        if (text.Length == 0 || JsonNode.Parse(text) is not JsonObject body)
        {
            return (null, null);
        }

        var error = body["error"] as JsonObject;
        return (body["metrics"] ?? error?["metrics"], error?["code"]?.ToString());
    }

    /// <summary>The stream's <c>killtoken.metrics</c> event, and the code of an error event before it.</summary>
    private static (JsonNode? Metrics, string? ErrorCode) FromStream(string text)
    {
        JsonNode? metrics = null;
        string? errorCode = null;
        string? eventName = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                eventName = line["event:".Length..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal) && eventName is not null)
            {
                var data = JsonNode.Parse(line["data:".Length..].Trim());
                if (eventName == "killtoken.metrics")
                {
                    metrics = data;
                }
                else if (data?["error"]?["code"] is { } code)
                {
                    errorCode = code.ToString();
                }
            }
            else if (line.Length == 0)
            {
                eventName = null;
            }
        }

        return (metrics, errorCode);
    }
}
