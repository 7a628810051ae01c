using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// The real self-host (same Program.Build as <c>dotnet run</c>) on 127.0.0.1:0 with its own data folder,
/// talking real HTTP; every log line it writes is kept so tests can search them for secrets.
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly bool _ownsDataDirectory;

    private GatewayHost(WebApplication app, Uri baseAddress, string dataDirectory, bool ownsDataDirectory, LogSink logs)
    {
        _ownsDataDirectory = ownsDataDirectory;
        _app = app;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
        Logs = logs;
        Client = new HttpClient { BaseAddress = baseAddress };
    }

    public Uri BaseAddress { get; }
    public string DataDirectory { get; }
    public LogSink Logs { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>Set to <c>cosmos</c> to run every gateway test on the Cosmos DB emulator instead of SQLite.</summary>
    public const string TestStoreVariable = "KILLTOKEN_TEST_STORE";

    public static async Task<GatewayHost> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var values = Settings(settings);
        var dataDirectory = values["KILLTOKEN_DATA_DIR"]!;
        // A folder the test chose outlives this host (a test may start another on it); one made here does not.
        var ownsDataDirectory = settings?.ContainsKey("KILLTOKEN_DATA_DIR") != true;

        var logs = new LogSink();
        var app = KillToken.SelfHost.Program.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(values);
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
            services?.Invoke(builder.Services);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHost(app, new Uri(address.TrimEnd('/') + "/"), dataDirectory, ownsDataDirectory, logs);
    }

    /// <summary>
    /// The settings every test gateway runs with — its own data folder, a short provider timeout, and with
    /// <see cref="TestStoreVariable"/>=cosmos a fresh database on the emulator and the audit log in Azurite — overridden by <paramref name="settings"/>.
    /// Both hosts get them: the self-host as configuration, the Functions worker as app settings.
    /// </summary>
    public static Dictionary<string, string?> Settings(IDictionary<string, string?>? settings = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["KILLTOKEN_DATA_DIR"] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N")),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "5",
        };
        if (Environment.GetEnvironmentVariable(TestStoreVariable) == "cosmos")
        {
            // The whole gateway suite again on Cosmos DB (the emulator), as CI's second pass does.
            values["KILLTOKEN_STORE"] = "cosmos";
            values["COSMOS_CONNECTION_STRING"] = CosmosEmulator.Shared.ConnectionString;
            values["COSMOS_DATABASE"] = CosmosEmulator.NewDatabaseName("gateway");
            values["AzureWebJobsStorage"] = AzuriteEmulator.Shared.ConnectionString;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        return values;
    }

    /// <summary>Signs up a fresh user: its session token and first workspace id.</summary>
    public Task<(string Token, string WorkspaceId)> SignUpAsync(string? email = null) => SignUpAsync(Client, email);

    /// <summary>Signs up a fresh user through <paramref name="client"/> (either host): its session token and first workspace id.</summary>
    public static async Task<(string Token, string WorkspaceId)> SignUpAsync(HttpClient client, string? email = null)
    {
        email ??= $"user-{Guid.NewGuid():N}@example.com";
        var response = await client.PostAsJsonAsync("api/auth/signup", new { email, password = "correct horse battery", name = "Test" });
        var body = await ReadJsonAsync(response, 201);
        return (body["token"]!.GetValue<string>(), body["workspace"]!["id"]!.GetValue<string>());
    }

    /// <summary>Creates a project: its id and the API key shown once.</summary>
    public Task<(string ProjectId, string ApiKey)> CreateProjectAsync(string token, string workspaceId, object? body = null) =>
        CreateProjectAsync(Client, token, workspaceId, body);

    /// <summary>Creates a project through <paramref name="client"/> (either host): its id and the API key shown once.</summary>
    public static async Task<(string ProjectId, string ApiKey)> CreateProjectAsync(HttpClient client, string token, string workspaceId, object? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/workspaces/{workspaceId}/projects")
        {
            Content = JsonContent.Create(body ?? new { name = "test project" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var json = await ReadJsonAsync(await client.SendAsync(request), 201);
        return (json["project"]!["id"]!.GetValue<string>(), json["apiKey"]!.GetValue<string>());
    }

    /// <summary>A ready workspace: user, project key, and a credential for <paramref name="provider"/>.</summary>
    public async Task<Tenant> CreateTenantAsync(string provider = "openai", string secret = "sk-test-tenant-key-0123456789", object? credential = null)
    {
        var (token, workspaceId) = await SignUpAsync();
        var (projectId, apiKey) = await CreateProjectAsync(token, workspaceId);
        var tenant = new Tenant(this, token, workspaceId, projectId, apiKey);
        var created = await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials",
            credential ?? new { provider, apiKey = secret }, session: true);
        await ReadJsonAsync(created, 201);
        return tenant;
    }

    public static async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(expectedStatus, (int)response.StatusCode, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        // A 500 in a test says only "internal_error"; its cause is in the host's log, written where the test run shows it.
        foreach (var line in Logs.Lines.Where(l => l.StartsWith("Error ", StringComparison.Ordinal) || l.StartsWith("Critical ", StringComparison.Ordinal)))
        {
            Console.WriteLine("gateway log: " + line);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!_ownsDataDirectory)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A signed-up user with a project key: sends requests with either credential.</summary>
internal sealed record Tenant(GatewayHost Host, string Token, string WorkspaceId, string ProjectId, string ApiKey)
{
    public Task<HttpResponseMessage> ChatAsync(object body, string? featureHeader = null) =>
        SendAsync(HttpMethod.Post, "v1/chat", body, headers: featureHeader is null ? null : new() { ["x-killtoken-feature"] = featureHeader });

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, bool session = false, Dictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = body is string raw ? new StringContent(raw, Encoding.UTF8, "application/json") : JsonContent.Create(body);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session ? Token : ApiKey);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Host.Client.SendAsync(request);
    }
}

/// <summary>Keeps every formatted log line (with exception text) the host writes.</summary>
internal sealed class LogSink : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new SinkLogger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class SinkLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
