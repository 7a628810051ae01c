namespace KillToken.Client;

/// <summary>The gateway's metrics of one call (the contract's metrics object). Never holds prompt or completion text.</summary>
public sealed record ChatMetrics
{
    /// <summary>The gateway's id of the call; its trace has the same id.</summary>
    public string RequestId { get; init; } = string.Empty;

    /// <summary>The provider asked for.</summary>
    public ModelProvider? Provider { get; init; }

    /// <summary>The model asked for.</summary>
    public string? Model { get; init; }

    /// <summary>The model asked for, when a fallback replaced it.</summary>
    public string? OriginalModel { get; init; }

    /// <summary>The model that answered.</summary>
    public string? FinalModel { get; init; }

    /// <summary>The provider that answered.</summary>
    public ModelProvider? FinalProvider { get; init; }

    /// <summary>True when the budget's fallback model answered.</summary>
    public bool WasFallback { get; init; }

    /// <summary>Why a due fallback was not used; null otherwise.</summary>
    public string? FallbackSkipped { get; init; }

    /// <summary>True when budget admission lowered the output cap to fit the remaining budget.</summary>
    public bool OutputCapped { get; init; }

    /// <summary>That lowered cap, in output tokens.</summary>
    public long? OutputCap { get; init; }

    /// <summary><c>measure_only</c> or <c>safe</c>.</summary>
    public string? OptimizationMode { get; init; }

    /// <summary>Input tokens billed.</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens billed.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Input tokens the provider served from its own prompt cache.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>Input plus output tokens.</summary>
    public long TotalTokens { get; init; }

    /// <summary>Tokens of measured prompt waste.</summary>
    public long WasteTokens { get; init; }

    /// <summary>Waste tokens per category (whitespace, duplicate_message, json_pretty, repeated_system_prompt).</summary>
    public IReadOnlyDictionary<string, long>? WasteByCategory { get; init; }

    /// <summary>Tokens the safe optimizations removed.</summary>
    public long SavedTokens { get; init; }

    /// <summary>What the call cost in USD; null when the model is unpriced.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>How the cost was found.</summary>
    public CostStatus CostStatus { get; init; }

    /// <summary>USD saved (optimizations, a cache hit's avoided cost).</summary>
    public decimal SavedUsd { get; init; }

    /// <summary>What the exact cache did.</summary>
    public CacheStatus CacheStatus { get; init; }

    /// <summary>What the idempotency key did.</summary>
    public IdempotencyStatus Idempotency { get; init; }

    /// <summary>The whole call at the gateway, in milliseconds.</summary>
    public double LatencyMs { get; init; }

    /// <summary>The provider's part of it.</summary>
    public double ProviderLatencyMs { get; init; }

    /// <summary>The gateway's own part of it.</summary>
    public double OverheadMs { get; init; }

    /// <summary>The feature tag the call was counted under (<c>(untagged)</c> when none).</summary>
    public string? Feature { get; init; }

    /// <summary>The prompt template's fingerprint, for the top-templates report.</summary>
    public string? TemplateId { get; init; }
}
