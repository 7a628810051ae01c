using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.AzureOpenAI;

/// <summary>
/// Azure OpenAI: the OpenAI chat-completions body and usage, sent with <c>api-key</c> to the resource in the credential's
/// <c>config.endpoint</c>. Two URL shapes:
/// <list type="bullet">
/// <item>a dated <c>config.apiVersion</c> (default <see cref="DefaultApiVersion"/>):
/// <c>{endpoint}/openai/deployments/{config.deployment}/chat/completions?api-version=…</c> — the deployment picks the model;</item>
/// <item><c>config.apiVersion</c> = <c>v1</c> or <c>preview</c>: the v1 API, <c>{endpoint}/openai/v1/chat/completions</c>
/// (<c>?api-version=preview</c> for preview) — the request's <c>model</c> is sent as is and names the deployment.</item>
/// </list>
/// Either way the request's <c>model</c> is what pricing looks up, so name deployments after their model.
/// </summary>
internal sealed class AzureOpenAIChatAdapter(ProviderHttp http) : IProviderAdapter, IStreamingProviderAdapter
{
    /// <summary>The current GA data-plane version (learn.microsoft.com/azure/ai-services/openai/reference).</summary>
    public const string DefaultApiVersion = "2024-10-21";
    private const string Name = "azure_openai";

    public IReadOnlyCollection<ProviderId> Providers { get; } = [ProviderId.AzureOpenAI];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, optionsError) = OpenAIChatAdapter.BuildBody(call);
        if (optionsError is not null)
        {
            return new ProviderResponse { Error = optionsError };
        }

        body!.Remove("stream_options"); // only valid on a streaming request
        var (url, configError) = Url(call.Credential, "chat/completions");
        if (configError is not null)
        {
            return new ProviderResponse { Error = configError };
        }

        var result = await http.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body!) };
            Authorize(request, call.Credential);
            return request;
        }, call.Credential, Name, cancellationToken);

        return OpenAIChatAdapter.ToResponse(result);
    }

    public bool CanStream(ProviderId provider) => provider == ProviderId.AzureOpenAI;

    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, optionsError) = OpenAIChatAdapter.BuildBody(call);
        var (url, configError) = Url(call.Credential, "chat/completions");
        if ((optionsError ?? configError) is { } error)
        {
            return new ProviderStreamStart { Error = error };
        }

        var streamBody = OpenAIChatStream.ToStreamBody(body!, call.Provider);
        return await http.OpenStreamAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(streamBody) };
            Authorize(request, call.Credential);
            return request;
        }, new OpenAIStreamAccumulator(OpenAIChatStream.ClientWantsUsage(call.Options)), call.Credential, Name, cancellationToken);
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => OpenAIChatStream.Replay(response, options);

    /// <summary>
    /// Lists the resource's models (<c>GET {endpoint}/openai/models?api-version=…</c>, or <c>/openai/v1/models</c>): no
    /// tokens spent. It proves the key and endpoint, not that the deployment exists.
    /// </summary>
    public Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var (url, configError) = Url(credential, "models");
        if (configError is not null)
        {
            return Task.FromResult(new CredentialTestResult(false, 0, null, configError.Message));
        }

        return http.TestAsync(() =>
        {
            var request = ProviderHttp.Get(url!);
            Authorize(request, credential);
            return request;
        }, credential, Name, cancellationToken);
    }

    /// <summary>The URL of an operation (<c>chat/completions</c>, <c>models</c>) for this credential's endpoint and API version.</summary>
    internal static (Uri? Url, GatewayError? Error) Url(ResolvedCredential credential, string operation)
    {
        var endpoint = credential.GetConfig("endpoint");
        if (endpoint is null || !Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var endpointUri))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, "azure_openai needs config.endpoint, the resource's https URL."));
        }

        // Accept the resource URL with or without the API's own path pasted after it.
        var root = endpointUri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        foreach (var suffix in new[] { "/openai/v1", "/openai" })
        {
            if (root.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                root = root[..^suffix.Length];
                break;
            }
        }

        var apiVersion = credential.GetConfig("apiVersion")?.Trim() ?? DefaultApiVersion;
        if (string.Equals(apiVersion, "v1", StringComparison.OrdinalIgnoreCase))
        {
            return (new Uri($"{root}/openai/v1/{operation}"), null);
        }

        if (string.Equals(apiVersion, "preview", StringComparison.OrdinalIgnoreCase))
        {
            return (new Uri($"{root}/openai/v1/{operation}?api-version=preview"), null);
        }

        var version = Uri.EscapeDataString(apiVersion);
        if (operation == "models")
        {
            return (new Uri($"{root}/openai/models?api-version={version}"), null);
        }

        var deployment = credential.GetConfig("deployment");
        if (deployment is null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, "azure_openai needs config.deployment for a dated config.apiVersion."));
        }

        return (new Uri($"{root}/openai/deployments/{Uri.EscapeDataString(deployment.Trim())}/{operation}?api-version={version}"), null);
    }

    private static void Authorize(HttpRequestMessage request, ResolvedCredential credential) =>
        request.Headers.TryAddWithoutValidation("api-key", credential.ApiKey);
}
