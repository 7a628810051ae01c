using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.Gemini;
using Microsoft.Extensions.Logging;

namespace KillToken.Providers.Vertex;

/// <summary>
/// Vertex AI Gemini: <c>POST {base}/v1/projects/{projectId}/locations/{location}/publishers/google/models/{model}:generateContent</c>
/// with <c>Authorization: Bearer</c> an access token minted from the workspace's service account. The base is
/// <c>config.endpointUrl</c> when set, else <c>https://{location}-aiplatform.googleapis.com</c> (or its server override).
/// Same body and usage as the Gemini API. The model is the request's (the parser requires one); <c>config.defaultModel</c>
/// is the model the credential test counts tokens with.
/// </summary>
internal sealed partial class VertexGenerateContentAdapter(
    ProviderHttp http, ProviderEndpoints endpoints, GoogleTokenClient tokenClient, GoogleAccessTokenCache tokens, TimeProvider time,
    ILogger<VertexGenerateContentAdapter> logger) : IProviderAdapter, IStreamingProviderAdapter, IChatCompletionsTranslator
{
    private const string Name = "google_vertex";

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.GoogleVertex];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = GeminiTranslation.ToRequest(call.Messages, Name);
        if (error is not null)
        {
            return new ProviderResponse { Error = error };
        }

        var optionsError = GeminiTranslation.ApplyOptions(call.Options, body!, GeminiTranslation.VertexNativeOptions, Name);
        if (optionsError is not null)
        {
            return new ProviderResponse { Error = optionsError };
        }

        var (url, urlError) = ModelUrl(call.Credential, call.Model, "generateContent");
        if (urlError is not null)
        {
            return new ProviderResponse { Error = urlError };
        }

        var started = time.GetTimestamp();
        var (result, failure) = await SendWithTokenAsync(call.Credential, () =>
            new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body!) }, cancellationToken);
        return failure is not null
            ? new ProviderResponse { Error = failure, Latency = time.GetElapsedTime(started) }
            : GeminiTranslation.ToResponse(result!, time.GetElapsedTime(started));
    }

    public bool CanStream(ProviderId provider) => provider == ProviderId.GoogleVertex;

    /// <summary>The same body to <c>:streamGenerateContent?alt=sse</c>; a refused cached token is replaced once, as for SendAsync.</summary>
    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, error) = GeminiTranslation.ToRequest(call.Messages, Name);
        var optionsError = error is null ? GeminiTranslation.ApplyOptions(call.Options, body!, GeminiTranslation.VertexNativeOptions, Name) : null;
        var (url, urlError) = ModelUrl(call.Credential, call.Model, "streamGenerateContent?alt=sse");
        if ((error ?? optionsError ?? urlError) is { } failure)
        {
            return new ProviderStreamStart { Error = failure };
        }

        var key = CacheKey(call.Credential);
        for (var attempt = 1; ; attempt++)
        {
            var (token, tokenError) = await TokenAsync(call.Credential, key, cancellationToken);
            if (tokenError is not null)
            {
                return new ProviderStreamStart { Error = tokenError };
            }

            var scrub = new ResolvedCredential(call.Credential.CredentialId, call.Credential.Provider, token!.Value, call.Credential.Secrets, call.Credential.Config);
            var start = await http.OpenStreamAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body!) };
                ProviderHttp.Bearer(request, token.Value);
                return request;
            }, new GeminiStreamAccumulator(), scrub, Name, cancellationToken);

            if (start.UpstreamStatus != 401 || attempt == 2)
            {
                return start;
            }

            Log.TokenRejected(logger, call.Credential.CredentialId);
            tokens.Invalidate(key, token);
        }
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => GeminiStream.Replay(response);

    public JsonObject ToChatCompletion(JsonNode response, string model) => GeminiStream.ToChatCompletion(response, model);

    public IChatCompletionChunkTranslator CreateChunkTranslator(string model, bool includeUsage) => new GeminiStream.ChunkTranslator(model, includeUsage);

    /// <summary>
    /// Mints an access token (proving the service account's key) and counts the tokens of a one-word prompt on
    /// <c>config.defaultModel</c> (<c>:countTokens</c>, free of charge), proving the project, location, model and IAM access.
    /// </summary>
    public async Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var started = time.GetTimestamp();
        var model = credential.GetConfig("defaultModel");
        if (model is null)
        {
            return new CredentialTestResult(false, 0, null, "google_vertex needs config.defaultModel to test the credential.");
        }

        var (url, urlError) = ModelUrl(credential, model, "countTokens");
        if (urlError is not null)
        {
            return new CredentialTestResult(false, 0, null, urlError.Message);
        }

        var body = new JsonObject
        {
            ["contents"] = new JsonArray(new JsonObject { ["role"] = "user", ["parts"] = new JsonArray(new JsonObject { ["text"] = "ping" }) }),
        };
        var (result, failure) = await SendWithTokenAsync(credential, () =>
            new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body) }, cancellationToken);
        var elapsed = Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1);
        if (failure is not null)
        {
            return new CredentialTestResult(false, elapsed, ProviderStatus(failure), failure.Message);
        }

        return result!.Error is null
            ? new CredentialTestResult(true, elapsed, result.Status, $"{Name} accepted the credential.")
            : new CredentialTestResult(false, elapsed, result.Status, result.Error.Message);
    }

    /// <summary>
    /// Sends with a cached access token; on a 401 drops that token, mints a new one and sends once more. A token that
    /// could not be minted comes back as the failure.
    /// </summary>
    private async Task<(UpstreamResult? Result, GatewayError? Failure)> SendWithTokenAsync(
        ResolvedCredential credential, Func<HttpRequestMessage> createRequest, CancellationToken cancellationToken)
    {
        var key = CacheKey(credential);
        for (var attempt = 1; ; attempt++)
        {
            var (token, tokenError) = await TokenAsync(credential, key, cancellationToken);
            if (tokenError is not null)
            {
                return (null, tokenError);
            }

            // The token is a secret too: scrub it from anything the provider echoes.
            var scrub = new ResolvedCredential(credential.CredentialId, credential.Provider, token!.Value, credential.Secrets, credential.Config);
            var result = await http.SendAsync(() =>
            {
                var request = createRequest();
                ProviderHttp.Bearer(request, token.Value);
                return request;
            }, scrub, Name, cancellationToken);

            if (result.Status != 401 || attempt == 2)
            {
                return (result, null);
            }

            Log.TokenRejected(logger, credential.CredentialId);
            tokens.Invalidate(key, token);
        }
    }

    private Task<(GoogleAccessToken? Token, GatewayError? Error)> TokenAsync(ResolvedCredential credential, string key, CancellationToken cancellationToken) =>
        tokens.GetAsync(key, async ct =>
        {
            var minted = await tokenClient.ExchangeAsync(credential, ct);
            if (minted.Token is not null)
            {
                Log.TokenMinted(logger, credential.CredentialId);
            }

            return minted;
        }, cancellationToken);

    /// <summary>A model method's URL for this credential's project and location.</summary>
    private (Uri? Url, GatewayError? Error) ModelUrl(ResolvedCredential credential, string model, string method)
    {
        var projectId = credential.GetConfig("projectId")?.Trim();
        var location = credential.GetConfig("location")?.Trim();
        if (projectId is null || location is null || !LocationPattern().IsMatch(location))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig,
                "google_vertex needs config.projectId and config.location (a Google Cloud location such as us-central1 or global)."));
        }

        var baseUrl = credential.GetConfig("endpointUrl") is { } configured
            ? new Uri(configured.Trim().TrimEnd('/') + "/", UriKind.Absolute)
            : endpoints.VertexBase(location);
        var path = $"v1/projects/{Uri.EscapeDataString(projectId)}/locations/{location}/publishers/google/models/{GeminiTranslation.ModelSegment(model)}:{method}";
        return (new Uri(baseUrl, path), null);
    }

    /// <summary>The credential's id plus a fingerprint of its key, so a rotated key never reuses an older token.</summary>
    private static string CacheKey(ResolvedCredential credential)
    {
        var material = string.Join('\n',
            credential.Secrets.GetValueOrDefault("clientEmail"),
            credential.Secrets.GetValueOrDefault("privateKeyId"),
            credential.Secrets.GetValueOrDefault("privateKey"));
        return credential.CredentialId + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(material)));
    }

    private static int? ProviderStatus(GatewayError error) =>
        error.Details?["providerStatus"] is JsonValue status && status.TryGetValue<int>(out var value) ? value : null;

    /// <summary>Locations go into a host name: lower-case letters, digits and dashes only.</summary>
    [GeneratedRegex("^[a-z][a-z0-9-]{1,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex LocationPattern();

    private static partial class Log
    {
        [LoggerMessage(EventId = 2011, Level = LogLevel.Debug, Message = "Minted a Vertex AI access token for credential {CredentialId}")]
        public static partial void TokenMinted(ILogger logger, string credentialId);

        [LoggerMessage(EventId = 2012, Level = LogLevel.Information, Message = "Vertex AI refused the cached access token of credential {CredentialId}; minting a new one and retrying once")]
        public static partial void TokenRejected(ILogger logger, string credentialId);
    }
}
