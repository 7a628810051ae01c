namespace KillToken.Client;

/// <summary>One gateway request as its trace keeps it: ids, counts, money and timings — never prompt or completion text.</summary>
public sealed record RequestTrace
{
    /// <summary>The request id (as in <see cref="ChatMetrics.RequestId"/>).</summary>
    public string Id { get; init; } = string.Empty;

    /// <summary>The workspace.</summary>
    public string? WorkspaceId { get; init; }

    /// <summary>The project whose key made the call.</summary>
    public string? ProjectId { get; init; }

    /// <summary>When the call arrived.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The route family (<c>chat</c>, <c>openai</c>, <c>anthropic</c>, …).</summary>
    public string? Endpoint { get; init; }

    /// <summary>The provider asked for.</summary>
    public ModelProvider? Provider { get; init; }

    /// <summary>The provider that answered.</summary>
    public ModelProvider? FinalProvider { get; init; }

    /// <summary>The model asked for.</summary>
    public string? Model { get; init; }

    /// <summary>The model that answered.</summary>
    public string? FinalModel { get; init; }

    /// <summary>True when the budget's fallback model answered.</summary>
    public bool WasFallback { get; init; }

    /// <summary>True when budget admission lowered the output cap.</summary>
    public bool OutputCapped { get; init; }

    /// <summary>That lowered cap.</summary>
    public long? OutputCap { get; init; }

    /// <summary><c>measure_only</c> or <c>safe</c>.</summary>
    public string? OptimizationMode { get; init; }

    /// <summary>The feature tag.</summary>
    public string? Feature { get; init; }

    /// <summary>True for a streamed call.</summary>
    public bool Stream { get; init; }

    /// <summary>The HTTP status the caller got.</summary>
    public int Status { get; init; }

    /// <summary>The error code the caller got, if the call failed.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Input tokens.</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Input tokens served from the provider's prompt cache.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>Input plus output tokens.</summary>
    public long TotalTokens { get; init; }

    /// <summary>Measured waste tokens.</summary>
    public long WasteTokens { get; init; }

    /// <summary>Tokens removed by safe optimizations.</summary>
    public long SavedTokens { get; init; }

    /// <summary>The cost in USD; null when unpriced.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>How the cost was found.</summary>
    public CostStatus CostStatus { get; init; }

    /// <summary>USD saved.</summary>
    public decimal SavedUsd { get; init; }

    /// <summary>Measured waste at the model's input price.</summary>
    public decimal WasteUsd { get; init; }

    /// <summary>In measure_only: what safe mode would have saved.</summary>
    public decimal PotentialSavedUsd { get; init; }

    /// <summary>Waste tokens per category.</summary>
    public IReadOnlyDictionary<string, long>? WasteByCategory { get; init; }

    /// <summary>What the exact cache did.</summary>
    public CacheStatus CacheStatus { get; init; }

    /// <summary>What the idempotency key did.</summary>
    public IdempotencyStatus Idempotency { get; init; }

    /// <summary>The whole call, in milliseconds.</summary>
    public double LatencyMs { get; init; }

    /// <summary>The provider's part.</summary>
    public double ProviderLatencyMs { get; init; }

    /// <summary>The gateway's part.</summary>
    public double OverheadMs { get; init; }

    /// <summary>The prompt template's fingerprint.</summary>
    public string? TemplateId { get; init; }
}

/// <summary>One page of <c>GET /v1/requests</c>, newest first, and the cursor of the next page.</summary>
public sealed record RequestTracePage
{
    /// <summary>The traces of this page.</summary>
    public IReadOnlyList<RequestTrace> Data { get; init; } = [];

    /// <summary>Pass it to get the next page; null on the last page.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>The filters of the request list and the CSV export (all optional; dates are UTC instants).</summary>
public sealed class RequestQuery
{
    /// <summary>Only this provider.</summary>
    public ModelProvider? Provider { get; set; }

    /// <summary>Only this model.</summary>
    public string? Model { get; set; }

    /// <summary>Only this optimization mode.</summary>
    public OptimizationMode? Mode { get; set; }

    /// <summary>Only this cache outcome.</summary>
    public CacheStatus? CacheStatus { get; set; }

    /// <summary>Only this feature tag.</summary>
    public string? Feature { get; set; }

    /// <summary>Only this project of the workspace.</summary>
    public string? ProjectId { get; set; }

    /// <summary>From this instant.</summary>
    public DateTimeOffset? From { get; set; }

    /// <summary>Up to this instant.</summary>
    public DateTimeOffset? To { get; set; }

    /// <summary>Traces per page, 1–200 (the gateway's default is 50). Not used by the export.</summary>
    public int? PageSize { get; set; }
}

/// <summary>The filters of the analytics export (all optional; dates are UTC days).</summary>
public sealed class AnalyticsQuery
{
    /// <summary>Only this provider.</summary>
    public ModelProvider? Provider { get; set; }

    /// <summary>Only this model.</summary>
    public string? Model { get; set; }

    /// <summary>Only this feature tag.</summary>
    public string? Feature { get; set; }

    /// <summary>Only this project of the workspace.</summary>
    public string? ProjectId { get; set; }

    /// <summary>From this day.</summary>
    public DateTimeOffset? From { get; set; }

    /// <summary>Up to this day.</summary>
    public DateTimeOffset? To { get; set; }
}
