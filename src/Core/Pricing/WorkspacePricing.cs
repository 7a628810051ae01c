using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Providers;

namespace KillToken.Core.Pricing;

/// <summary>
/// A workspace's negotiated prices, read on the request path through a short in-memory cache (a price change reaches
/// other instances within <see cref="CacheLifetime"/>; this instance sees it at once).
/// </summary>
public sealed class WorkspacePricing(IWorkspaceStore workspaces, TimeProvider time)
{
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expires, IReadOnlyList<ModelPrice>? Prices)> _cache = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<ModelPrice>?> GetAsync(string workspaceId, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(workspaceId, out var cached) && cached.Expires > now)
        {
            return cached.Prices;
        }

        var prices = (await workspaces.GetAsync(workspaceId, cancellationToken))?.PriceOverrides;
        _cache[workspaceId] = (now + CacheLifetime, prices);
        return prices;
    }

    /// <summary>Replaces the workspace's overrides after validating them; answers the stored list.</summary>
    public async Task<(IReadOnlyList<ModelPrice>? Prices, GatewayError? Error)> SetAsync(string workspaceId, JsonObject body, CancellationToken cancellationToken = default)
    {
        if (body["models"] is not JsonArray models || models.Count > 500)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'models' must be an array of at most 500 prices."));
        }

        var list = new List<ModelPrice>();
        for (var i = 0; i < models.Count; i++)
        {
            if (models[i] is not JsonObject entry
                || !ProviderId.TryParse(ChatRequestParser.AsString(entry["provider"]), out var provider)
                || ChatRequestParser.AsString(entry["model"]) is not { Length: > 0 and <= 200 } model
                || !TryPrice(entry["input"], out var input) || !TryPrice(entry["output"], out var output)
                || !TryOptionalPrice(entry["cachedInput"], out var cachedInput) || !TryOptionalPrice(entry["cacheWrite"], out var cacheWrite))
            {
                return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed,
                    $"models[{i}] must be {{ provider, model, input, output, cachedInput?, cacheWrite? }} with a known provider and non-negative USD per 1M tokens."));
            }

            list.Add(new ModelPrice
            {
                Provider = provider.Value,
                Model = model.Trim(),
                Input = input,
                Output = output,
                CachedInput = cachedInput,
                CacheWrite = cacheWrite,
                Source = "workspace override",
                AsOf = time.GetUtcNow().ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            });
        }

        var workspace = await workspaces.GetAsync(workspaceId, cancellationToken);
        if (workspace is null)
        {
            return (null, GatewayError.NotFound("Workspace"));
        }

        await workspaces.UpdateAsync(workspace with { PriceOverrides = list, UpdatedAt = time.GetUtcNow() }, cancellationToken);
        _cache[workspaceId] = (time.GetUtcNow() + CacheLifetime, list);
        return (list, null);
    }

    private static bool TryPrice(JsonNode? node, out decimal value)
    {
        value = 0;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out value) && value >= 0 && value <= 100_000;
    }

    private static bool TryOptionalPrice(JsonNode? node, out decimal? value)
    {
        value = null;
        if (node is null)
        {
            return true;
        }

        var ok = TryPrice(node, out var price);
        value = price;
        return ok;
    }
}
