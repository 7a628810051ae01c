using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KillToken.Core.Budgets;
using KillToken.Testing.FunctionsHost;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.ScaleOut;

/// <summary>
/// Several gateway instances on ONE Cosmos DB emulator database, as Azure Functions runs them when it scales out: any
/// number of in-process self-hosts (<see cref="GatewayHost"/>, each with its own services, Cosmos client and in-memory
/// state) and optionally the real Functions worker as a process of its own under <see cref="FunctionsTestHost"/>.
/// They share what a deployment's instances share: the store, the server secrets (session signing key, API-key pepper,
/// vault key — set explicitly, as Key Vault references set them in Azure) and the vault (here the local vault's file in
/// one data folder, where Azure has Key Vault). They start at the same moment on a fresh database.
/// </summary>
internal sealed class SharedStoreCluster : IAsyncDisposable
{
    private readonly string _dataDirectory;

    private SharedStoreCluster(IReadOnlyList<GatewayInstance> instances, string database, string dataDirectory, TimeSpan startup)
    {
        Instances = instances;
        Database = database;
        _dataDirectory = dataDirectory;
        Startup = startup;
    }

    public IReadOnlyList<GatewayInstance> Instances { get; }

    public string Database { get; }

    /// <summary>How long the instances took to start together.</summary>
    public TimeSpan Startup { get; }

    /// <summary>Round-robin: the instance that takes call number <paramref name="index"/>.</summary>
    public GatewayInstance this[int index] => Instances[index % Instances.Count];

    /// <param name="openai">The fake OpenAI every instance calls.</param>
    /// <param name="selfHosts">In-process self-hosts.</param>
    /// <param name="functionsWorker">Also start the Functions worker (one more instance, after the self-hosts).</param>
    /// <param name="extra">More settings for every instance (SMTP, …).</param>
    public static Task<SharedStoreCluster> StartAsync(FakeUpstream openai, int selfHosts, bool functionsWorker, params (string Key, string? Value)[] extra) =>
        StartAsync(openai, selfHosts, functionsWorker, processes: 0, extra);

    /// <param name="processes">Self-hosts as child processes (<see cref="GatewayProcess"/>, last in <see cref="Instances"/>), which a test can stop with SIGTERM.</param>
    public static async Task<SharedStoreCluster> StartAsync(FakeUpstream openai, int selfHosts, bool functionsWorker, int processes, params (string Key, string? Value)[] extra)
    {
        var database = CosmosEmulator.NewDatabaseName("scaleout");
        var dataDirectory = Directory.CreateTempSubdirectory("killtoken-scaleout-").FullName;
        (string, string?)[] shared =
        [
            ("KILLTOKEN_DATA_DIR", dataDirectory),
            ("KILLTOKEN_JWT_SECRET", Convert.ToBase64String(RandomNumberGenerator.GetBytes(36))),
            ("KILLTOKEN_KEY_PEPPER", Convert.ToBase64String(RandomNumberGenerator.GetBytes(36))),
            ("KILLTOKEN_ENCRYPTION_KEY", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))),
            // Long enough for 200 calls queued on one budget to drain (admission waits up to this for room).
            ("KILLTOKEN_PROVIDER_TIMEOUT_SECONDS", "30"),
        ];
        var settings = CosmosGatewaySettings.For(CosmosEmulator.Shared, database, openai, [.. shared, .. extra]);

        var clock = Stopwatch.StartNew();
        var starting = new List<Task<GatewayInstance>>();
        for (var i = 0; i < selfHosts; i++)
        {
            var name = $"self-host {(char)('A' + i)}";
            starting.Add(StartSelfHostAsync(name, settings));
        }

        if (functionsWorker)
        {
            starting.Add(StartFunctionsAsync(settings));
        }

        for (var i = 0; i < processes; i++)
        {
            var name = $"process {(char)('A' + selfHosts + i)}";
            starting.Add(StartProcessAsync(name, dataDirectory, settings));
        }

        try
        {
            var instances = await Task.WhenAll(starting);
            return new SharedStoreCluster(instances, database, dataDirectory, clock.Elapsed);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await started.Result.DisposeAsync();
            }

            DeleteQuietly(dataDirectory);
            throw;
        }
    }

    private static async Task<GatewayInstance> StartSelfHostAsync(string name, Dictionary<string, string?> settings) =>
        new(name, await GatewayHost.StartAsync(new Dictionary<string, string?>(settings)), null);

    private static async Task<GatewayInstance> StartProcessAsync(string name, string dataDirectory, Dictionary<string, string?> settings) =>
        new(name, await GatewayProcess.StartAsync(dataDirectory, settings.Where(s => s.Value is not null).ToDictionary(s => s.Key, s => s.Value!)));

    private static async Task<GatewayInstance> StartFunctionsAsync(Dictionary<string, string?> settings) =>
        new("Functions worker", null, await FunctionsTestHost.StartAsync(FunctionsWorkerBuild.Directory, GatewayHost.Settings(settings)));

    /// <summary>A signed-up owner with a project (its key) and an OpenAI credential, made through <paramref name="via"/>.</summary>
    public static async Task<ClusterTenant> CreateTenantAsync(GatewayInstance via, object? project = null, string? name = null)
    {
        var email = $"scaleout-{Guid.NewGuid():N}@example.com";
        name ??= "Scale";
        var signup = await via.JsonAsync(HttpMethod.Post, "api/auth/signup", null, new { email, password = "correct horse battery", name }, 201);
        var token = signup["token"]!.GetValue<string>();
        var workspaceId = signup["workspace"]!["id"]!.GetValue<string>();
        var created = await via.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects", token, project ?? new { name = "scale project" }, 201);
        await via.JsonAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", token, new { provider = "openai", apiKey = "sk-scaleout-tenant-0123456789" }, 201);
        return new ClusterTenant(name, email, signup["user"]!["id"]!.GetValue<string>(), token, workspaceId,
            created["project"]!["id"]!.GetValue<string>(), created["apiKey"]!.GetValue<string>());
    }

    /// <summary>
    /// An account signed up through every instance, and a call with the first one's key through every instance, so each
    /// has compiled its request paths before a test races them against each other (a cold instance answers its first
    /// sign-up and call seconds late, and would only see a budget already spent). Returns the accounts, one per instance.
    /// </summary>
    public async Task<IReadOnlyList<ClusterTenant>> WarmUpAsync()
    {
        var tenants = await Task.WhenAll(Instances.Select(instance => CreateTenantAsync(instance, name: "Warm " + Guid.NewGuid().ToString("N")[..6])));
        foreach (var instance in Instances)
        {
            using var response = await instance.ChatAsync(tenants[0].ApiKey, new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "warm up" } } });
            Assert.AreEqual(200, (int)response.StatusCode, $"{instance.Name}: {await response.Content.ReadAsStringAsync()}");
        }

        return tenants;
    }

    /// <summary><paramref name="invitee"/> joins the owner's workspace: invited through one instance, accepted through another.</summary>
    public static async Task JoinAsync(GatewayInstance inviteVia, ClusterTenant owner, GatewayInstance acceptVia, ClusterTenant invitee, string role)
    {
        var invite = await inviteVia.JsonAsync(HttpMethod.Post, $"api/workspaces/{owner.WorkspaceId}/invites", owner.Token, new { email = invitee.Email, role }, 201);
        var url = new Uri(invite["inviteUrl"]!.GetValue<string>());
        var token = url.AbsolutePath.TrimEnd('/').Split('/')[^1];
        var accepted = await acceptVia.JsonAsync(HttpMethod.Post, $"api/invites/{token}/accept", invitee.Token, null, 200);
        Assert.AreEqual(role, accepted["workspace"]!["role"]!.GetValue<string>(), $"{invitee.Email} joined through {acceptVia.Name}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in Instances)
        {
            await instance.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        DeleteQuietly(_dataDirectory);
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A user (signed up as <paramref name="Name"/>), their session, their first workspace and one project key in it.</summary>
internal sealed record ClusterTenant(string Name, string Email, string UserId, string Token, string WorkspaceId, string ProjectId, string ApiKey);

/// <summary>One instance of a <see cref="SharedStoreCluster"/>, reached over real HTTP.</summary>
internal sealed class GatewayInstance : IAsyncDisposable
{
    private readonly GatewayHost? _selfHost;
    private readonly FunctionsTestHost? _functions;
    private readonly GatewayProcess? _process;

    public GatewayInstance(string name, GatewayHost? selfHost, FunctionsTestHost? functions)
    {
        Name = name;
        _selfHost = selfHost;
        _functions = functions;
    }

    public GatewayInstance(string name, GatewayProcess process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public bool IsFunctionsWorker => _functions is not null;

    public HttpClient Client => _selfHost?.Client ?? _functions?.Client ?? _process!.Client;

    /// <summary>SIGTERM to a child-process instance, as the platform stops an instance when it scales in; waits for it to exit.</summary>
    public Task StopProcessAsync() => _process?.StopAsync() ?? throw new InvalidOperationException($"{Name} is not a child process.");

    public override string ToString() => Name;

    /// <summary>Sends <paramref name="body"/> with <paramref name="bearer"/> (a session token or a project key) as the Bearer credential.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? bearer, object? body = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        foreach (var (header, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        var response = await Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    public Task<HttpResponseMessage> ChatAsync(string apiKey, object body) => SendAsync(HttpMethod.Post, "v1/chat", apiKey, body);

    /// <summary>Sends and reads the JSON answer, asserting its status (the message names this instance).</summary>
    public async Task<JsonObject> JsonAsync(HttpMethod method, string path, string? bearer, object? body, int expectedStatus)
    {
        using var response = await SendAsync(method, path, bearer, body);
        return await ReadAsync(response, expectedStatus);
    }

    public async Task<JsonObject> ReadAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(expectedStatus, (int)response.StatusCode, $"{Name}: {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Asserts the contract's error shape with <paramref name="code"/> at <paramref name="status"/>.</summary>
    public async Task AssertErrorAsync(HttpResponseMessage response, int status, string code, string because)
    {
        var body = await ReadAsync(response, status);
        var error = body["error"] as JsonObject;
        Assert.IsNotNull(error, $"{Name} ({because}): {body.ToJsonString()}");
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), $"{Name} ({because}): {body.ToJsonString()}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["requestId"]?.GetValue<string>()), $"{Name} ({because}): {body.ToJsonString()}");
    }

    /// <summary>
    /// The daily close as this instance's timer runs it. A self-host runs its <see cref="PeriodCloseJob"/> for
    /// <paramref name="now"/> and returns what it did; the Functions worker's <c>DailyClose</c> timer is invoked and runs
    /// on the worker's own clock (the host cannot give it another time), so its result is null.
    /// </summary>
    public async Task<PeriodCloseResult?> RunDailyCloseAsync(DateTimeOffset now)
    {
        if (_process is not null)
        {
            throw new InvalidOperationException($"{Name}: a child process's close runs on its own timer only.");
        }

        if (_functions is not null)
        {
            var result = await _functions.InvokeTimerAsync("DailyClose");
            Assert.IsTrue(result.Succeeded, $"{Name}: {result}");
            return null;
        }

        var job = (PeriodCloseJob)_selfHost!.Services.GetRequiredService<IPeriodCloseJob>();
        return await job.CloseAsync(now);
    }

    public async ValueTask DisposeAsync()
    {
        if (_selfHost is not null)
        {
            await _selfHost.DisposeAsync();
        }

        if (_functions is not null)
        {
            await _functions.DisposeAsync();
        }

        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }
}
