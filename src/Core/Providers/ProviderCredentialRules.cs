using System.Net;
using System.Net.Sockets;
using KillToken.Core.Gateway;

namespace KillToken.Core.Providers;

public enum SecretShape
{
    ApiKey,
    AwsKeys,
    GoogleServiceAccount,
}

/// <summary>Seed 000's credential rules per provider: which secret shape, which config fields.</summary>
public sealed record ProviderCredentialRule(
    ProviderId Provider,
    SecretShape Shape,
    IReadOnlyList<string> RequiredConfig,
    IReadOnlyList<string> OptionalConfig,
    IReadOnlyList<string> RequiredSecrets,
    IReadOnlyList<string> OptionalSecrets,
    IReadOnlyList<string> UrlConfig)
{
    public IEnumerable<string> AllConfig => RequiredConfig.Concat(OptionalConfig);
    public IEnumerable<string> AllSecrets => RequiredSecrets.Concat(OptionalSecrets);
}

public static class ProviderCredentialRules
{
    private static readonly Dictionary<ProviderId, ProviderCredentialRule> Rules = Build();

    public static ProviderCredentialRule For(ProviderId provider) => Rules[provider];

    private static Dictionary<ProviderId, ProviderCredentialRule> Build()
    {
        var rules = new Dictionary<ProviderId, ProviderCredentialRule>();
        foreach (var provider in ProviderId.All)
        {
            rules[provider] = new ProviderCredentialRule(provider, SecretShape.ApiKey, [], [], [], [], []);
        }

        rules[ProviderId.AzureOpenAI] = new(ProviderId.AzureOpenAI, SecretShape.ApiKey, ["endpoint", "deployment"], ["apiVersion"], [], [], ["endpoint"]);
        rules[ProviderId.OpenAICompatible] = new(ProviderId.OpenAICompatible, SecretShape.ApiKey, ["baseUrl"], ["defaultModel"], [], [], ["baseUrl"]);
        rules[ProviderId.AwsBedrock] = new(ProviderId.AwsBedrock, SecretShape.AwsKeys, ["region"], [],
            ["accessKeyId", "secretAccessKey"], ["sessionToken"], []);
        rules[ProviderId.GoogleVertex] = new(ProviderId.GoogleVertex, SecretShape.GoogleServiceAccount, ["projectId", "location", "defaultModel"], ["endpointUrl"],
            ["clientEmail", "privateKey"], ["privateKeyId"], ["endpointUrl"]);
        return rules;
    }

    /// <summary>
    /// Validates an endpoint a tenant supplies: https only, and no loopback, private or link-local
    /// address unless the server allows it (then http is allowed too, for local model servers).
    /// </summary>
    public static GatewayError? ValidateEndpoint(string field, string value, bool allowPrivate)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(uri.UserInfo))
        {
            return GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, $"config.{field} must be an absolute https URL.");
        }

        var isPrivate = IsPrivateHost(uri);
        if (isPrivate && !allowPrivate)
        {
            return GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig,
                $"config.{field} points at a loopback, private or link-local address; the server does not allow that (KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS).");
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(isPrivate && allowPrivate))
        {
            return GatewayError.BadRequest(ErrorCodes.InvalidProviderConfig, $"config.{field} must use https.");
        }

        return null;
    }

    public static bool IsPrivateHost(Uri uri)
    {
        var host = uri.IdnHost;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal;
        }

        var b = address.GetAddressBytes();
        return b[0] == 10
            || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
            || b[0] == 0;
    }
}
