using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KillToken.Tests.Providers;

/// <summary>What the provider adapter tests share: the credential test route, error assertions, the raw request target.</summary>
internal static class ProviderTestKit
{
    /// <summary>The tenant's (only) credential id, read back through the dashboard API.</summary>
    public static async Task<string> CredentialIdAsync(Tenant tenant)
    {
        var list = await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials", session: true), 200);
        return list["data"]![0]!["id"]!.GetValue<string>();
    }

    /// <summary>POST /api/workspaces/{ws}/provider-credentials/{id}/test → {ok, latencyMs, providerStatus, message}.</summary>
    public static async Task<JsonObject> TestCredentialAsync(Tenant tenant)
    {
        var id = await CredentialIdAsync(tenant);
        return await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials/{id}/test", session: true), 200);
    }

    /// <summary>Asserts the contract's error shape and code; returns the raw text for leak checks.</summary>
    public static async Task<string> AssertErrorAsync(HttpResponseMessage response, int status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, (int)response.StatusCode, text);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.AreEqual(code, error["code"]!.GetValue<string>(), text);
        return text;
    }

    /// <summary>The request target exactly as it arrived (Kestrel's Path is decoded: %3A → ':').</summary>
    public static string RawTarget(HttpContext context) => context.Features.Get<IHttpRequestFeature>()!.RawTarget;

    /// <summary>Answers with a body that is not JSON at all.</summary>
    public static Func<HttpContext, UpstreamRequest, Task> NotJson(int status = 200) => async (context, _) =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("<html>upstream proxy error</html>");
    };

    public static void AssertNoSecret(string text, params string[] secrets)
    {
        foreach (var secret in secrets)
        {
            Assert.IsFalse(text.Contains(secret, StringComparison.Ordinal), "a credential secret reached the client: " + text);
        }
    }

    public static void AssertNoSecretInLogs(GatewayHost host, params string[] secrets)
    {
        foreach (var line in host.Logs.Lines)
        {
            AssertNoSecret(line, secrets);
        }
    }
}
