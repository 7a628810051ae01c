using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Http;

/// <summary>JSON and error answers in the contract's shapes (§4).</summary>
public static class GatewayJson
{
    /// <summary>Web defaults, nulls written, and only the escapes JSON requires (<see cref="ReadableJson"/>).</summary>
    public static JsonSerializerOptions Options => ReadableJson.Options;

    public static IResult Ok(object value, int status = 200) => Results.Json(value, Options, statusCode: status);

    public static JsonNode ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, Options)!;

    /// <summary><c>{ "error": { "code", "message", "requestId", … } }</c> with Retry-After where the client should wait.</summary>
    public static IResult Error(HttpContext context, GatewayError error)
    {
        var body = new JsonObject
        {
            ["code"] = error.Code,
            ["message"] = error.Message,
            ["requestId"] = RequestIds.Get(context),
        };
        if (error.Details is not null)
        {
            foreach (var (key, value) in error.Details)
            {
                body[key] = value?.DeepClone();
            }
        }

        if (error.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Results.Json(new JsonObject { ["error"] = body }, Options, statusCode: error.Status);
    }
}

public static class RequestIds
{
    private const string ItemKey = "killtoken.requestId";

    /// <summary>The id of this request, created on first use and echoed in <c>x-request-id</c>.</summary>
    public static string Get(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var existing) && existing is string id)
        {
            return id;
        }

        id = Core.Security.Ids.NewTimeOrdered("req", TimeProvider.System.GetUtcNow()); // the time only orders ids in the store
        context.Items[ItemKey] = id;
        if (!context.Response.HasStarted)
        {
            context.Response.Headers["x-request-id"] = id;
        }

        return id;
    }
}
