using KillToken.Core.Providers;

namespace KillToken.Providers.Common;

/// <summary>Maps each provider id to the adapter of its wire format. Adding a provider = one adapter + one registration.</summary>
internal sealed class ProviderRegistry : IProviderRegistry
{
    private readonly Dictionary<ProviderId, IProviderAdapter> _adapters = [];

    public ProviderRegistry(IEnumerable<IProviderAdapter> adapters)
    {
        foreach (var adapter in adapters)
        {
            foreach (var provider in adapter.Providers)
            {
                _adapters[provider] = adapter;
            }
        }
    }

    public bool TryGet(ProviderId provider, out IProviderAdapter adapter) => _adapters.TryGetValue(provider, out adapter!);
}
