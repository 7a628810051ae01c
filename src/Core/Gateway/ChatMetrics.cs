namespace KillToken.Core.Gateway;

/// <summary>The metrics object of §8, returned with every gateway answer. Property names are part of the contract.</summary>
public sealed record ChatMetrics
{
    public required string RequestId { get; init; }
    public string? Provider { get; init; }
    public string? Model { get; init; }
    public string? OriginalModel { get; init; }
    public string? FinalModel { get; init; }
    /// <summary>The provider that answered: the request's own unless a cross-provider fallback was used.</summary>
    public string? FinalProvider { get; init; }
    public bool WasFallback { get; init; }
    /// <summary>Why a due fallback was not used (e.g. no credential for the fallback's provider); null otherwise.</summary>
    public string? FallbackSkipped { get; init; }
    /// <summary>True when budget admission lowered the output cap sent to the provider so the call fits the remaining budget.</summary>
    public bool OutputCapped { get; init; }
    /// <summary>That lowered cap, in output tokens; null when the call went out as asked.</summary>
    public long? OutputCap { get; init; }
    public string? OptimizationMode { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long TotalTokens { get; init; }
    public long WasteTokens { get; init; }
    /// <summary>Waste tokens per category (whitespace, duplicate_message, json_pretty, repeated_system_prompt).</summary>
    public IReadOnlyDictionary<string, long>? WasteByCategory { get; init; }
    public long SavedTokens { get; init; }
    public decimal? CostUsd { get; init; }
    public required string CostStatus { get; init; }
    public decimal SavedUsd { get; init; }
    public required string CacheStatus { get; init; }
    public required string Idempotency { get; init; }
    public double LatencyMs { get; init; }
    public double ProviderLatencyMs { get; init; }
    public double OverheadMs { get; init; }
    public required string Feature { get; init; }
    public string? TemplateId { get; init; }
}
