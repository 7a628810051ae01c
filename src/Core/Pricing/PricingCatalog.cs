using System.Text.Json;
using System.Text.Json.Serialization;
using KillToken.Core.Providers;

namespace KillToken.Core.Pricing;

/// <summary>Prices in USD per 1M tokens for one model, with where they came from.</summary>
public sealed record ModelPrice
{
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public decimal Input { get; init; }
    /// <summary>Price of prompt tokens read from the provider's cache; defaults to <see cref="Input"/>.</summary>
    public decimal? CachedInput { get; init; }
    /// <summary>Price of prompt tokens written to the provider's cache; defaults to <see cref="Input"/>.</summary>
    public decimal? CacheWrite { get; init; }
    public decimal Output { get; init; }
    /// <summary>The model's largest output, used to hold a budget reservation when the request sets no cap.</summary>
    public long? MaxOutput { get; init; }
    public string? Source { get; init; }
    public string? AsOf { get; init; }
}

public static class CostStatus
{
    public const string Priced = "priced";
    public const string Unpriced = "unpriced";
    /// <summary>Nothing was billed: a cache hit, a replay, or a call that failed before usage.</summary>
    public const string Free = "free";

    /// <summary>
    /// A priced model answered without usage, or with usage whose figures are invalid (negative, not whole numbers,
    /// absurdly large, a required count missing): the call is charged its worst case — the maximum its budget
    /// reservation holds, input estimate + output cap at the model's prices — and its token counts are that estimate.
    /// </summary>
    public const string Estimated = "estimated";
}

public sealed record CostResult(decimal? CostUsd, string Status, ModelPrice? Price);

public interface IPricingCatalog
{
    /// <param name="provider">The provider that answers.</param>
    /// <param name="model">The model it answers with.</param>
    /// <param name="overrides">A workspace's negotiated prices; they win over the table.</param>
    ModelPrice? Find(ProviderId provider, string model, IReadOnlyList<ModelPrice>? overrides = null);

    CostResult Cost(ProviderId provider, string model, TokenUsage usage, IReadOnlyList<ModelPrice>? overrides = null);
}

/// <summary>
/// The pricing table shipped as a data file. A model matches exactly, or by its longest priced prefix
/// followed by '-' or '@' (dated snapshots such as <c>gpt-4o-2024-08-06</c>, <c>claude-3-5-haiku-latest</c>).
/// </summary>
public sealed class PricingCatalog : IPricingCatalog
{
    private static readonly JsonSerializerOptions FileOptions = new(JsonSerializerDefaults.Web);
    private readonly Dictionary<string, List<ModelPrice>> _byProvider;

    public PricingCatalog(IEnumerable<ModelPrice> prices)
    {
        _byProvider = prices
            .GroupBy(p => p.Provider, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Model.Length).ToList(), StringComparer.Ordinal);
    }

    public static PricingCatalog LoadEmbedded()
    {
        using var stream = typeof(PricingCatalog).Assembly.GetManifestResourceStream("KillToken.Core.Pricing.pricing.json")
            ?? throw new InvalidOperationException("The pricing table resource is missing from KillToken.Core.");
        var file = JsonSerializer.Deserialize<PricingFile>(stream, FileOptions)
            ?? throw new InvalidOperationException("The pricing table is empty.");
        return new PricingCatalog(file.Models);
    }

    public IEnumerable<ModelPrice> All => _byProvider.Values.SelectMany(v => v);

    public ModelPrice? Find(ProviderId provider, string model, IReadOnlyList<ModelPrice>? overrides = null)
    {
        if (overrides is { Count: > 0 } && Match([.. overrides.Where(p => p.Provider == provider.Value).OrderByDescending(p => p.Model.Length)], model) is { } negotiated)
        {
            return negotiated;
        }

        return _byProvider.TryGetValue(provider.Value, out var prices) ? Match(prices, model) : null;
    }

    private static ModelPrice? Match(List<ModelPrice> prices, string model)
    {
        foreach (var price in prices)
        {
            if (model.Equals(price.Model, StringComparison.OrdinalIgnoreCase))
            {
                return price;
            }
        }

        foreach (var price in prices)
        {
            if (model.Length > price.Model.Length
                && model.StartsWith(price.Model, StringComparison.OrdinalIgnoreCase)
                && model[price.Model.Length] is '-' or '@' or ':')
            {
                return price;
            }
        }

        return null;
    }

    public CostResult Cost(ProviderId provider, string model, TokenUsage usage, IReadOnlyList<ModelPrice>? overrides = null)
    {
        var price = Find(provider, model, overrides);
        if (price is null)
        {
            return new CostResult(null, CostStatus.Unpriced, null);
        }

        return new CostResult(Compute(price, usage), CostStatus.Priced, price);
    }

    public static decimal Compute(ModelPrice price, TokenUsage usage)
    {
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var written = Math.Min(usage.CacheWriteTokens, usage.InputTokens - cached);
        var plainInput = usage.InputTokens - cached - written;
        var total = (plainInput * price.Input)
            + (cached * (price.CachedInput ?? price.Input))
            + (written * (price.CacheWrite ?? price.Input))
            + (usage.OutputTokens * price.Output);
        return Math.Round(total / 1_000_000m, 10);
    }

    private sealed record PricingFile
    {
        [JsonPropertyName("models")]
        public List<ModelPrice> Models { get; init; } = [];
    }
}
