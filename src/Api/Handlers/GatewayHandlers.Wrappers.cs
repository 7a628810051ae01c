using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;
using KillToken.Api.Http;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// The drop-in wrapper routes (§2): each native SDK's own request body in, its own response and error shapes out, over the
/// same pipeline as <c>/v1/chat</c>. KillToken's fields come from headers (<see cref="WrapperHeaders"/>); the metrics come
/// back in <c>x-killtoken-metrics</c> (and in the OpenAI body's <c>killtoken.metrics</c>).
/// </summary>
public sealed partial class GatewayHandlers
{
    /// <summary><c>POST /v1/openai/chat/completions</c>: OpenAI in and out, whichever provider <c>x-killtoken-provider</c> picks.</summary>
    public Task<IResult> OpenAIChatCompletionsAsync(HttpContext context)
    {
        var includeUsage = false;
        return WrapperAsync(context, Wire.OpenAI, "openai", (body, headers) =>
        {
            includeUsage = (body["stream_options"] as JsonObject)?["include_usage"] is JsonValue value && value.GetValueKind() == JsonValueKind.True;
            var request = WrapperRequestParser.ParseOpenAI(body, headers, out var error);
            return (request, error);
        }, stream => OpenAIDialect(stream, includeUsage));
    }

    /// <summary><c>POST /v1/anthropic/messages</c> (and <c>/v1/anthropic/v1/messages</c>): the Messages body sent through as it is.</summary>
    public Task<IResult> AnthropicMessagesAsync(HttpContext context) =>
        WrapperAsync(context, Wire.Anthropic, "anthropic", (body, headers) =>
        {
            var request = WrapperRequestParser.ParseAnthropic(body, headers, out var error);
            return (request, error);
        }, _ => new PassThroughDialect(Wire.Anthropic));

    /// <summary><c>POST /v1/gemini/v1beta/models/{model}:generateContent</c>: the Gemini body sent through as it is.</summary>
    public Task<IResult> GeminiGenerateContentAsync(HttpContext context, string model) => GeminiAsync(context, model, stream: false);

    /// <summary><c>POST /v1/gemini/v1beta/models/{model}:streamGenerateContent</c>: answered as server-sent events (<c>alt=sse</c>).</summary>
    public Task<IResult> GeminiStreamGenerateContentAsync(HttpContext context, string model) => GeminiAsync(context, model, stream: true);

    /// <summary>
    /// <c>GET /v1/openai/models</c>: the models KillToken prices for the provider <c>x-killtoken-provider</c> names
    /// (default openai), in OpenAI's list shape. No provider call.
    /// </summary>
    public async Task<IResult> OpenAIModelsAsync(HttpContext context)
    {
        var (_, authError) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.Chat, context.RequestAborted);
        if (authError is not null)
        {
            return WireFormats.Error(Wire.OpenAI, context, authError, null);
        }

        var header = context.Request.Headers[WrapperHeaders.ProviderHeader].ToString().Trim();
        if (!ProviderId.TryParse(header.Length == 0 ? ProviderId.OpenAI.Value : header, out var provider))
        {
            return WireFormats.Error(Wire.OpenAI, context, new GatewayError(422, ErrorCodes.ProviderNotSupported,
                $"{WrapperHeaders.ProviderHeader} names no supported provider. Use one of: {string.Join(", ", ProviderId.All)}."), null);
        }

        var prices = (pricing as PricingCatalog)?.All ?? [];
        var data = new JsonArray([.. prices
            .Where(p => string.Equals(p.Provider, provider.Value, StringComparison.Ordinal))
            .OrderBy(p => p.Model, StringComparer.Ordinal)
            .Select(p => (JsonNode)new JsonObject
            {
                ["id"] = p.Model,
                ["object"] = "model",
                ["created"] = DateTimeOffset.TryParse(p.AsOf, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var asOf) ? asOf.ToUnixTimeSeconds() : 0,
                ["owned_by"] = provider.Value,
            })]);
        return GatewayJson.Ok(new JsonObject { ["object"] = "list", ["data"] = data });
    }

    private Task<IResult> GeminiAsync(HttpContext context, string model, bool stream) =>
        WrapperAsync(context, Wire.Gemini, "gemini", (body, headers) =>
        {
            var request = WrapperRequestParser.ParseGemini(model, stream, body, headers, out var error);
            return (request, error);
        }, _ => new PassThroughDialect(Wire.Gemini));

    /// <summary>
    /// One wrapper call: key → body → native parse → pipeline (plain or streamed) → the native answer. Every refusal is
    /// traced like <c>/v1/chat</c>'s and answered in the wrapper's error shape.
    /// </summary>
    private async Task<IResult> WrapperAsync(
        HttpContext context, Wire wire, string endpoint, Func<JsonObject, WrapperHeaders, (ChatRequest? Request, GatewayError? Error)> parse,
        Func<ChatStream, ISseDialect> dialect)
    {
        var startedAt = time.GetTimestamp();
        var requestId = RequestIds.Get(context);
        var (project, authError) = await keys.AuthenticateAsync(context.Request, ApiKeyScopes.Chat, context.RequestAborted);
        if (authError is not null)
        {
            return WireFormats.Error(wire, context, authError, null);
        }

        var headers = ReadWrapperHeaders(context.Request);
        var (body, error) = await HandlerSupport.ReadObjectAsync(context, options);
        ChatRequest? request = null;
        if (error is null)
        {
            (request, error) = parse(body!, headers);
        }

        if (error is not null)
        {
            await pipeline.TraceRejectionAsync(project!, requestId, endpoint, startedAt, error, request, GatewayNames.NormalizeFeature(null, headers.Feature));
            return WireFormats.Error(wire, context, error, null);
        }

        var call = new ChatCall { RequestId = requestId, Project = project!, Request = request!, Endpoint = endpoint, StartedAt = startedAt };
        if (request!.Stream)
        {
            var started = await pipeline.ExecuteStreamAsync(call, context.RequestAborted);
            return started.Stream is { } stream
                ? new SseResult(stream, dialect(stream))
                : WireFormats.Error(wire, context, started.Outcome!.Error!, started.Outcome.Metrics);
        }

        var outcome = await pipeline.ExecuteAsync(call, context.RequestAborted);
        if (outcome.Error is not null)
        {
            return WireFormats.Error(wire, context, outcome.Error, outcome.Metrics);
        }

        context.Response.Headers[WireFormats.MetricsHeader] = WireFormats.MetricsJson(outcome.Metrics);
        var answer = outcome.ProviderBody ?? new JsonObject();
        if (wire != Wire.OpenAI)
        {
            return GatewayJson.Ok(answer, outcome.Status);
        }

        var completion = ToChatCompletion(answer, outcome.Metrics);
        completion["killtoken"] = new JsonObject { ["metrics"] = GatewayJson.ToNode(outcome.Metrics) };
        return GatewayJson.Ok(completion, outcome.Status);
    }

    /// <summary>The answer as a chat.completion: as it is from the OpenAI family, translated from any other wire format.</summary>
    private JsonObject ToChatCompletion(JsonNode answer, ChatMetrics metrics)
    {
        var provider = ProviderId.TryParse(metrics.FinalProvider, out var final) ? final : ProviderId.OpenAI;
        if (!WrapperRequestParser.IsChatCompletionsFormat(provider) && providers.TryGet(provider, out var adapter) && adapter is IChatCompletionsTranslator translator)
        {
            return translator.ToChatCompletion(answer, metrics.FinalModel ?? metrics.Model ?? string.Empty);
        }

        return answer.DeepClone() as JsonObject ?? new JsonObject();
    }

    private ISseDialect OpenAIDialect(ChatStream stream, bool includeUsage)
    {
        if (!WrapperRequestParser.IsChatCompletionsFormat(stream.Provider)
            && providers.TryGet(stream.Provider, out var adapter) && adapter is IChatCompletionsTranslator translator
            && translator.CreateChunkTranslator(stream.Model, includeUsage) is { } chunks)
        {
            return new ChatCompletionsDialect(chunks);
        }

        return new PassThroughDialect(Wire.OpenAI);
    }

    private static WrapperHeaders ReadWrapperHeaders(HttpRequest request)
    {
        string? Header(string name) => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;
        return new WrapperHeaders
        {
            Provider = Header(WrapperHeaders.ProviderHeader),
            Feature = Header(WrapperHeaders.FeatureHeader),
            IdempotencyKey = Header(WrapperHeaders.IdempotencyKeyHeader),
            CachePolicy = Header(WrapperHeaders.CacheHeader),
            OptimizationMode = Header(WrapperHeaders.OptimizationModeHeader),
            AnthropicBeta = Header(WrapperHeaders.AnthropicBetaHeader),
        };
    }
}
