using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Team;

/// <summary>
/// One HTTP exchange as the client saw it: the request line, the status and the whole response (headers and body),
/// kept so the secret scan can read every response of a journey.
/// </summary>
internal sealed record Exchange(int Index, string Request, int Status, string Response);

/// <summary>
/// The team API through the real gateway, black box: every request goes over HTTP with a session token (or none),
/// and every response is recorded.
/// </summary>
internal sealed class TeamGateway(GatewayHost host)
{
    private readonly ConcurrentQueue<Exchange> _exchanges = new();
    private int _count;

    public GatewayHost Host { get; } = host;

    public IReadOnlyList<Exchange> Exchanges => [.. _exchanges];

    /// <summary>Sends <paramref name="body"/> (an object, or a raw JSON string) with <paramref name="token"/> as the session.</summary>
    public async Task<HttpResponseMessage> SendAsync(string? token, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = body is string raw ? new StringContent(raw, Encoding.UTF8, "application/json") : JsonContent.Create(body);
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        var response = await Host.Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        var text = await response.Content.ReadAsStringAsync();
        var headers = string.Join("\n", response.Headers.Concat(response.Content.Headers).Select(h => $"{h.Key}: {string.Join(",", h.Value)}"));
        _exchanges.Enqueue(new Exchange(Interlocked.Increment(ref _count), $"{method} {path}", (int)response.StatusCode, headers + "\n\n" + text));
        return response;
    }

    /// <summary>The last recorded exchange (the one a secret was just read from).</summary>
    public Exchange Last => _exchanges.Last();

    public async Task<Person> SignUpAsync(string? email = null, string? name = null, string password = TeamKit.Password)
    {
        email ??= $"user-{Guid.NewGuid():N}@example.com";
        name ??= "Person " + email.Split('@')[0];
        var body = await TeamKit.JsonAsync(await SendAsync(null, HttpMethod.Post, "api/auth/signup", new { email, password, name }), 201);
        return new Person(this, body["token"]!.GetValue<string>(), body["user"]!["id"]!.GetValue<string>(),
            body["user"]!["email"]!.GetValue<string>(), name, password, body["workspace"]!["id"]!.GetValue<string>());
    }
}

/// <summary>A signed-in user: its session token, id, email, and the workspace its sign-up created.</summary>
internal sealed record Person(TeamGateway Gateway, string Token, string UserId, string Email, string Name, string Password, string HomeWorkspaceId)
{
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null) => Gateway.SendAsync(Token, method, path, body);

    public async Task<JsonObject> JsonAsync(HttpMethod method, string path, object? body, int expectedStatus) =>
        await TeamKit.JsonAsync(await SendAsync(method, path, body), expectedStatus);

    public Task<JsonObject> GetAsync(string path) => JsonAsync(HttpMethod.Get, path, null, 200);

    /// <summary>Signs in again (a session lives 12 hours; tests that move the clock by days need a fresh one).</summary>
    public async Task<Person> LoginAsync()
    {
        var body = await TeamKit.JsonAsync(await Gateway.SendAsync(null, HttpMethod.Post, "api/auth/login", new { email = Email, password = Password }), 200);
        return this with { Token = body["token"]!.GetValue<string>() };
    }

    /// <summary>GET /api/workspaces: id → role.</summary>
    public async Task<Dictionary<string, string>> WorkspacesAsync()
    {
        var list = await GetAsync("api/workspaces");
        return list["data"]!.AsArray().ToDictionary(w => w!["id"]!.GetValue<string>(), w => w!["role"]!.GetValue<string>());
    }

    /// <summary>GET /api/me: the ids of the workspaces it lists.</summary>
    public async Task<string[]> MeWorkspaceIdsAsync()
    {
        var me = await GetAsync("api/me");
        return [.. me["workspaces"]!.AsArray().Select(w => w!["id"]!.GetValue<string>())];
    }

    public async Task<string> CreateWorkspaceAsync(string name)
    {
        var created = await JsonAsync(HttpMethod.Post, "api/workspaces", new { name }, 201);
        return created["id"]!.GetValue<string>();
    }

    /// <summary>POST …/invites → 201 {invite, inviteUrl, emailDelivery}.</summary>
    public Task<JsonObject> InviteAsync(string workspaceId, string email, string role) =>
        JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", new { email, role }, 201);

    public Task<HttpResponseMessage> AcceptAsync(string token) => SendAsync(HttpMethod.Post, $"api/invites/{token}/accept");
}

/// <summary>One workspace with an owner, an admin and a member (both joined through the invite API), and an outsider.</summary>
internal sealed record TeamWorkspace(string Id, string Name, Person Owner, Person Admin, Person Member, Person Outsider)
{
    public Person As(string role) => role switch
    {
        "owner" => Owner,
        "admin" => Admin,
        "member" => Member,
        "outsider" => Outsider,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };
}

internal static class TeamKit
{
    public const string Password = "correct horse battery";

    public static async Task<JsonObject> JsonAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(expectedStatus, (int)response.StatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Asserts the status and, for an error, the contract's error shape with <paramref name="code"/>.</summary>
    public static async Task AssertErrorAsync(HttpResponseMessage response, int status, string code, string? because = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        var what = $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}{(because is null ? "" : " (" + because + ")")}";
        Assert.AreEqual(status, (int)response.StatusCode, $"{what}: {text}");
        JsonNode? json = null;
        try
        {
            json = JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
        }

        var error = json?["error"] as JsonObject;
        Assert.IsNotNull(error, $"{what}: the error shape {{error:{{code,message,requestId}}}} expected: {text}");
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), $"{what}: {text}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["message"]?.GetValue<string>()), $"{what}: {text}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["requestId"]?.GetValue<string>()), $"{what}: {text}");
    }

    public static async Task AssertStatusAsync(HttpResponseMessage response, int status, string? because = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, (int)response.StatusCode,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}{(because is null ? "" : " (" + because + ")")}: {text}");
    }

    /// <summary>The token of an invite link: its last path segment.</summary>
    public static string TokenOf(JsonObject inviteResponse)
    {
        var url = new Uri(inviteResponse["inviteUrl"]!.GetValue<string>());
        return url.AbsolutePath.TrimEnd('/').Split('/')[^1];
    }

    /// <summary><paramref name="invitee"/> joins <paramref name="workspaceId"/> with <paramref name="role"/>: invite, then accept with its session.</summary>
    public static async Task JoinAsync(Person inviter, string workspaceId, Person invitee, string role)
    {
        var invite = await inviter.InviteAsync(workspaceId, invitee.Email, role);
        var accepted = await JsonAsync(await invitee.AcceptAsync(TokenOf(invite)), 200);
        Assert.AreEqual(workspaceId, accepted["workspace"]!["id"]!.GetValue<string>());
        Assert.AreEqual(role, accepted["workspace"]!["role"]!.GetValue<string>());
    }

    /// <summary>
    /// A fresh workspace (not the owner's only one, so it can be deleted) with an admin and a member who joined through
    /// the invite API, and an outsider with a workspace of its own.
    /// </summary>
    public static async Task<TeamWorkspace> CreateTeamAsync(TeamGateway gateway, string? name = null)
    {
        name ??= "Team " + Guid.NewGuid().ToString("N")[..8];
        var owner = await gateway.SignUpAsync(name: "Olivia Owner");
        var workspaceId = await owner.CreateWorkspaceAsync(name);
        var admin = await gateway.SignUpAsync(name: "Adam Admin");
        var member = await gateway.SignUpAsync(name: "Mia Member");
        var outsider = await gateway.SignUpAsync(name: "Otto Outsider");
        await JoinAsync(owner, workspaceId, admin, "admin");
        await JoinAsync(owner, workspaceId, member, "member");
        return new TeamWorkspace(workspaceId, name, owner, admin, member, outsider);
    }

    /// <summary>A new user who joined <paramref name="team"/> with <paramref name="role"/> (invited by the owner).</summary>
    public static async Task<Person> NewMemberAsync(TeamWorkspace team, string role)
    {
        var person = await team.Owner.Gateway.SignUpAsync();
        await JoinAsync(team.Owner, team.Id, person, role);
        return person;
    }

    /// <summary>GET …/members: userId → role.</summary>
    public static async Task<Dictionary<string, string>> MembersAsync(Person caller, string workspaceId)
    {
        var list = await caller.GetAsync($"api/workspaces/{workspaceId}/members");
        return list["data"]!.AsArray().ToDictionary(m => m!["userId"]!.GetValue<string>(), m => m!["role"]!.GetValue<string>());
    }

    /// <summary>The whole audit log of a workspace through the API, newest first (pages of 200).</summary>
    public static async Task<List<JsonObject>> AuditAsync(Person caller, string workspaceId, string query = "")
    {
        var events = new List<JsonObject>();
        string? cursor = null;
        do
        {
            var path = $"api/workspaces/{workspaceId}/audit?limit=200{query}" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await caller.GetAsync(path);
            events.AddRange(page["data"]!.AsArray().Select(e => e!.AsObject()));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        return events;
    }

    public static string Str(JsonNode? node) => node?.GetValueKind() switch
    {
        null or System.Text.Json.JsonValueKind.Null => null!,
        System.Text.Json.JsonValueKind.String => node.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}
