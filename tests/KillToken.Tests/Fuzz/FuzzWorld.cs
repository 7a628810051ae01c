using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Core.Ports;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Fuzz;

/// <summary>A signed-up user with a workspace that has a project key (all scopes), a credential per fake provider and a trace.</summary>
internal sealed record FuzzTenant
{
    public required string Email { get; init; }
    public required string Password { get; init; }
    public required string Token { get; init; }
    public required string WorkspaceId { get; init; }
    public required string ProjectId { get; init; }
    public required string ApiKey { get; init; }
    public required string KeyPreview { get; init; }

    /// <summary>The openai credential (the one path parameters get).</summary>
    public required string CredentialId { get; init; }
    public required IReadOnlyList<string> CredentialIds { get; init; }
    public required string RequestId { get; init; }
    public required string UserId { get; init; }
    /// <summary>A pending invite of the workspace, and the token of its link.</summary>
    public required string InviteId { get; init; }
    public required string InviteToken { get; init; }
}

/// <summary>A request as it goes on the wire.</summary>
internal sealed record Prepared(string Method, string Target, List<KeyValuePair<string, string>> Headers, Payload? Body);

/// <summary>What came back; <see cref="Status"/> 0 when nothing did (<see cref="Failure"/> says why).</summary>
internal sealed record Answer(int Status, string Body, string? Failure = null)
{
    public string? ContentType { get; init; }

    public string Excerpt => Body.Length > 300 ? Body[..300] + "…" : Body;
}

/// <summary>
/// The gateway under fuzz: the real self-host pointed at three fake providers that answer 200 to anything, a tenant whose
/// ids fill the path parameters, and a second tenant ("the neighbour") whose ids are the foreign ones. Keeps a snapshot
/// of what each tenant has stored, read through the management API, to tell whether a refused request wrote anything.
/// </summary>
internal sealed class FuzzWorld : IAsyncDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(20);

    private static readonly (string Provider, string Secret)[] Providers =
        [("openai", "sk-fuzz-openai-0123456789abcdef"), ("anthropic", "sk-ant-fuzz-0123456789abcdef"), ("gemini", "AIzaFuzz0123456789abcdef")];

    private readonly HttpClient _client;

    private FuzzWorld(GatewayHost host, FakeUpstream openai, FakeUpstream anthropic, FakeUpstream gemini)
    {
        Host = host;
        OpenAI = openai;
        Anthropic = anthropic;
        Gemini = gemini;
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            // Non-ASCII header values go out as UTF-8 instead of failing in the client.
            RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8,
        })
        {
            BaseAddress = host.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        Endpoints = FuzzRoutes.FromHost(host.Services);
    }

    public GatewayHost Host { get; }
    public FakeUpstream OpenAI { get; }
    public FakeUpstream Anthropic { get; }
    public FakeUpstream Gemini { get; }
    public IReadOnlyList<RouteSpec> Endpoints { get; }
    public FuzzTenant Tenant { get; private set; } = null!;
    public FuzzTenant Neighbour { get; private set; } = null!;
    public string TenantBaseline { get; private set; } = string.Empty;
    public string NeighbourBaseline { get; private set; } = string.Empty;

    /// <summary>Times a tenant had to be repaired because a request (rightly) deleted, deactivated or rekeyed something of it.</summary>
    public int Repairs { get; private set; }

    public int UpstreamCalls => OpenAI.Count + Anthropic.Count + Gemini.Count;

    public static async Task<FuzzWorld> StartAsync()
    {
        var openai = await FakeUpstream.StartAsync(OpenAIAnswer);
        var anthropic = await FakeUpstream.StartAsync(AnthropicAnswer);
        var gemini = await FakeUpstream.StartAsync(GeminiAnswer);
        var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_GEMINI_BASE_URL"] = gemini.BaseAddress.ToString(),
        });
        var world = new FuzzWorld(host, openai, anthropic, gemini);
        world.Tenant = await world.SignUpTenantAsync("tenant");
        world.Neighbour = await world.SignUpTenantAsync("neighbour");
        world.TenantBaseline = await world.SnapshotAsync(world.Tenant);
        world.NeighbourBaseline = await world.SnapshotAsync(world.Neighbour);
        return world;
    }

    public string RealId(string parameter, RouteSpec route) => Id(Tenant, parameter, route, foreign: false);

    public string ForeignId(string parameter, RouteSpec route) => Id(Neighbour, parameter, route, foreign: true);

    public AuthMaterial Material(RouteSpec route) => new(route, Tenant.Token, Tenant.ApiKey, Neighbour.Token, Neighbour.ApiKey);

    public async Task<Answer> SendAsync(Prepared request)
    {
        if (request.Body?.DeclaredLength is not null)
        {
            return await SendRawAsync(request);
        }

        using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(Host.BaseAddress + request.Target));
        foreach (var (name, value) in request.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        if (request.Body is { } body)
        {
            HttpContent content = body.Chunked
                ? new StreamContent(new NonSeekableStream(body.Bytes ?? []))
                : new ByteArrayContent(body.Bytes ?? []);
            if (body.Chunked)
            {
                message.Headers.TransferEncodingChunked = true;
            }

            if (body.ContentType is not null)
            {
                content.Headers.TryAddWithoutValidation("Content-Type", body.ContentType);
            }

            if (body.ContentEncoding is not null)
            {
                content.Headers.TryAddWithoutValidation("Content-Encoding", body.ContentEncoding);
            }

            message.Content = content;
        }

        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var response = await _client.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token);
            return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync(timeout.Token))
            {
                ContentType = response.Content.Headers.ContentType?.MediaType,
            };
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new Answer(0, string.Empty, $"no answer within {RequestTimeout.TotalSeconds} s");
        }
        catch (HttpRequestException ex)
        {
            return new Answer(0, string.Empty, "the connection failed: " + ex.Message);
        }
    }

    /// <summary>
    /// What the tenant has stored, read through the management API: the user and its workspaces, the workspace's
    /// projects, credentials and negotiated prices (without <c>lastUsedAt</c>, which every authenticated call moves).
    /// </summary>
    public async Task<string> SnapshotAsync(FuzzTenant tenant)
    {
        string[] paths =
        [
            "api/me",
            $"api/workspaces/{tenant.WorkspaceId}/projects",
            $"api/workspaces/{tenant.WorkspaceId}/provider-credentials",
            $"api/workspaces/{tenant.WorkspaceId}/pricing",
        ];
        var parts = await Task.WhenAll(paths.Select(async path =>
        {
            var (status, body) = await JsonAsync(HttpMethod.Get, path, tenant.Token);
            Strip(body, "lastUsedAt");
            return (path, node: (JsonNode)new JsonObject { ["status"] = status, ["body"] = body });
        }));
        var snapshot = new JsonObject();
        foreach (var (path, node) in parts)
        {
            snapshot[path] = node;
        }

        return snapshot.ToJsonString();
    }

    /// <summary>
    /// After a request that was allowed to write: the new baseline, once the tenant can serve again. After a stream, whose
    /// cost is settled as it ends, the baseline is taken once two snapshots agree.
    /// </summary>
    public async Task SettleTenantAsync(bool afterStream = false)
    {
        if (afterStream)
        {
            await QuietAsync(Tenant);
        }

        (Tenant, TenantBaseline) = await SettleAsync(Tenant);
    }

    public async Task SettleNeighbourAsync(bool afterStream = false)
    {
        if (afterStream)
        {
            await QuietAsync(Neighbour);
        }

        (Neighbour, NeighbourBaseline) = await SettleAsync(Neighbour);
    }

    private async Task QuietAsync(FuzzTenant tenant)
    {
        var previous = await SnapshotAsync(tenant);
        for (var i = 0; i < 40; i++)
        {
            await Task.Delay(25);
            var current = await SnapshotAsync(tenant);
            if (current == previous)
            {
                return;
            }

            previous = current;
        }
    }

    public async Task<bool> UserExistsAsync(string email) =>
        await Host.Services.GetRequiredService<IUserStore>().FindByEmailAsync(email.ToLowerInvariant()) is not null;

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await Host.DisposeAsync();
        await OpenAI.DisposeAsync();
        await Anthropic.DisposeAsync();
        await Gemini.DisposeAsync();
    }

    /// <summary>The first path of the snapshot that differs, with both versions clipped.</summary>
    public static string Difference(string before, string after)
    {
        var a = JsonNode.Parse(before)!.AsObject();
        var b = JsonNode.Parse(after)!.AsObject();
        foreach (var (path, node) in a)
        {
            var was = node!.ToJsonString();
            var now = b[path]?.ToJsonString() ?? "(missing)";
            if (was != now)
            {
                var at = 0;
                while (at < Math.Min(was.Length, now.Length) && was[at] == now[at])
                {
                    at++;
                }

                var from = Math.Max(0, at - 80);
                return $"GET /{path} changed: was …{Clip(was[from..])} now …{Clip(now[from..])}";
            }
        }

        return "the snapshot changed";
    }

    private static string Clip(string text) => text.Length > 160 ? text[..160] + "…" : text;

    private static string Id(FuzzTenant tenant, string parameter, RouteSpec route, bool foreign) => parameter switch
    {
        "workspaceId" => tenant.WorkspaceId,
        "projectId" => tenant.ProjectId,
        "credentialId" => tenant.CredentialId,
        "requestId" => tenant.RequestId,
        "userId" => tenant.UserId,
        "inviteId" => tenant.InviteId,
        "token" => tenant.InviteToken,
        // The site root's token may only be empty; an asset is one of the dashboard's (or the reference page's) files.
        "home" => "",
        "file" when route.Pattern == KillToken.Api.Hosting.Routes.ApiReferenceAsset => foreign ? "scalar.js" : "reference.js",
        "file" => foreign ? "app.css" : "app.js",
        "project" => tenant.ProjectId,
        "model" when route.Shape == ErrorShape.Gemini => foreign ? "gemini-1.5-pro" : "gemini-2.0-flash",
        "model" => foreign ? "gpt-4.1" : "gpt-4o-mini",
        _ => "fuzz",
    };

    private async Task<(FuzzTenant Tenant, string Snapshot)> SettleAsync(FuzzTenant tenant)
    {
        var snapshot = await SnapshotAsync(tenant);
        var repaired = await RepairAsync(tenant, snapshot);
        if (repaired is null)
        {
            return (tenant, snapshot);
        }

        Repairs++;
        return (repaired, await SnapshotAsync(repaired));
    }

    /// <summary>
    /// Undoes what an allowed write did to the tenant's ability to serve (a deactivated or rekeyed project, a budget, a
    /// deleted or disabled credential; a deleted workspace is replaced). Null when nothing needed undoing.
    /// </summary>
    private async Task<FuzzTenant?> RepairAsync(FuzzTenant tenant, string snapshot)
    {
        var root = JsonNode.Parse(snapshot)!;
        var me = root["api/me"]!;
        var projects = root[$"api/workspaces/{tenant.WorkspaceId}/projects"]!;
        var credentials = root[$"api/workspaces/{tenant.WorkspaceId}/provider-credentials"]!;
        var project = (projects["body"]?["data"] as JsonArray ?? []).FirstOrDefault(p => p?["id"]?.ToString() == tenant.ProjectId);
        var workspaceListed = (me["body"]?["workspaces"] as JsonArray ?? []).Any(w => w?["id"]?.ToString() == tenant.WorkspaceId);
        if (me["status"]!.GetValue<int>() != 200 || credentials["status"]!.GetValue<int>() != 200 || !workspaceListed || project is null)
        {
            return await ProvisionAsync(tenant.Email, tenant.Password, tenant.Token, workspaceId: null);
        }

        var repaired = tenant;
        if (project["active"]?.GetValue<bool>() != true)
        {
            var (status, body) = await JsonAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/activate", tenant.Token);
            Require(status == 200, "re-activate the project", status, body);
        }

        if (project["keyPreview"]?.ToString() != tenant.KeyPreview)
        {
            var (status, body) = await JsonAsync(HttpMethod.Post, $"api/projects/{tenant.ProjectId}/regenerate-key", tenant.Token);
            Require(status == 200, "re-key the project", status, body);
            repaired = repaired with { ApiKey = body!["apiKey"]!.ToString(), KeyPreview = body["project"]!["keyPreview"]!.ToString() };
        }

        var scopes = (project["scopes"] as JsonArray ?? []).Select(s => s?.ToString()).ToHashSet();
        var limited = new[] { "dailyBudgetUsd", "monthlyBudgetUsd" }.Any(l => project[l] is not null);
        if (!scopes.IsSupersetOf(["chat", "analytics:read", "credentials:write"]) || limited)
        {
            var (status, body) = await JsonAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}", tenant.Token, new JsonObject
            {
                ["scopes"] = new JsonArray("chat", "analytics:read", "credentials:write"),
                ["dailyBudgetUsd"] = null,
                ["monthlyBudgetUsd"] = null,
            });
            Require(status == 200, "reset scopes and budgets", status, body);
        }

        var stored = (credentials["body"]?["data"] as JsonArray ?? []).ToDictionary(c => c!["id"]!.ToString(), c => c!["status"]?.ToString());
        var ids = tenant.CredentialIds.ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            if (stored.GetValueOrDefault(ids[i]) == "active")
            {
                continue;
            }

            var path = $"api/workspaces/{tenant.WorkspaceId}/provider-credentials";
            var (status, body) = stored.ContainsKey(ids[i])
                ? await JsonAsync(HttpMethod.Patch, $"{path}/{ids[i]}", tenant.Token, new JsonObject { ["status"] = "active" })
                : await JsonAsync(HttpMethod.Post, path, tenant.Token, new JsonObject { ["provider"] = Providers[i].Provider, ["apiKey"] = Providers[i].Secret });
            Require(status is 200 or 201, "restore credential " + Providers[i].Provider, status, body);
            ids[i] = body!["id"]!.ToString();
        }

        repaired = repaired with { CredentialIds = ids, CredentialId = ids[0] };
        var unchanged = repaired.ApiKey == tenant.ApiKey && ids.SequenceEqual(tenant.CredentialIds) && project["active"]?.GetValue<bool>() == true
            && scopes.IsSupersetOf(["chat", "analytics:read", "credentials:write"]) && !limited;
        return unchanged ? null : repaired;
    }

    private static void Strip(JsonNode? node, string property)
    {
        switch (node)
        {
            case JsonObject obj:
                obj.Remove(property);
                foreach (var (_, child) in obj)
                {
                    Strip(child, property);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Strip(child, property);
                }

                break;
        }
    }

    private async Task<FuzzTenant> SignUpTenantAsync(string label)
    {
        var email = $"fuzz-{label}-{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery staple";
        var (status, body) = await JsonAsync(HttpMethod.Post, "api/auth/signup", null, new JsonObject { ["email"] = email, ["password"] = password, ["name"] = label });
        Require(status == 201, "sign-up", status, body);
        // The sign-up's own workspace stays as a spare, so the tenant's "fuzz workspace" is never its only one and a
        // valid DELETE of it (its name typed) really deletes it, which the repair then replaces.
        return await ProvisionAsync(email, password, body!["token"]!.ToString(), workspaceId: null);
    }

    private async Task<FuzzTenant> ProvisionAsync(string email, string password, string token, string? workspaceId)
    {
        int status;
        JsonNode? body;
        if (workspaceId is null)
        {
            (status, body) = await JsonAsync(HttpMethod.Post, "api/workspaces", token, new JsonObject { ["name"] = "fuzz workspace" });
            Require(status == 201, "create workspace", status, body);
            workspaceId = body!["id"]!.ToString();
        }

        (status, body) = await JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", token, new JsonObject { ["name"] = "fuzz project" });
        Require(status == 201, "create project", status, body);
        var projectId = body!["project"]!["id"]!.ToString();
        var apiKey = body["apiKey"]!.ToString();
        (status, body) = await JsonAsync(HttpMethod.Patch, $"api/projects/{projectId}", token,
            new JsonObject { ["scopes"] = new JsonArray("chat", "analytics:read", "credentials:write") });
        Require(status == 200, "grant scopes", status, body);
        var keyPreview = body!["keyPreview"]!.ToString();

        var credentialIds = new List<string>();
        foreach (var (provider, secret) in Providers)
        {
            (status, body) = await JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", token,
                new JsonObject { ["provider"] = provider, ["apiKey"] = secret });
            Require(status == 201, "add credential " + provider, status, body);
            credentialIds.Add(body!["id"]!.ToString());
        }

        (status, body) = await JsonAsync(HttpMethod.Post, "v1/chat", apiKey, new JsonObject
        {
            ["provider"] = "openai",
            ["model"] = "gpt-4o-mini",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
        });
        Require(status == 200, "first chat", status, body);
        var requestId = body!["metrics"]!["requestId"]!.ToString();

        (status, body) = await JsonAsync(HttpMethod.Get, "api/me", token);
        Require(status == 200, "me", status, body);
        var userId = body!["user"]!["id"]!.ToString();
        (status, body) = await JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/invites", token,
            new JsonObject { ["email"] = $"invitee-{Guid.NewGuid():N}@example.com", ["role"] = "member" });
        Require(status == 201, "invite", status, body);
        var inviteUrl = body!["inviteUrl"]!.ToString();

        return new FuzzTenant
        {
            Email = email,
            Password = password,
            Token = token,
            WorkspaceId = workspaceId,
            ProjectId = projectId,
            ApiKey = apiKey,
            KeyPreview = keyPreview,
            CredentialId = credentialIds[0],
            CredentialIds = credentialIds,
            RequestId = requestId,
            UserId = userId,
            InviteId = body["invite"]!["id"]!.ToString(),
            InviteToken = inviteUrl[(inviteUrl.LastIndexOf('/') + 1)..],
        };
    }

    private async Task<(int Status, JsonNode? Body)> JsonAsync(HttpMethod method, string path, string? bearer, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json;
        try
        {
            json = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            json = JsonValue.Create(text);
        }

        return ((int)response.StatusCode, json);
    }

    private static void Require(bool ok, string step, int status, JsonNode? body)
    {
        if (!ok)
        {
            throw new InvalidOperationException($"fuzz set-up failed at '{step}': {status} {body?.ToJsonString()}");
        }
    }

    /// <summary>HTTP/1.1 by hand, for what HttpClient will not send: a Content-Length that does not match the body.</summary>
    private async Task<Answer> SendRawAsync(Prepared request)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(Host.BaseAddress.Host, Host.BaseAddress.Port, timeout.Token);
            var stream = tcp.GetStream();
            var head = new StringBuilder()
                .Append(request.Method).Append(" /").Append(request.Target).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(Host.BaseAddress.Authority).Append("\r\n")
                .Append("Connection: close\r\n");
            foreach (var (name, value) in request.Headers)
            {
                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }

            var body = request.Body!;
            if (body.ContentType is not null)
            {
                head.Append("Content-Type: ").Append(body.ContentType).Append("\r\n");
            }

            head.Append("Content-Length: ").Append(body.DeclaredLength).Append("\r\n\r\n");
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()), timeout.Token);
            await stream.WriteAsync(body.Bytes ?? [], timeout.Token);
            await stream.FlushAsync(timeout.Token);
            if (body.DeclaredLength > (body.Bytes?.Length ?? 0))
            {
                // Nothing more is coming. (Kestrel takes the half-close as the client leaving and may not answer.)
                tcp.Client.Shutdown(SocketShutdown.Send);
            }

            // Read until the first response is complete: the bytes after a short Content-Length are a second request
            // the server may reset the connection over.
            using var received = new MemoryStream();
            var buffer = new byte[16384];
            try
            {
                while (ParseFirstResponse(received.ToArray()) is not { Failure: null })
                {
                    var read = await stream.ReadAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    received.Write(buffer, 0, read);
                }
            }
            catch (IOException) when (received.Length > 0)
            {
            }

            return ParseFirstResponse(received.ToArray());
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new Answer(0, string.Empty, $"no answer within {RequestTimeout.TotalSeconds} s");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return new Answer(0, string.Empty, "the connection failed: " + ex.Message);
        }
    }

    /// <summary>The first response in <paramref name="raw"/>; <see cref="Answer.Failure"/> set while it is incomplete.</summary>
    private static Answer ParseFirstResponse(byte[] raw)
    {
        var incomplete = new Answer(0, string.Empty, raw.Length == 0 ? "no HTTP response came back (the connection was closed)" : "an incomplete HTTP response came back");
        var end = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return incomplete;
        }

        var lines = Encoding.ASCII.GetString(raw, 0, end).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var rest = raw.AsSpan(end + 4);
        byte[] body;
        if (headers.TryGetValue("content-length", out var length))
        {
            var size = int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
            if (rest.Length < size)
            {
                return incomplete;
            }

            body = rest[..size].ToArray();
        }
        else if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var decoded = new MemoryStream();
            while (true)
            {
                var lineEnd = rest.IndexOf("\r\n"u8);
                if (lineEnd < 0)
                {
                    return incomplete;
                }

                var size = Convert.ToInt32(Encoding.ASCII.GetString(rest[..lineEnd]).Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    break;
                }

                if (rest.Length < lineEnd + 2 + size + 2)
                {
                    return incomplete;
                }

                decoded.Write(rest.Slice(lineEnd + 2, size));
                rest = rest[(lineEnd + 2 + size + 2)..];
            }

            body = decoded.ToArray();
        }
        else
        {
            body = rest.ToArray();
        }

        return new Answer(status, Encoding.UTF8.GetString(body));
    }

    private static async Task OpenAIAnswer(HttpContext context, UpstreamRequest request)
    {
        if (request.Method == "GET")
        {
            await FakeUpstream.Json(new JsonObject
            {
                ["object"] = "list",
                ["data"] = new JsonArray(new JsonObject { ["id"] = "gpt-4o-mini", ["object"] = "model", ["created"] = 1721172741, ["owned_by"] = "system" }),
            })(context, request);
            return;
        }

        if (Streams(request))
        {
            await SseTestKit.Serve(SseTestKit.OpenAIStream())(context, request);
            return;
        }

        await FakeUpstream.Json(Fixtures.OpenAIChatCompletion())(context, request);
    }

    private static async Task AnthropicAnswer(HttpContext context, UpstreamRequest request)
    {
        if (request.Method == "GET")
        {
            await FakeUpstream.Json(new JsonObject
            {
                ["data"] = new JsonArray(new JsonObject { ["type"] = "model", ["id"] = "claude-3-5-haiku-latest", ["display_name"] = "Claude Haiku 3.5", ["created_at"] = "2024-10-22T00:00:00Z" }),
                ["has_more"] = false,
            })(context, request);
            return;
        }

        if (Streams(request))
        {
            await SseTestKit.Serve(SseTestKit.AnthropicStream())(context, request);
            return;
        }

        await FakeUpstream.Json(Fixtures.AnthropicMessage())(context, request);
    }

    private static async Task GeminiAnswer(HttpContext context, UpstreamRequest request)
    {
        if (request.Method == "GET")
        {
            await FakeUpstream.Json(new JsonObject
            {
                ["models"] = new JsonArray(new JsonObject { ["name"] = "models/gemini-2.0-flash", ["displayName"] = "Gemini 2.0 Flash" }),
            })(context, request);
            return;
        }

        if (request.Path.Contains(":streamGenerateContent", StringComparison.Ordinal))
        {
            await SseTestKit.Serve(SseTestKit.GeminiStream())(context, request);
            return;
        }

        await FakeUpstream.Json(new JsonObject
        {
            ["candidates"] = new JsonArray(new JsonObject
            {
                ["content"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = "Hello! How can I help?" }), ["role"] = "model" },
                ["finishReason"] = "STOP",
                ["index"] = 0,
            }),
            ["usageMetadata"] = new JsonObject { ["promptTokenCount"] = 8, ["candidatesTokenCount"] = 7, ["totalTokenCount"] = 15 },
            ["modelVersion"] = "gemini-2.0-flash",
            ["responseId"] = "mAitaLmkHPPlz7IPvtfUqQ4",
        })(context, request);
    }

    private static bool Streams(UpstreamRequest request)
    {
        try
        {
            return JsonNode.Parse(request.Body)?["stream"] is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.True;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>A stream whose length is unknown, so HttpClient sends it chunked.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
