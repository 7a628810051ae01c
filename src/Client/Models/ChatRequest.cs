using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace KillToken.Client;

/// <summary><c>optimizationMode</c>: measure waste only (the default), or apply the meaning-preserving optimizations too.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OptimizationMode>))]
public enum OptimizationMode
{
    /// <summary><c>measure_only</c>: measures waste, changes nothing.</summary>
    [JsonStringEnumMemberName("measure_only")]
    MeasureOnly,

    /// <summary><c>safe</c>: applies only meaning-preserving transforms and reports what they saved.</summary>
    [JsonStringEnumMemberName("safe")]
    Safe,
}

/// <summary><c>cachePolicy.exactCache</c>: whether the gateway's exact cache may answer this call and keep its answer.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CachePolicy>))]
public enum CachePolicy
{
    /// <summary><c>bypass</c> (the default): neither read nor write the cache.</summary>
    [JsonStringEnumMemberName("bypass")]
    Bypass,

    /// <summary><c>read_only</c>: answer from the cache on a hit; do not store misses.</summary>
    [JsonStringEnumMemberName("read_only")]
    ReadOnly,

    /// <summary><c>write_only</c>: always call the provider; store the answer.</summary>
    [JsonStringEnumMemberName("write_only")]
    WriteOnly,

    /// <summary><c>read_write</c>: answer from the cache on a hit, store on a miss.</summary>
    [JsonStringEnumMemberName("read_write")]
    ReadWrite,
}

/// <summary>A <c>POST /v1/chat</c> request: the unified request of the contract. Streaming is chosen by the method called.</summary>
public sealed class ChatRequest
{
    /// <summary>A request to <paramref name="model"/> of <paramref name="provider"/> with <paramref name="messages"/>.</summary>
    public ChatRequest(ModelProvider provider, string model, IEnumerable<ChatMessage> messages)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(messages);
        Provider = provider;
        Model = model;
        Messages = [.. messages];
    }

    /// <summary>The provider; the workspace needs an active credential for it.</summary>
    public ModelProvider Provider { get; }

    /// <summary>The provider's model name (the gateway never routes to another, except a budget's fallback model).</summary>
    public string Model { get; }

    /// <summary>The conversation, OpenAI-style.</summary>
    public IList<ChatMessage> Messages { get; }

    /// <summary>Measure only (default) or safe optimizations.</summary>
    public OptimizationMode? OptimizationMode { get; set; }

    /// <summary>The feature tag for the savings-by-feature report (<c>metadata.feature</c>); trimmed and capped at 80 characters by the gateway.</summary>
    public string? Feature { get; set; }

    /// <summary>Your own trace context (<c>metadata</c>); <see cref="Feature"/> is added to it.</summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// A key you choose (1–255 characters): the same key with the same request replays the stored answer unbilled, the
    /// same key with another request is a 409. Setting one also lets the client retry the call on 429/5xx.
    /// </summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>The exact-cache policy (bypass when not set).</summary>
    public CachePolicy? CachePolicy { get; set; }

    /// <summary>The output cap (<c>providerOptions.max_tokens</c>, which the gateway maps to each provider's name).</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Other provider options (<c>temperature</c>, <c>response_format</c>, …), forwarded when the provider supports them.</summary>
    public JsonObject? ProviderOptions { get; set; }
}
