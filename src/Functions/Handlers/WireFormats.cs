using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Functions.Http;
using Microsoft.AspNetCore.Http;

namespace KillToken.Functions.Handlers;

/// <summary>Which API a route imitates: it decides the shape of errors, so each SDK raises its own typed errors.</summary>
internal enum Wire
{
    /// <summary>KillToken's own <c>/v1/chat</c>: <c>{error: {code, message, requestId, …}}</c>.</summary>
    KillToken,
    /// <summary><c>{error: {message, type, param, code}}</c> (platform.openai.com/docs/guides/error-codes).</summary>
    OpenAI,
    /// <summary><c>{type: "error", error: {type, message}}</c> (docs.anthropic.com/en/api/errors).</summary>
    Anthropic,
    /// <summary><c>{error: {code, message, status}}</c> (ai.google.dev/gemini-api/docs/troubleshooting).</summary>
    Gemini,
}

/// <summary>Gateway errors in the shape of the API a route imitates, and the metrics header every wrapper answer carries.</summary>
internal static class WireFormats
{
    public const string MetricsHeader = "x-killtoken-metrics";

    /// <summary>Read by the OpenAI and Anthropic SDKs: false stops their automatic retries (pointless for a spent budget).</summary>
    private const string ShouldRetryHeader = "x-should-retry";

    public static IResult Error(Wire wire, HttpContext context, GatewayError error, ChatMetrics? metrics)
    {
        if (wire == Wire.KillToken)
        {
            if (metrics is not null)
            {
                var details = error.Details?.DeepClone().AsObject() ?? [];
                details["metrics"] = GatewayJson.ToNode(metrics);
                error = error with { Details = details };
            }

            return GatewayJson.Error(context, error);
        }

        var headers = context.Response.Headers;
        if (metrics is not null)
        {
            headers[MetricsHeader] = MetricsJson(metrics);
        }

        // A retry the client's SDK would make on its own cannot succeed for these; a spent budget's Retry-After (hours)
        // would also hold an SDK that honours it.
        var noRetry = error.Code is ErrorCodes.BudgetExceeded or ErrorCodes.ProviderAuthFailed;
        if (noRetry)
        {
            headers[ShouldRetryHeader] = "false";
        }
        else if (error.RetryAfterSeconds is { } seconds)
        {
            headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        var requestId = RequestIds.Get(context);
        var (status, body) = wire switch
        {
            Wire.OpenAI => (error.Status, OpenAIError(error, requestId)),
            Wire.Anthropic => AnthropicError(error, requestId),
            _ => (error.Status, GeminiError(error, requestId)),
        };
        return Results.Json(body, GatewayJson.Options, statusCode: status);
    }

    public static string MetricsJson(ChatMetrics metrics) => GatewayJson.ToNode(metrics).ToJsonString(HeaderJson);

    /// <summary>A header value must be ASCII: non-ASCII text (a feature tag in any language) is written as \u escapes here.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions HeaderJson = new(GatewayJson.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default };

    /// <summary>
    /// OpenAI's shape: <c>type</c> as OpenAI names it (invalid_request_error, insufficient_quota for a spent budget,
    /// rate_limit_exceeded, server_error); <c>code</c> is KillToken's code, and KillToken's details ride along.
    /// </summary>
    public static JsonObject OpenAIError(GatewayError error, string requestId)
    {
        var type = error.Status switch
        {
            429 when error.Code == ErrorCodes.BudgetExceeded => "insufficient_quota",
            429 => "rate_limit_exceeded",
            403 => "permission_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        var param = error.Code switch
        {
            ErrorCodes.InvalidMessages => "messages",
            ErrorCodes.InvalidModel => "model",
            ErrorCodes.InvalidMetadata => "metadata",
            _ => null,
        };
        var inner = new JsonObject
        {
            ["message"] = error.Message,
            ["type"] = type,
            ["param"] = param,
            ["code"] = error.Code,
            ["requestId"] = requestId,
        };
        AddDetails(inner, error);
        return new JsonObject { ["error"] = inner };
    }

    /// <summary>
    /// Anthropic's shape. An error Anthropic itself returned keeps its type (and 529 for overloaded_error, which the SDK
    /// retries); KillToken's own errors take the type of their status.
    /// </summary>
    public static (int Status, JsonObject Body) AnthropicError(GatewayError error, string requestId)
    {
        var providerType = ChatRequestParser.AsString(ChatRequestParser.Field(ChatRequestParser.Field(error.Details?["providerError"], "error"), "type"));
        var status = error.Status;
        var type = status switch
        {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            >= 500 => "api_error",
            _ => "invalid_request_error",
        };
        if (providerType == "overloaded_error")
        {
            (status, type) = (529, providerType);
        }
        else if (providerType is not null && error.Code is ErrorCodes.ProviderRejected or ErrorCodes.ProviderRateLimited)
        {
            type = providerType;
        }

        var inner = new JsonObject { ["type"] = type, ["message"] = error.Message, ["code"] = error.Code };
        AddDetails(inner, error);
        return (status, new JsonObject { ["type"] = "error", ["error"] = inner, ["request_id"] = requestId });
    }

    /// <summary>Google's shape: HTTP code, message, canonical status, and KillToken's code as an ErrorInfo reason.</summary>
    public static JsonObject GeminiError(GatewayError error, string requestId)
    {
        var status = error.Status switch
        {
            400 when error.Code == ErrorCodes.ProviderCredentialRequired => "FAILED_PRECONDITION",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            501 or 422 when error.Code == ErrorCodes.StreamingNotSupported => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            >= 500 => "INTERNAL",
            _ => "INVALID_ARGUMENT",
        };
        var info = new JsonObject
        {
            ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo",
            ["reason"] = error.Code,
            ["domain"] = "killtoken",
            ["metadata"] = new JsonObject { ["requestId"] = requestId },
        };
        return new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = error.Status,
                ["message"] = error.Message,
                ["status"] = status,
                ["details"] = new JsonArray(info),
            },
        };
    }

    private static void AddDetails(JsonObject target, GatewayError error)
    {
        foreach (var (key, value) in error.Details ?? [])
        {
            if (!target.ContainsKey(key))
            {
                target[key] = value?.DeepClone();
            }
        }
    }
}
