using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

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
        if (TokenGuardDialect.Applies(context.Request.Path, error))
        {
            TokenGuardDialect.Restate(wire, body, error);
            if (error.RetryAfterSeconds is { } resetIn)
            {
                headers.RetryAfter = resetIn.ToString(CultureInfo.InvariantCulture);
            }
        }

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

/// <summary>
/// TokenGuard's dialect (seed 002, contract §8 "TokenGuard compatibility"): on the <c>/proxy/…</c> routes a call the
/// budget refuses answers as TokenGuard did — <c>BUDGET_EXCEEDED</c>, seed 002's message for the refusing scope and a
/// <c>Retry-After</c> of the seconds until the period resets — inside the shape of the API the route imitates, so the
/// native SDK still raises its typed 429 (<c>RateLimitError</c>). Where the code goes in each shape:
/// <list type="bullet">
/// <item>OpenAI: <c>error.code</c> (the SDK's <c>err.code</c>); <c>type</c> stays <c>insufficient_quota</c>.</item>
/// <item>Anthropic: <c>error.code</c> (TokenGuard's place) and <c>error.details.error_code</c> (the SDK's
/// <c>err.errorCode</c>); <c>type</c> stays <c>rate_limit_error</c>. A code the SDK does not know leaves it on the
/// status's class, <c>RateLimitError</c>.</item>
/// <item>Gemini: Google's <c>error.code</c> is the HTTP status as a number (Google's SDKs read it as one), so the
/// code is the <c>reason</c> of the <c>google.rpc.ErrorInfo</c> in <c>error.details</c> — Google's place for a
/// machine-readable cause, UPPER_SNAKE_CASE by its rules; <c>status</c> stays <c>RESOURCE_EXHAUSTED</c>.</item>
/// </list>
/// Every other error, and every error on the KillToken routes (<c>/v1/…</c>), keeps KillToken's code and message.
/// </summary>
internal static class TokenGuardDialect
{
    public const string BudgetExceededCode = "BUDGET_EXCEEDED";

    /// <summary>True for a budget refusal on one of TokenGuard's <c>/proxy/…</c> routes.</summary>
    public static bool Applies(PathString path, GatewayError error) =>
        error.Status == 429 && error.Code == ErrorCodes.BudgetExceeded && path.StartsWithSegments("/proxy", StringComparison.OrdinalIgnoreCase);

    /// <summary>Seed 002's message for the scope that refused (<c>Details["scope"]</c>); a scope it does not name gets a neutral one.</summary>
    public static string BudgetMessage(GatewayError error) => ChatRequestParser.AsString(error.Details?["scope"]) switch
    {
        "daily" => "Daily spend limit reached",
        "monthly" => "Monthly spend limit reached",
        "workspace" => "Workspace monthly spend limit reached",
        _ => "Spend limit reached",
    };

    /// <summary>Puts TokenGuard's code and message into a body <see cref="WireFormats"/> built for <paramref name="wire"/>.</summary>
    public static void Restate(Wire wire, JsonObject body, GatewayError error)
    {
        var message = BudgetMessage(error);
        if (body["error"] is not JsonObject inner)
        {
            return;
        }

        inner["message"] = message;
        switch (wire)
        {
            case Wire.OpenAI:
                inner["code"] = BudgetExceededCode;
                break;
            case Wire.Anthropic:
                inner["code"] = BudgetExceededCode;
                inner["details"] = new JsonObject { ["error_code"] = BudgetExceededCode };
                break;
            case Wire.Gemini:
                foreach (var info in (inner["details"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    info["reason"] = BudgetExceededCode;
                }

                break;
        }
    }
}
