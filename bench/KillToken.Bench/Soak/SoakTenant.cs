using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Soak;

/// <summary>A project the load sends through; its key changes when the management loop regenerates it.</summary>
internal sealed class SoakProject(string id, string key)
{
    private string _key = key;

    public string Id { get; } = id;
    public string Key { get => Volatile.Read(ref _key); set => Volatile.Write(ref _key, value); }
}

/// <summary>
/// The account the soak runs under, made through the public API: a user and workspace (sign-up), an OpenAI credential,
/// a steady project, a project whose key is regenerated under load, and a project with a daily budget the management
/// loop moves between "plenty" and "spent", so budget refusals are part of the mix.
/// </summary>
internal sealed class SoakTenant
{
    public const decimal PlentyUsd = 1000m;
    /// <summary>A limit a handful of calls spend, so the budget project is refused (429 budget_exceeded) in turns.</summary>
    public const decimal TightUsd = 0.0001m;

    private SoakTenant(string session, string workspaceId, string credentialId, SoakProject steady, SoakProject rotating, SoakProject budget)
    {
        Session = session;
        WorkspaceId = workspaceId;
        CredentialId = credentialId;
        Steady = steady;
        Rotating = rotating;
        Budget = budget;
    }

    public string Session { get; }
    public string WorkspaceId { get; }
    public string CredentialId { get; }
    public SoakProject Steady { get; }
    public SoakProject Rotating { get; }
    public SoakProject Budget { get; }

    public static async Task<SoakTenant> SetUpAsync(HttpClient api, CancellationToken cancellationToken)
    {
        var signUp = await SoakApi.SendAsync(api, HttpMethod.Post, "api/auth/signup", null,
            new JsonObject { ["email"] = $"soak-{Guid.NewGuid():N}@example.com", ["password"] = "soak-password-0123456789", ["name"] = "Soak" },
            201, cancellationToken);
        var session = signUp["token"]!.GetValue<string>();
        var workspaceId = signUp["workspace"]!["id"]!.GetValue<string>();
        var credential = await SoakApi.SendAsync(api, HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", session,
            new JsonObject { ["provider"] = "openai", ["apiKey"] = "sk-soak-" + Guid.NewGuid().ToString("N") }, 201, cancellationToken);
        var credentialId = (credential["id"] ?? credential["credential"]?["id"])!.GetValue<string>();

        async Task<SoakProject> ProjectAsync(string name, decimal? dailyBudgetUsd)
        {
            var body = new JsonObject { ["name"] = name };
            if (dailyBudgetUsd is { } limit)
            {
                body["dailyBudgetUsd"] = limit;
            }

            var created = await SoakApi.SendAsync(api, HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", session, body, 201, cancellationToken);
            return new SoakProject(created["project"]!["id"]!.GetValue<string>(), created["apiKey"]!.GetValue<string>());
        }

        return new SoakTenant(session, workspaceId, credentialId,
            await ProjectAsync("soak-steady", null), await ProjectAsync("soak-rotating", null), await ProjectAsync("soak-budget", PlentyUsd));
    }
}

/// <summary>JSON over HTTP with the expected status checked.</summary>
internal static class SoakApi
{
    public static async Task<JsonObject> SendAsync(HttpClient api, HttpMethod method, string path, string? bearer, JsonObject? body, int expected,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await api.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if ((int)response.StatusCode != expected)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{method} /{path} answered {(int)response.StatusCode}, expected {expected}: {text}"));
        }

        return text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject();
    }
}
