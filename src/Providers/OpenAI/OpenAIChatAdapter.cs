using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Providers.OpenAI;

/// <summary>
/// The OpenAI chat-completions family: one wire format, several brands that differ in base URL and a few options.
/// <c>openai_compatible</c> takes its base URL (and default model) from the credential's config.
/// </summary>
internal sealed class OpenAIChatAdapter(ProviderHttp http, ProviderEndpoints endpoints) : IProviderAdapter, IStreamingProviderAdapter
{
    private static readonly HashSet<string> CommonOptions = new(StringComparer.Ordinal)
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "response_format", "tools", "tool_choice",
        "parallel_tool_calls", "seed", "presence_penalty", "frequency_penalty", "n", "user", "logprobs", "top_logprobs",
        "logit_bias", "reasoning_effort", "service_tier", "metadata", "store", "modalities", "prediction", "verbosity",
        "web_search_options", "prompt_cache_key", "safety_identifier", "stream_options",
    };

    public IReadOnlyCollection<ProviderId> Providers { get; } =
    [
        ProviderId.OpenAI, ProviderId.Mistral, ProviderId.DeepSeek, ProviderId.OpenRouter, ProviderId.Together,
        ProviderId.Perplexity, ProviderId.XAI, ProviderId.OpenAICompatible,
    ];

    public async Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, optionsError) = BuildBody(call);
        if (optionsError is not null)
        {
            return new ProviderResponse { Error = optionsError };
        }

        body!.Remove("stream_options"); // only valid on a streaming request
        var url = ChatUrl(call.Provider, call.Credential);
        var result = await http.SendAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(body!) };
            ProviderHttp.Bearer(request, call.Credential.ApiKey);
            return request;
        }, call.Credential, call.Provider.Value, cancellationToken);

        return ToResponse(result);
    }

    public bool CanStream(ProviderId provider) => Providers.Contains(provider);

    public async Task<ProviderStreamStart> OpenStreamAsync(ProviderCall call, CancellationToken cancellationToken = default)
    {
        var (body, optionsError) = BuildBody(call);
        if (optionsError is not null)
        {
            return new ProviderStreamStart { Error = optionsError };
        }

        var streamBody = OpenAIChatStream.ToStreamBody(body!, call.Provider);
        var url = ChatUrl(call.Provider, call.Credential);
        return await http.OpenStreamAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = ProviderHttp.JsonContent(streamBody) };
            ProviderHttp.Bearer(request, call.Credential.ApiKey);
            return request;
        }, new OpenAIStreamAccumulator(OpenAIChatStream.ClientWantsUsage(call.Options)), call.Credential, call.Provider.Value, cancellationToken);
    }

    public IReadOnlyList<ServerSentEvent> Replay(JsonNode response, JsonObject? options) => OpenAIChatStream.Replay(response, options);

    /// <summary>The chat-completions body: messages as sent, options through the allow-list. Shared with Azure OpenAI.</summary>
    internal static (JsonObject? Body, GatewayError? Error) BuildBody(ProviderCall call)
    {
        var body = new JsonObject
        {
            ["model"] = call.Model,
            ["messages"] = new JsonArray([.. call.Messages.Select(m => m.DeepClone())]),
        };

        var optionsError = ProviderOptionsFilter.Apply(call.Options, body, CommonOptions, call.Provider.Value);
        return optionsError is not null ? (null, optionsError) : (body, null);
    }

    /// <summary>A chat-completions answer (or failure) as the pipeline's response. Shared with Azure OpenAI.</summary>
    internal static ProviderResponse ToResponse(UpstreamResult result) =>
        result.Error is not null
            ? new ProviderResponse { Error = result.Error, UpstreamStatus = result.Status, Latency = result.Latency }
            : new ProviderResponse
            {
                UpstreamStatus = result.Status,
                Body = result.Body,
                Usage = ReadUsage(result.Body),
                Latency = result.Latency,
                ReportedModel = ChatRequestParser.AsString(result.Body?["model"]),
            };

    public Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var url = new Uri(BaseUrl(credential.Provider, credential), "models");
        return http.TestAsync(() =>
        {
            var request = ProviderHttp.Get(url);
            ProviderHttp.Bearer(request, credential.ApiKey);
            return request;
        }, credential, credential.Provider.Value, cancellationToken);
    }

    /// <summary>
    /// OpenAI's usage: cached tokens are a subset of prompt tokens; reasoning tokens a subset of completion tokens.
    /// <c>prompt_tokens</c> and <c>completion_tokens</c> are required; the details (and DeepSeek's
    /// <c>prompt_cache_hit_tokens</c>) may be absent. Read strictly (<see cref="UsageReader"/>).
    /// </summary>
    internal static TokenUsage ReadUsage(JsonNode? body)
    {
        if (body?["usage"] is not JsonObject usage)
        {
            return TokenUsage.None;
        }

        var read = new UsageReader(usage);
        return read.Result(new TokenUsage
        {
            InputTokens = read.Required("prompt_tokens"),
            OutputTokens = read.Required("completion_tokens"),
            CachedInputTokens = read.Optional("prompt_tokens_details", "cached_tokens") + read.Optional("prompt_cache_hit_tokens"),
            ReasoningTokens = read.Optional("completion_tokens_details", "reasoning_tokens"),
        });
    }

    /// <summary>A lenient number for indexes and codes in provider JSON; never for token counts (<see cref="UsageReader"/>).</summary>
    internal static long Long(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<long>(out var number) ? number
        : node is JsonValue d && d.TryGetValue<double>(out var real) ? (long)real : 0;

    private Uri ChatUrl(ProviderId provider, ResolvedCredential credential) => new(BaseUrl(provider, credential), "chat/completions");

    private Uri BaseUrl(ProviderId provider, ResolvedCredential credential)
    {
        if (provider == ProviderId.OpenAICompatible)
        {
            var configured = credential.GetConfig("baseUrl") ?? throw new InvalidOperationException("openai_compatible needs config.baseUrl.");
            return new Uri(configured.TrimEnd('/') + "/");
        }

        return endpoints.BaseUrl(provider)!;
    }
}
