namespace KillToken.Core.Domain;

// Stored shapes. Every tenant record carries its workspaceId: it is the partition key on Cosmos DB.

public sealed record UserRecord
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public string? Name { get; init; }
    public required string PasswordHash { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

public sealed record WorkspaceRecord
{
    public required string Id { get; init; }
    public string WorkspaceId => Id;
    public required string Name { get; init; }
    public required string OwnerUserId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? DeletedAt { get; init; }
    /// <summary>Negotiated prices that replace the pricing table's for this workspace (same shape, per 1M tokens).</summary>
    public IReadOnlyList<Pricing.ModelPrice>? PriceOverrides { get; init; }
    /// <summary>Seed 002's workspace budget: a monthly limit across all its projects (null = none). Owner only.</summary>
    public decimal? MonthlyBudgetUsd { get; init; }
}

public static class WorkspaceRoles
{
    public const string Owner = "owner";
    public const string Admin = "admin";
    public const string Member = "member";

    public static bool IsKnown(string? role) => role is Owner or Admin or Member;

    /// <summary>Seed 002's matrix: owner ⊃ admin ⊃ member.</summary>
    public static int Rank(string role) => role switch { Owner => 3, Admin => 2, Member => 1, _ => 0 };
}

public sealed record MembershipRecord
{
    public required string WorkspaceId { get; init; }
    public required string UserId { get; init; }
    public required string Role { get; init; }
    public required DateTimeOffset JoinedAt { get; init; }
}

/// <summary>
/// An emailed invitation to a workspace (seed 002). The token itself is never stored: only its hash, which a point read
/// resolves. <see cref="Revision"/> guards its changes (accept, resend, cancel) against a concurrent one.
/// </summary>
public sealed record InviteRecord
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    /// <summary>Lower case.</summary>
    public required string Email { get; init; }
    public required string Role { get; init; }
    /// <summary>SHA-256 of the current token, hex; a resend replaces it and the old link stops working.</summary>
    public required string TokenHash { get; init; }
    /// <summary><see cref="InviteStatus.Pending"/>, <see cref="InviteStatus.Accepted"/> or <see cref="InviteStatus.Cancelled"/>; expiry is read from <see cref="ExpiresAt"/>.</summary>
    public required string Status { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public required string InvitedByUserId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? AcceptedAt { get; init; }
    public string? AcceptedByUserId { get; init; }
    public int Revision { get; init; }

    /// <summary>The status a person sees: a pending invite past its expiry is <c>expired</c>.</summary>
    public string StatusAt(DateTimeOffset now) => Status == InviteStatus.Pending && now >= ExpiresAt ? InviteStatus.Expired : Status;
}

public static class InviteStatus
{
    public const string Pending = "pending";
    public const string Accepted = "accepted";
    public const string Cancelled = "cancelled";
    /// <summary>Never stored: a pending invite past its expiry.</summary>
    public const string Expired = "expired";
}

public sealed record ProjectRecord
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string Name { get; init; }
    public decimal? DailyBudgetUsd { get; init; }
    public decimal? MonthlyBudgetUsd { get; init; }
    public string? FallbackModel { get; init; }
    /// <summary>The fallback model's provider when it is not the request's own (seed 002 allows crossing providers).</summary>
    public string? FallbackProvider { get; init; }
    public string? AlertEmail { get; init; }
    public bool Active { get; init; } = true;
    /// <summary>HMAC-SHA256 of the key with the server pepper, hex. Never the key.</summary>
    public required string KeyHash { get; init; }
    public required string KeyPreview { get; init; }
    public required IReadOnlyList<string> Scopes { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? LastUsedAt { get; init; }
}

public static class ApiKeyScopes
{
    public const string Chat = "chat";
    public const string AnalyticsRead = "analytics:read";
    public const string CredentialsWrite = "credentials:write";

    public static IReadOnlyList<string> Known { get; } = [Chat, AnalyticsRead, CredentialsWrite];
    public static IReadOnlyList<string> NewProjectDefault { get; } = [Chat, AnalyticsRead];
}

public static class CredentialStatus
{
    public const string Active = "active";
    public const string Disabled = "disabled";
}

public sealed record CredentialRecord
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public required string Provider { get; init; }
    public string? Label { get; init; }
    public required string Status { get; init; }
    /// <summary>A masked hint of the secret (<c>sk-…wxyz</c>); never enough to use it.</summary>
    public required string KeyPreview { get; init; }
    /// <summary>Non-secret settings: endpoint, deployment, region, project id…</summary>
    public IReadOnlyDictionary<string, string> Config { get; init; } = new Dictionary<string, string>();
    /// <summary>The vault's name for the secret bundle; the vault alone holds the value.</summary>
    public required string SecretName { get; init; }
    public required string SecretVersion { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>One gateway request, privacy-safe: ids, counts, money and timings, never prompt or completion text.</summary>
public sealed record RequestTrace
{
    public required string Id { get; init; }
    public required string WorkspaceId { get; init; }
    public string? ProjectId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required string Endpoint { get; init; }
    public string? Provider { get; init; }
    public string? FinalProvider { get; init; }
    public string? Model { get; init; }
    public string? FinalModel { get; init; }
    public bool WasFallback { get; init; }
    /// <summary>Budget admission lowered the output cap to fit the remaining budget (<see cref="OutputCap"/> tokens).</summary>
    public bool OutputCapped { get; init; }
    public long? OutputCap { get; init; }
    public string? OptimizationMode { get; init; }
    public required string Feature { get; init; }
    public bool Stream { get; init; }
    public int Status { get; init; }
    public string? ErrorCode { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long TotalTokens { get; init; }
    public long WasteTokens { get; init; }
    public long SavedTokens { get; init; }
    public decimal? CostUsd { get; init; }
    public required string CostStatus { get; init; }
    public decimal SavedUsd { get; init; }
    /// <summary>Measured waste at the model's input price.</summary>
    public decimal WasteUsd { get; init; }
    /// <summary>In measure_only: what safe mode would have saved.</summary>
    public decimal PotentialSavedUsd { get; init; }
    public IReadOnlyDictionary<string, long>? WasteByCategory { get; init; }
    public required string CacheStatus { get; init; }
    public required string Idempotency { get; init; }
    public double LatencyMs { get; init; }
    public double ProviderLatencyMs { get; init; }
    public double OverheadMs { get; init; }
    public string? TemplateId { get; init; }
}
