using System.Diagnostics;
using System.Globalization;
using KillToken.Testing.FunctionsHost.Rpc;
using Microsoft.AspNetCore.Http;

namespace KillToken.Testing.FunctionsHost;

/// <summary>The InvocationRequests the host sends, for an HTTP call and for a timer tick.</summary>
internal static class InvocationMessages
{
    /// <summary>What the timer extension passes for a scheduled (not past-due) run.</summary>
    private const string TimerInfoJson = """{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}""";

    /// <summary>
    /// The request the worker pairs with the forwarded HTTP call (same invocation id). Route values are bound from the
    /// trigger metadata, not from the URL, so they must be here. The trigger's own input is the request as the host
    /// describes it, without its body: with the ASP.NET Core integration the function reads the forwarded request.
    /// </summary>
    public static InvocationRequest ForHttp(string invocationId, HttpRouteMatch match, HttpRequest request)
    {
        var route = match.Route;
        var invocation = Create(invocationId, route.Function, request.Headers.TraceParent, request.Headers.TraceState);
        var http = new RpcHttp
        {
            Method = request.Method,
            Url = $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}{request.QueryString}",
        };
        foreach (var (name, values) in request.Headers)
        {
            http.NullableHeaders[name.ToLowerInvariant()] = new NullableString { Value = values.ToString() };
        }

        foreach (var (name, values) in request.Query)
        {
            http.NullableQuery[name] = new NullableString { Value = values.ToString() };
        }

        foreach (var (name, value) in match.Values)
        {
            if (value is null)
            {
                continue;
            }

            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            http.NullableParams[name] = new NullableString { Value = text };
            invocation.TriggerMetadata[name] = new TypedData { String = text };
        }

        invocation.InputData.Add(new ParameterBinding { Name = route.Trigger.Name, Data = new TypedData { Http = http } });
        return invocation;
    }

    public static InvocationRequest ForTimer(string invocationId, RpcFunctionMetadata function, RawBinding trigger)
    {
        var invocation = Create(invocationId, function, traceParent: null, traceState: null);
        invocation.InputData.Add(new ParameterBinding { Name = trigger.Name, Data = new TypedData { Json = TimerInfoJson } });
        return invocation;
    }

    /// <summary>
    /// The trace context is not optional: the worker reads it unguarded and fails the invocation without it. As the
    /// host does, a caller's <c>traceparent</c> is continued (same trace, a new span); otherwise a new trace starts.
    /// </summary>
    private static InvocationRequest Create(string invocationId, RpcFunctionMetadata function, string? traceParent, string? traceState)
    {
        var traceId = ActivityContext.TryParse(traceParent, traceState, out var caller) ? caller.TraceId : ActivityTraceId.CreateRandom();
        var traceContext = new RpcTraceContext
        {
            TraceParent = $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01",
            TraceState = traceState ?? "",
        };
        traceContext.Attributes["OperationName"] = function.Name;
        return new InvocationRequest { InvocationId = invocationId, FunctionId = function.FunctionId, TraceContext = traceContext };
    }
}
