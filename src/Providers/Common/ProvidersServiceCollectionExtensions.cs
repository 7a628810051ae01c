using KillToken.Core.Providers;
using KillToken.Providers.Anthropic;
using KillToken.Providers.AzureOpenAI;
using KillToken.Providers.Bedrock;
using KillToken.Providers.Common;
using KillToken.Providers.Gemini;
using KillToken.Providers.OpenAI;
using KillToken.Providers.Vertex;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

public static class ProvidersServiceCollectionExtensions
{
    /// <summary>Registers every provider adapter, the registry and the shared HTTP client.</summary>
    public static IServiceCollection AddKillTokenProviders(this IServiceCollection services, Func<string, string?> readSetting)
    {
        // ProviderHttp logs provider failures itself (redacted); the factory's per-call log scope and request/response
        // log handlers only add work to every call.
        services.AddHttpClient(ProviderHttp.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AutomaticDecompression = System.Net.DecompressionMethods.All,
                AllowAutoRedirect = false,
            });
        services.TryAddSingleton(new ProviderEndpoints(readSetting));
        services.TryAddSingleton<ProviderHttp>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(VertexOptions.Read(readSetting));
        services.TryAddSingleton<GoogleAccessTokenCache>();
        services.TryAddSingleton<GoogleTokenClient>();
        services.AddSingleton<OpenAIChatAdapter>();
        services.AddSingleton<AnthropicMessagesAdapter>();
        services.AddSingleton<GeminiGenerateContentAdapter>();
        services.AddSingleton<AzureOpenAIChatAdapter>();
        services.AddSingleton<BedrockConverseAdapter>();
        services.AddSingleton<VertexGenerateContentAdapter>();
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<OpenAIChatAdapter>());
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<AnthropicMessagesAdapter>());
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<GeminiGenerateContentAdapter>());
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<AzureOpenAIChatAdapter>());
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<BedrockConverseAdapter>());
        services.AddSingleton<IProviderAdapter>(sp => sp.GetRequiredService<VertexGenerateContentAdapter>());
        services.TryAddSingleton<IProviderRegistry, ProviderRegistry>();
        return services;
    }
}
