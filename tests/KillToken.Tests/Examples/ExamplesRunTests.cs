using System.Diagnostics;
using System.Text.Json.Nodes;
using KillToken.Tests.Client;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Examples;

/// <summary>
/// Every example in examples/ run as a person would run it — <c>node …mjs</c>, <c>dotnet run app.cs</c> — with only
/// KILLTOKEN_BASE_URL and KILLTOKEN_API_KEY set, against the real gateway over fake providers: it must exit 0 and
/// print the answer and the metrics it got.
/// </summary>
[TestClass]
public sealed class ExamplesRunTests
{
    private const string AnthropicAnswer = "Hi! My name is Claude.";

    /// <summary>What the fake's 1,000 input and 100 output tokens cost at gpt-4o-mini's prices ($0.15 and $0.60 per 1M), the examples' model.</summary>
    private const decimal CallCostUsd = 0.00021m;

    private static FakeUpstream _openai = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;
    private static Tenant _tenant = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(ClientGateway.Answer);
        _anthropic = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.AnthropicMessage(input: 25, output: 12)));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
        });
        _tenant = await _host.CreateTenantAsync("openai");
        await GatewayHost.ReadJsonAsync(await _tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{_tenant.WorkspaceId}/provider-credentials",
            new { provider = "anthropic", apiKey = "sk-ant-test-0123456789" }, session: true), 201);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _anthropic.DisposeAsync();
        await _openai.DisposeAsync();
    }

    private static string Examples => Path.Combine(Repository.Root, "examples");

    [TestMethod]
    public async Task NodeOpenAISdk_PrintsTheAnswerAndTheMetrics()
    {
        await NodeExamples.EnsureInstalledAsync();

        var output = await RunAsync("node", "openai-sdk.mjs", Path.Combine(Examples, "node"));

        StringAssert.Contains(output, "answer: Hello from the fake provider.");
        var metrics = MetricsLine(output);
        Assert.AreEqual("examples", metrics["feature"]!.GetValue<string>(), "the default header tagged the call");
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(CallCostUsd, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("gpt-4o-mini", _openai.Requests[^1].Json["model"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task NodeAnthropicSdk_PrintsTheAnswerAndTheMetrics()
    {
        await NodeExamples.EnsureInstalledAsync();

        var output = await RunAsync("node", "anthropic-sdk.mjs", Path.Combine(Examples, "node"));

        StringAssert.Contains(output, "answer: " + AnthropicAnswer);
        StringAssert.Contains(output, "usage: 25 in, 12 out");
        var metrics = MetricsLine(output);
        Assert.AreEqual("anthropic", metrics["provider"]!.GetValue<string>());
        Assert.AreEqual(12, metrics["outputTokens"]!.GetValue<long>());
        Assert.AreEqual("/v1/messages", _anthropic.Requests[^1].Path);
    }

    [TestMethod]
    public async Task DotnetOpenAISdk_PrintsTheAnswerAndTheMetrics()
    {
        var output = await RunAsync("dotnet", "run app.cs", Path.Combine(Examples, "dotnet", "openai-sdk"), TimeSpan.FromMinutes(8));

        StringAssert.Contains(output, "answer: Hello from the fake provider.");
        StringAssert.Contains(output, "usage: 1000 in, 100 out");
        var metrics = MetricsLine(output);
        Assert.AreEqual("openai", metrics["provider"]!.GetValue<string>());
        Assert.AreEqual(CallCostUsd, metrics["costUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    public async Task DotnetKillTokenClient_PrintsTheAnswerAndTheMetrics()
    {
        var output = await RunAsync("dotnet", "run app.cs", Path.Combine(Examples, "dotnet", "killtoken-client"), TimeSpan.FromMinutes(8));

        StringAssert.Contains(output, "answer: Hello from the fake provider.");
        StringAssert.Contains(output, "tokens=1000+100");
        StringAssert.Contains(output, $"costUsd={CallCostUsd.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        StringAssert.Contains(output, "feature=examples");
        StringAssert.Matches(output, new System.Text.RegularExpressions.Regex("requestId=req\\S+"));
    }

    /// <summary>The JSON after <c>metrics: </c> in an example's output.</summary>
    private static JsonObject MetricsLine(string output)
    {
        var line = output.Split('\n').Select(l => l.Trim()).SingleOrDefault(l => l.StartsWith("metrics: ", StringComparison.Ordinal));
        Assert.IsNotNull(line, "no metrics line in: " + output);
        return JsonNode.Parse(line["metrics: ".Length..])!.AsObject();
    }

    /// <summary>Runs an example with the two variables its README names and nothing of the test run's own configuration; its stdout.</summary>
    private static async Task<string> RunAsync(string program, string arguments, string folder, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // `dotnet test` sets MSBuild variables for its own build; a `dotnet run` started from it must not inherit them.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString().TrimEnd('/');
        start.Environment["KILLTOKEN_API_KEY"] = _tenant.ApiKey;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {arguments} in {folder} did not finish in time. stderr: {await stderr}");
        }

        var output = await stdout;
        Assert.AreEqual(0, process.ExitCode, $"{program} {arguments} in {folder} failed.\nstdout: {output}\nstderr: {await stderr}");
        Assert.IsFalse(output.Contains(_tenant.ApiKey, StringComparison.Ordinal), "an example printed the key");
        return output;
    }
}

/// <summary>Installs examples/node's pinned SDKs with <c>npm ci</c> when node_modules is missing (CI installs them up front).</summary>
internal static class NodeExamples
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    public static async Task EnsureInstalledAsync()
    {
        var folder = Path.Combine(Repository.Root, "examples", "node");
        await InstallGate.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(folder, "node_modules", "openai")) && Directory.Exists(Path.Combine(folder, "node_modules", "@anthropic-ai", "sdk")))
            {
                return;
            }

            using var install = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = folder })!;
            await install.WaitForExitAsync();
            Assert.AreEqual(0, install.ExitCode, "npm ci failed in examples/node");
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
