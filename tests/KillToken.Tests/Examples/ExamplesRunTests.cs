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

        var output = await RunAsync("node", "openai-sdk-compatible.mjs", Examples);

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

        var output = await RunAsync("node", "anthropic-sdk.mjs", Examples);

        StringAssert.Contains(output, "answer: " + AnthropicAnswer);
        StringAssert.Contains(output, "usage: 25 in, 12 out");
        var metrics = MetricsLine(output);
        Assert.AreEqual("anthropic", metrics["provider"]!.GetValue<string>());
        Assert.AreEqual(12, metrics["outputTokens"]!.GetValue<long>());
        Assert.AreEqual("/v1/messages", _anthropic.Requests[^1].Path);
    }

    [TestMethod]
    public async Task NodeKillTokenSdk_PrintsTheAnswerAndTheMetrics_AndItsRetryIsReplayed()
    {
        await NodeExamples.EnsureInstalledAsync();
        var providerCalls = _openai.Requests.Count;

        var output = await RunAsync("node", "sdk-chat.mjs", Examples);

        StringAssert.Contains(output, "answer: Hello from the fake provider.");
        var metrics = MetricsLine(output);
        Assert.AreEqual("examples", metrics["feature"]!.GetValue<string>());
        Assert.AreEqual("new", metrics["idempotency"]!.GetValue<string>());
        StringAssert.StartsWith(metrics["requestId"]!.GetValue<string>(), "req_");
        StringAssert.Contains(output, "again: idempotency=replayed");
        Assert.AreEqual(CallCostUsd, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreNotEqual("hit", metrics["cacheStatus"]!.GetValue<string>());
        Assert.AreEqual(providerCalls + 1, _openai.Requests.Count, "the replayed call did not reach the provider");
    }

    [TestMethod]
    public async Task NodeFetch_PrintsTheAnswerAndTheMetrics()
    {
        var output = await RunAsync("node", "node-fetch-chat.mjs", Examples);

        StringAssert.Contains(output, "answer: Hello from the fake provider.");
        var metrics = MetricsLine(output);
        Assert.AreEqual("measure_only", metrics["optimizationMode"]!.GetValue<string>());
        Assert.AreEqual(CallCostUsd, metrics["costUsd"]!.GetValue<decimal>());
        Assert.AreEqual("examples", metrics["feature"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task NodeFetchAnthropicWrapper_PrintsTheAnswerAndTheMetrics()
    {
        var output = await RunAsync("node", "anthropic-messages-wrapper.mjs", Examples);

        StringAssert.Contains(output, "answer: " + AnthropicAnswer);
        StringAssert.Contains(output, "usage: 25 in, 12 out");
        var metrics = MetricsLine(output);
        Assert.AreEqual("anthropic", metrics["provider"]!.GetValue<string>());
        Assert.AreEqual(25, metrics["inputTokens"]!.GetValue<long>());
        var sent = _anthropic.Requests[^1].Json;
        Assert.AreEqual("Answer in one line.", sent["system"]!.GetValue<string>(), "the top-level system reached Anthropic");
    }

    [TestMethod]
    public async Task NodeExamples_HoldNoProviderKey_AndReadOnlyTheTwoVariables()
    {
        foreach (var file in Directory.GetFiles(Examples, "*.mjs"))
        {
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotMatchRegex(new System.Text.RegularExpressions.Regex(@"sk-[A-Za-z0-9]|sk-ant-|AKIA[0-9A-Z]{8}|AIza[0-9A-Za-z_-]{10}"), text, $"{Path.GetFileName(file)} holds a provider key");
            var variables = System.Text.RegularExpressions.Regex.Matches(text, @"process\.env\.([A-Z_]+)").Select(m => m.Groups[1].Value).ToHashSet();
            CollectionAssert.IsSubsetOf(variables.ToList(), new[] { "KILLTOKEN_BASE_URL", "KILLTOKEN_API_KEY" }, $"{Path.GetFileName(file)} reads {string.Join(", ", variables)}");
            Assert.Contains("KILLTOKEN_API_KEY", variables, $"{Path.GetFileName(file)} does not read the project key");
        }
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
        var environment = new Dictionary<string, string>
        {
            ["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString().TrimEnd('/'),
            ["KILLTOKEN_API_KEY"] = _tenant.ApiKey,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        var run = await ChildProcess.RunAsync(program, arguments, folder, environment, timeout ?? TimeSpan.FromSeconds(90));

        Assert.IsFalse(run.TimedOut, $"{program} {arguments} in {folder} did not finish in time. stderr: {run.Stderr}");
        Assert.AreEqual(0, run.ExitCode, $"{program} {arguments} in {folder} failed.\nstdout: {run.Stdout}\nstderr: {run.Stderr}");
        Assert.IsFalse(run.Stdout.Contains(_tenant.ApiKey, StringComparison.Ordinal), "an example printed the key");
        return run.Stdout;
    }
}

/// <summary>
/// Builds sdk/js and installs examples/'s packages (the pinned OpenAI and Anthropic SDKs, and @killtoken/sdk linked from
/// sdk/js) with <c>npm ci</c> when node_modules is missing (CI installs them up front).
/// </summary>
internal static class NodeExamples
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    public static async Task EnsureInstalledAsync()
    {
        await Sdk.JsSdkBuild.EnsureBuiltAsync();
        var folder = Path.Combine(Repository.Root, "examples");
        await InstallGate.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(folder, "node_modules", "openai")) && Directory.Exists(Path.Combine(folder, "node_modules", "@anthropic-ai", "sdk"))
                && Directory.Exists(Path.Combine(folder, "node_modules", "@killtoken", "sdk")))
            {
                return;
            }

            var install = await ChildProcess.RunAsync("npm", "ci --no-audit --no-fund --loglevel=error", folder, timeout: TimeSpan.FromMinutes(5));
            Assert.AreEqual(0, install.ExitCode, $"npm ci failed in examples.\nstderr: {install.Stderr}");
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
