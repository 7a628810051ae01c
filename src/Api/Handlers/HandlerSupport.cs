using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core;
using KillToken.Core.Analytics;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>Small helpers every handler shares: reading a JSON object body, parsing trace filters.</summary>
internal static class HandlerSupport
{
    public static async Task<(JsonObject? Body, GatewayError? Error)> ReadObjectAsync(HttpContext context, GatewayOptions options)
    {
        var (bytes, error) = await RequestBody.ReadJsonAsync(context.Request, options.MaxBodyBytes, context.RequestAborted);
        if (error is not null)
        {
            return (null, error);
        }

        var node = ChatRequestParser.ParseJson(bytes, out error);
        if (error is not null)
        {
            return (null, error);
        }

        return node is JsonObject obj
            ? (obj, null)
            : (null, GatewayError.BadRequest(ErrorCodes.InvalidRequest, "The request body must be a JSON object."));
    }

    /// <summary>
    /// The request list's filters of §2 from the query string; bad values are a 400, never ignored. Without
    /// <paramref name="paging"/> (an export, which pages itself) <c>limit</c> and <c>cursor</c> are not read.
    /// </summary>
    public static (TraceQuery? Query, GatewayError? Error) ReadTraceQuery(HttpRequest request, bool paging = true)
    {
        var q = request.Query;
        DateTimeOffset? from = null, to = null;
        if (!TryDate(q["from"], out from) || !TryDate(q["to"], out to))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                $"'from' and 'to' must be ISO 8601 dates between {EarliestDate:yyyy-MM-dd} and {LatestDate:yyyy-MM-dd}."));
        }

        var limit = 50;
        if (paging && !string.IsNullOrEmpty(q["limit"]) && (!int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 200))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'limit' must be a whole number from 1 to 200."));
        }

        return (new TraceQuery
        {
            Provider = Text(q["provider"]),
            Model = Text(q["model"]),
            Mode = Text(q["mode"]),
            CacheStatus = Text(q["cacheStatus"]),
            Feature = Text(q["feature"]),
            ProjectId = Text(q["project"]) ?? Text(q["projectId"]),
            From = from,
            To = to,
            Cursor = paging ? Text(q["cursor"]) : null,
            Limit = limit,
        }, null);
    }

    public static async Task<IResult> TracePageAsync(HttpContext context, ITraceStore traces, string workspaceId)
    {
        var (query, error) = ReadTraceQuery(context.Request);
        if (error is not null)
        {
            return GatewayJson.Error(context, error);
        }

        try
        {
            var page = await traces.QueryAsync(workspaceId, query!, context.RequestAborted);
            return GatewayJson.Ok(new { data = page.Items, nextCursor = page.NextCursor });
        }
        catch (InvalidCursorException)
        {
            return GatewayJson.Error(context, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'cursor' is not a cursor this API issued."));
        }
    }

    /// <summary>
    /// The analytics filters (<c>from</c>, <c>to</c>, <c>provider</c>, <c>projectId</c> — or <c>project</c>, as the
    /// trace list names it — <c>model</c>, <c>feature</c>) from the query string; bad values are a 400.
    /// </summary>
    public static (AnalyticsQuery? Query, GatewayError? Error) ReadAnalyticsQuery(HttpRequest request, DateTimeOffset now)
    {
        var q = request.Query;
        if (!TryDate(q["from"], out var from) || !TryDate(q["to"], out var to))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                $"'from' and 'to' must be ISO 8601 dates (yyyy-MM-dd) between {EarliestDate:yyyy-MM-dd} and {LatestDate:yyyy-MM-dd}."));
        }

        return AnalyticsQuery.Create(from, to, now, Text(q["provider"]), Text(q["projectId"]) ?? Text(q["project"]), Text(q["model"]), Text(q["feature"]));
    }

    /// <summary>A signed-in user as an audit actor, with the address the request came from.</summary>
    public static Core.Management.AuditActor UserActor(HttpContext context, string userId) =>
        Core.Management.AuditActor.User(userId, context.Connection.RemoteIpAddress?.ToString());

    /// <summary>A project key as an audit actor (its project's id), with the address the request came from.</summary>
    public static Core.Management.AuditActor KeyActor(HttpContext context, string projectId) =>
        Core.Management.AuditActor.ApiKey(projectId, context.Connection.RemoteIpAddress?.ToString());

    /// <summary>The range a date filter may take.</summary>
    public static readonly DateTimeOffset EarliestDate = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The last instant a date filter may name.</summary>
    public static readonly DateTimeOffset LatestDate = new(2999, 12, 31, 23, 59, 59, TimeSpan.Zero);

    private static string? Text(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool TryDate(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        // Bounded so that period arithmetic on a filter (a day's end, the 30 days before it) can never overflow.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            && parsed >= EarliestDate && parsed <= LatestDate)
        {
            value = parsed;
            return true;
        }

        return false;
    }
}
