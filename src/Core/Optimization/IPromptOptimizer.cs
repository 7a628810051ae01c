using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>What the optimizer found (measure_only) or did (safe) to one request's messages.</summary>
public sealed record OptimizationResult
{
    /// <summary>The messages to send: unchanged in measure_only.</summary>
    public required IReadOnlyList<JsonObject> Messages { get; init; }
    /// <summary>The prompt tokens of <see cref="Messages"/> in the model's tokens (what the budget step reserves for), computed once here.</summary>
    public long InputTokens { get; init; }
    public long WasteTokens { get; init; }
    public long SavedTokens { get; init; }
    /// <summary>Waste that the safe transforms remove (saved in safe mode, potential in measure_only).</summary>
    public long RemovableTokens { get; init; }
    /// <summary>Waste tokens per category (whitespace, duplicate_message, …).</summary>
    public IReadOnlyDictionary<string, long> WasteByCategory { get; init; } = new Dictionary<string, long>();
    public string? TemplateId { get; init; }
}

public interface IPromptOptimizer
{
    /// <param name="messages">The request's messages; never modified.</param>
    /// <param name="mode">measure_only or safe.</param>
    /// <param name="workspaceId">Scopes what the optimizer remembers (templates seen), so tenants never learn of each other.</param>
    /// <param name="counter">Counts in the model's own tokens (<see cref="TokenCounter.For"/>); the estimate when omitted.</param>
    OptimizationResult Optimize(IReadOnlyList<JsonObject> messages, OptimizationMode mode, string? workspaceId = null, TokenCounter? counter = null);
}

/// <summary>Sends messages unchanged and reports no waste: the spine's pass-through.</summary>
public sealed class PassThroughOptimizer : IPromptOptimizer
{
    public OptimizationResult Optimize(IReadOnlyList<JsonObject> messages, OptimizationMode mode, string? workspaceId = null, TokenCounter? counter = null) =>
        new() { Messages = messages };
}
