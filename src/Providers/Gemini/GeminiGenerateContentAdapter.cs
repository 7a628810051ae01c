using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.Gemini;

/// <summary>
/// The Gemini API: <c>POST {base}/v1beta/models/{model}:generateContent</c> with <c>x-goog-api-key</c> (never a bearer
/// token or a <c>?key=</c> query, which would put the secret in URLs and logs).
/// </summary>
internal sealed class GeminiGenerateContentAdapter(ProviderHttp http, ProviderEndpoints endpoints)
    : IProviderAdapter, IStreamingProviderAdapter, IChatCompletionsTranslator
{
    private const string Name = "gemini";

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.Gemini];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = BuildBody(call);
        return error is not null
            ? new ProviderResponse { Error = error }
            : await SendRawAsync(call.Model, body!, call.Credential, cancellationToken);
    }

    public bool CanStream(ProviderId provider) => provider == ProviderId.Gemini;

    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = BuildBody(call);
        if (error is not null)
        {
            return new ProviderStreamStart { Error = error };
        }

        var url = endpoints.Resolve(ProviderId.Gemini, $"v1beta/models/{GeminiTranslation.ModelSegment(call.Model)}:streamGenerateContent?alt=sse");
        var start = await http.OpenStreamAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body!) };
            Authorize(request, call.Credential);
            return request;
        }, new GeminiStreamAccumulator(), call.Credential, Name, cancellationToken);
        return start.Error is null ? start : start with { Error = InvalidKeyAsAuthFailure(new UpstreamResult(start.UpstreamStatus, null, start.Error, start.Latency)) };
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => GeminiStream.Replay(response);

    public JsonObject ToChatCompletion(JsonNode response, string model) => GeminiStream.ToChatCompletion(response, model);

    public IChatCompletionChunkTranslator CreateChunkTranslator(string model, bool includeUsage) => new GeminiStream.ChunkTranslator(model, includeUsage);

    /// <summary>The client's native body (the Gemini wrapper), or OpenAI-style messages and options translated.</summary>
    private static (JsonObject? Body, GatewayError? Error) BuildBody(ProviderCall call)
    {
        if (call.NativeBody is not null)
        {
            return (call.NativeBody.DeepClone().AsObject(), null);
        }

        var (body, error) = GeminiTranslation.ToRequest(call.Messages, Name);
        if (error is not null)
        {
            return (null, error);
        }

        var optionsError = GeminiTranslation.ApplyOptions(call.Options, body!, GeminiTranslation.GeminiNativeOptions, Name);
        return optionsError is not null ? (null, optionsError) : (body, null);
    }

    /// <summary>Sends a body already in Gemini's format (the native wrapper route).</summary>
    public async Task<ProviderResponse> SendRawAsync(string model, JsonObject body, ResolvedCredential credential, CancellationToken cancellationToken)
    {
        var url = endpoints.Resolve(ProviderId.Gemini, $"v1beta/models/{GeminiTranslation.ModelSegment(model)}:generateContent");
        var result = await http.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body) };
            Authorize(request, credential);
            return request;
        }, credential, Name, cancellationToken);

        return GeminiTranslation.ToResponse(result with { Error = InvalidKeyAsAuthFailure(result) }, result.Latency);
    }

    public async Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var url = endpoints.Resolve(ProviderId.Gemini, "v1beta/models?pageSize=1");
        return await http.TestAsync(() =>
        {
            var request = ProviderHttp.Get(url);
            Authorize(request, credential);
            return request;
        }, credential, Name, cancellationToken);
    }

    /// <summary>
    /// The Gemini API answers a bad key with HTTP 400 <c>INVALID_ARGUMENT</c> and reason <c>API_KEY_INVALID</c>
    /// (not 401); report it as the credential failure it is.
    /// </summary>
    internal static GatewayError? InvalidKeyAsAuthFailure(UpstreamResult result)
    {
        // The provider's body may be anything (text, an array): only an object is looked into.
        if (result.Error is not { } error || result.Status != 400
            || (error.Details?["providerError"] as JsonObject)?["error"] is not JsonObject providerError)
        {
            return result.Error;
        }

        var invalidKey = providerError["details"] is JsonArray details
            && details.OfType<JsonObject>().Any(d => ChatRequestParser.AsString(d["reason"]) == "API_KEY_INVALID");
        if (!invalidKey)
        {
            return error;
        }

        var message = ChatRequestParser.AsString(providerError["message"]) ?? "API key not valid.";
        return error with
        {
            Status = 502,
            Code = ErrorCodes.ProviderAuthFailed,
            Message = $"{Name} rejected the workspace's credential (HTTP 400): {message}",
        };
    }

    private static void Authorize(HttpRequestMessage request, ResolvedCredential credential) =>
        request.Headers.TryAddWithoutValidation("x-goog-api-key", credential.ApiKey);
}
