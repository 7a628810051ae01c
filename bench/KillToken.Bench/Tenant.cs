using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Bench;

/// <summary>A workspace with one project key and an OpenAI credential, made through the public API.</summary>
internal sealed record Tenant(string WorkspaceId, string ApiKey)
{
    public static async Task<Tenant> SetUpAsync(HttpClient api, CancellationToken cancellationToken)
    {
        var email = $"bench-{Guid.NewGuid():N}@example.com";
        var signUp = await PostAsync(api, "api/auth/signup", null,
            new JsonObject { ["email"] = email, ["password"] = "bench-password-0123456789", ["name"] = "Bench" }, 201, cancellationToken);
        var session = signUp["token"]!.GetValue<string>();
        var workspaceId = signUp["workspace"]!["id"]!.GetValue<string>();

        var project = await PostAsync(api, $"api/workspaces/{workspaceId}/projects", session,
            new JsonObject { ["name"] = "bench" }, 201, cancellationToken);
        var apiKey = project["apiKey"]!.GetValue<string>();

        await PostAsync(api, $"api/workspaces/{workspaceId}/provider-credentials", session,
            new JsonObject { ["provider"] = "openai", ["apiKey"] = "sk-bench-" + Guid.NewGuid().ToString("N") }, 201, cancellationToken);
        return new Tenant(workspaceId, apiKey);
    }

    public static async Task<JsonObject> PostAsync(HttpClient api, string path, string? bearer, JsonObject body, int expected, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await api.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if ((int)response.StatusCode != expected)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"POST /{path} answered {(int)response.StatusCode}, expected {expected}: {text}"));
        }

        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<(int Status, JsonNode? Body)> GetAsync(HttpClient api, string pathAndQuery, string bearer, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(pathAndQuery, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await api.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonNode? node = null;
        try
        {
            node = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            node = text;
        }

        return ((int)response.StatusCode, node);
    }
}
