using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Domain;
using KillToken.Core.Providers;

namespace KillToken.Core.Pricing;

/// <summary>
/// A workspace's negotiated prices, read on the request path through <see cref="WorkspaceSettings"/>' short cache (a price
/// change reaches other instances within <see cref="WorkspaceSettings.CacheLifetime"/>; this instance sees it at once).
/// </summary>
public sealed class WorkspacePricing(WorkspaceSettings workspaces, TimeProvider time)
{
    public async Task<IReadOnlyList<ModelPrice>?> GetAsync(string workspaceId, CancellationToken cancellationToken = default) =>
        (await workspaces.GetAsync(workspaceId, cancellationToken))?.PriceOverrides;

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

        if (await workspaces.UpdateAsync(workspaceId, w => w with { PriceOverrides = list }, cancellationToken) is null)
        {
            return (null, GatewayError.NotFound("Workspace"));
        }

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
