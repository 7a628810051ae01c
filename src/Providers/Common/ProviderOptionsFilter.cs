using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Providers.Common;

/// <summary>
/// Forwards <c>providerOptions</c> through an explicit allow-list per wire format; an option the provider does not
/// take is refused with a clear 400 rather than silently dropped.
/// </summary>
internal static class ProviderOptionsFilter
{
    public static GatewayError? Apply(JsonObject? options, JsonObject target, IReadOnlySet<string> allowed, string providerName,
        IReadOnlyDictionary<string, string>? renames = null)
    {
        if (options is null)
        {
            return null;
        }

        foreach (var (name, value) in options)
        {
            if (!allowed.Contains(name))
            {
                return GatewayError.BadRequest(ErrorCodes.InvalidProviderOptions,
                    $"providerOptions.{name} is not an option {providerName} takes here. Allowed: {string.Join(", ", allowed.Order(StringComparer.Ordinal))}.");
            }

            var targetName = renames is not null && renames.TryGetValue(name, out var renamed) ? renamed : name;
            target[targetName] = value?.DeepClone();
        }

        return null;
    }
}
