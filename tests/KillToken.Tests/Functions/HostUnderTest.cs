using KillToken.Core.Budgets;
using KillToken.Testing.FunctionsHost;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Functions;

/// <summary>The two ways KillToken is run: the ASP.NET Core self-host, and the Azure Functions worker under a host.</summary>
public enum HostKind
{
    SelfHost,
    Functions,
}

/// <summary>
/// Either host, started on the store the test run uses (SQLite, or Cosmos DB with <c>KILLTOKEN_TEST_STORE=cosmos</c>),
/// reached over real HTTP. The Functions kind is the built worker process driven by <see cref="FunctionsTestHost"/>
/// through the Functions host's protocol; the self-host is <see cref="GatewayHost"/>.
/// </summary>
internal sealed class HostUnderTest : IAsyncDisposable
{
    private readonly GatewayHost? _selfHost;
    private readonly FunctionsTestHost? _functions;
    private readonly string? _dataDirectory;

    private HostUnderTest(HostKind kind, GatewayHost? selfHost, FunctionsTestHost? functions, IReadOnlyDictionary<string, string?> settings)
    {
        Kind = kind;
        _selfHost = selfHost;
        _functions = functions;
        Settings = settings;
        _dataDirectory = settings.GetValueOrDefault("KILLTOKEN_DATA_DIR");
    }

    public HostKind Kind { get; }

    public HttpClient Client => _selfHost?.Client ?? _functions!.Client;

    /// <summary>The worker's app settings (the Functions kind): enough to open the same store once it has stopped.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>The Functions worker's invocations (empty for the self-host).</summary>
    public IReadOnlyList<InvocationResult> Invocations => _functions?.Invocations ?? [];

    /// <summary>What the host logged: the self-host's log lines, or the worker's output and RpcLog messages.</summary>
    public IReadOnlyList<string> Logs => _selfHost?.Logs.Lines ?? _functions!.WorkerOutput;

    /// <summary>The worker's exit code once disposed (null for the self-host).</summary>
    public int? WorkerExitCode => _functions?.WorkerExitCode;

    public static async Task<HostUnderTest> StartAsync(HostKind kind, IDictionary<string, string?> settings)
    {
        if (kind == HostKind.SelfHost)
        {
            return new HostUnderTest(kind, await GatewayHost.StartAsync(settings), null, new Dictionary<string, string?>());
        }

        // The settings GatewayHost gives the self-host, as app settings (environment variables) of the worker.
        var values = GatewayHost.Settings(settings);
        var dataDirectory = values["KILLTOKEN_DATA_DIR"]!;
        try
        {
            return new HostUnderTest(kind, null, await FunctionsTestHost.StartAsync(FunctionsWorkerBuild.Directory, values), values);
        }
        catch
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }

            throw;
        }
    }

    /// <summary>
    /// The daily close as each host runs it: the Functions host invokes the <c>DailyClose</c> timer function (which must
    /// succeed); the self-host's midnight service calls the same job.
    /// </summary>
    public async Task RunDailyCloseAsync()
    {
        if (_functions is not null)
        {
            var result = await _functions.InvokeTimerAsync("DailyClose");
            Assert.IsTrue(result.Succeeded, result.ToString());
            return;
        }

        await _selfHost!.Services.GetRequiredService<IPeriodCloseJob>().RunAsync(DateTimeOffset.UtcNow);
    }

    /// <summary>Stops the worker (WorkerTerminate, as the host does), keeping its data, so a test can open the store.</summary>
    public async Task StopWorkerAsync()
    {
        await _functions!.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
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
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_dataDirectory!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
