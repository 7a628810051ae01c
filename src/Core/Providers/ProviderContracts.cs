using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Providers;

/// <summary>Token counts with each provider's semantics mapped onto one shape.</summary>
public sealed record TokenUsage
{
    /// <summary>
    /// The largest count one call may report for any one field: 100,000,000 tokens, ten times the largest context
    /// window any model offers. A larger figure is a broken or hostile report, not usage.
    /// </summary>
    public const long MaxTokensPerCall = 100_000_000;

    public static TokenUsage None { get; } = new();

    /// <summary>All prompt tokens, cached ones included.</summary>
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    /// <summary>Prompt tokens served from the provider's prompt cache (a subset of <see cref="InputTokens"/>).</summary>
    public long CachedInputTokens { get; init; }
    /// <summary>Prompt tokens written to the provider's prompt cache (Anthropic bills these apart).</summary>
    public long CacheWriteTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public long TotalTokens => InputTokens + OutputTokens;
    /// <summary>False when the provider's answer carried no usage at all.</summary>
    public bool Reported { get; init; }

    /// <summary>
    /// True when the answer carried usage whose figures cannot be trusted: a required count missing or null, or any
    /// count negative, not a whole number, not a number, or above <see cref="MaxTokensPerCall"/>. The counts are then
    /// 0 and mean nothing; the gateway charges such a call (like one without usage) its worst case.
    /// </summary>
    public bool Invalid { get; init; }

    /// <summary>Reported and valid: counts a cost can be computed from.</summary>
    public bool Billable => Reported && !Invalid;

    /// <summary>Usage the provider reported but whose figures are invalid (see <see cref="Invalid"/>).</summary>
    public static TokenUsage InvalidReport { get; } = new() { Reported = true, Invalid = true };
}

/// <summary>A workspace's credential with its secret opened; lives for one call and never prints its secrets.</summary>
public sealed class ResolvedCredential
{
    public ResolvedCredential(
        string credentialId,
        ProviderId provider,
        string? apiKey,
        IReadOnlyDictionary<string, string> secrets,
        IReadOnlyDictionary<string, string> config)
    {
        CredentialId = credentialId;
        Provider = provider;
        ApiKey = apiKey;
        Secrets = secrets;
        Config = config;
    }

    public string CredentialId { get; }
    public ProviderId Provider { get; }
    public string? ApiKey { get; }
    public IReadOnlyDictionary<string, string> Secrets { get; }
    public IReadOnlyDictionary<string, string> Config { get; }

    public string? GetConfig(string name) => Config.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;

    /// <summary>Every secret value, so error text can be scrubbed of them.</summary>
    public IEnumerable<string> SecretValues()
    {
        if (!string.IsNullOrEmpty(ApiKey))
        {
            yield return ApiKey;
        }

        foreach (var value in Secrets.Values)
        {
            if (!string.IsNullOrEmpty(value))
            {
                yield return value;

                // Adapters sign with trimmed values; an echo of the trimmed form must be caught too.
                if (value.Trim() is { Length: > 0 } trimmed && trimmed.Length != value.Length)
                {
                    yield return trimmed;
                }
            }
        }
    }

    public override string ToString() => $"credential {CredentialId} ({Provider}, secrets redacted)";
}

/// <summary>What a provider adapter is asked to do: one chat call, already optimized and on its final model.</summary>
public sealed record ProviderCall
{
    public required ProviderId Provider { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<JsonObject> Messages { get; init; }
    public JsonObject? Options { get; init; }
    public required ResolvedCredential Credential { get; init; }
    public string? RequestId { get; init; }

    /// <summary>A body already in this provider's wire format (native wrapper routes): sent with <see cref="Model"/> set, options ignored.</summary>
    public JsonObject? NativeBody { get; init; }

    /// <summary>Provider headers the client set on a native route (<c>anthropic-beta</c>), sent along with the native body.</summary>
    public IReadOnlyDictionary<string, string>? NativeHeaders { get; init; }
}

public sealed record ProviderResponse
{
    public bool IsSuccess => Error is null;
    public int UpstreamStatus { get; init; }
    /// <summary>The provider's JSON body, unchanged.</summary>
    public JsonNode? Body { get; init; }
    public TokenUsage Usage { get; init; } = TokenUsage.None;
    public GatewayError? Error { get; init; }
    public TimeSpan Latency { get; init; }
    /// <summary>The model the provider says it used, when it says.</summary>
    public string? ReportedModel { get; init; }
}

public sealed record CredentialTestResult(bool Ok, double LatencyMs, int? ProviderStatus, string Message);

/// <summary>One wire format; it may serve several provider ids (the OpenAI chat-completions family).</summary>
public interface IProviderAdapter
{
    IReadOnlyCollection<ProviderId> Providers { get; }

    Task<ProviderResponse> SendAsync(ProviderCall call, CancellationToken cancellationToken = default);

    /// <summary>The cheapest real call the provider allows (a models listing where one exists).</summary>
    Task<CredentialTestResult> TestCredentialAsync(ResolvedCredential credential, CancellationToken cancellationToken = default);
}

public interface IProviderRegistry
{
    bool TryGet(ProviderId provider, out IProviderAdapter adapter);
}
