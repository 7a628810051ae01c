using System.Text;
using System.Text.RegularExpressions;
using KillToken.Tests.Streaming;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Sdk;

/// <summary>
/// The JS SDK's own tests (sdk/js/test/*.test.mjs, node's test runner) against the real gateway over a scripted fake
/// OpenAI (<see cref="ScriptedProvider"/>): one test method per test file, each with a fresh workspace. The SDK is built
/// once per run (<see cref="JsSdkBuild"/>); each file runs as <c>node --test --test-reporter=tap</c> and must pass every
/// subtest with none skipped; a failure names the failing subtests with node's diagnostics.
/// <para>What the node tests read from their environment:</para>
/// <list type="bullet">
/// <item><c>KILLTOKEN_BASE_URL</c>, <c>KILLTOKEN_API_KEY</c> — the gateway and a project key with <c>chat</c>, <c>analytics:read</c>
/// and <c>credentials:write</c>, in a workspace with an OpenAI credential whose secret is <c>KILLTOKEN_PROVIDER_KEY</c></item>
/// <item><c>KILLTOKEN_READONLY_API_KEY</c> — another project of that workspace with a new key's scopes (no credential writes)</item>
/// <item><c>KILLTOKEN_BUDGET_API_KEY</c> — another project of that workspace with a $0.003 monthly budget (one call spends it)</item>
/// <item><c>KILLTOKEN_FAKE_PROVIDER_URL</c> — the fake provider, for <c>/control/calls?tag=…</c></item>
/// <item>the gateway's Anthropic base URL points at a fake that answers the API reference's message and stream; the
/// workspace has no Anthropic credential until a test adds one</item>
/// <item><c>KILLTOKEN_RATE_LIMITED_BASE_URL</c>, <c>KILLTOKEN_RATE_LIMITED_API_KEYS</c> — a second gateway over the same
/// provider with a per-project rate of 60 a minute in bursts of 1 (so a second call within a second is <c>429 rate_limited</c>
/// with <c>Retry-After: 1</c>), and three project keys there, comma-separated</item>
/// </list>
/// </summary>
[TestClass]
public sealed class JsSdkTests
{
    private static ScriptedProvider _provider = null!;
    private static FakeUpstream _anthropic = null!;
    private static GatewayHost _host = null!;
    private static GatewayHost _rateLimited = null!;
    private static string _rateLimitedKeys = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _provider = await ScriptedProvider.StartAsync();
        // Anthropic's API reference answers (a message; a stream of named events), for a workspace that adds the credential itself.
        _anthropic = await FakeUpstream.StartAsync((context, request) => request.Json["stream"]?.GetValue<bool>() == true
            ? SseTestKit.Serve(SseTestKit.AnthropicStream(input: 25, output: 15))(context, request)
            : FakeUpstream.Json(Fixtures.AnthropicMessage(input: 25, output: 12))(context, request));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = _provider.OpenAIBaseUrl,
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = _anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "10",
        });
        _rateLimited = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = _provider.OpenAIBaseUrl,
            ["KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE"] = "60",
            ["KILLTOKEN_PROJECT_RATE_LIMIT_BURST"] = "1",
        });
        var tenant = await _rateLimited.CreateTenantAsync();
        var keys = new List<string> { tenant.ApiKey };
        for (var i = 0; i < 2; i++)
        {
            keys.Add((await _rateLimited.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = $"rate limited {i}" })).ApiKey);
        }

        _rateLimitedKeys = string.Join(',', keys);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _rateLimited.DisposeAsync();
        await _host.DisposeAsync();
        await _provider.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    [TestMethod]
    public Task Chat() => RunAsync("chat.test.mjs");

    [TestMethod]
    public Task Streaming() => RunAsync("streaming.test.mjs");

    [TestMethod]
    public Task Credentials() => RunAsync("credentials.test.mjs");

    [TestMethod]
    public Task Errors() => RunAsync("errors.test.mjs");

    [TestMethod]
    public Task Retries() => RunAsync("retries.test.mjs");

    [TestMethod]
    public Task Cancellation() => RunAsync("cancellation.test.mjs");

    [TestMethod]
    public Task Reads() => RunAsync("reads.test.mjs");

    [TestMethod]
    public Task Pack() => RunAsync("pack.test.mjs");

    /// <summary>Builds the SDK (once), makes a fresh workspace, runs one test file and asserts every subtest passed.</summary>
    private static async Task RunAsync(string file)
    {
        await JsSdkBuild.EnsureBuiltAsync();
        var environment = await NewWorkspaceAsync();

        var run = await ChildProcess.RunAsync("node", $"--test --test-reporter=tap test/{file}", JsSdkBuild.Folder, environment, TimeSpan.FromMinutes(4));

        var tap = Tap.Parse(run.Stdout);
        var report = new StringBuilder()
            .AppendLine($"node --test test/{file}: exit {run.ExitCode}{(run.TimedOut ? " (killed: timed out)" : "")}, " +
                string.Join(", ", tap.Counts.Select(c => $"{c.Key} {c.Value}")))
            .AppendJoin(Environment.NewLine, tap.Failures)
            .AppendLine()
            .AppendLine("stderr: " + Tail(run.Stderr))
            .ToString();
        Console.WriteLine(report);
        Assert.AreEqual(0, run.ExitCode, report);
        Assert.AreEqual(0, tap.Count("fail"), report);
        Assert.IsTrue(tap.Count("pass") > 0, "no test ran. " + report);
        Assert.AreEqual(0, tap.Count("skipped") + tap.Count("cancelled"), "every test must run. " + report);
        Assert.AreEqual(0, tap.NotRun.Count, "every test and suite must run, none skipped: " + string.Join("; ", tap.NotRun) + Environment.NewLine + report);
        // A known SDK defect is marked `todo: "FINDING Fn: …"` (see /work/notes/20-sdk-findings.md): it still runs and is
        // reported here; once it passes, the mark must go, so a fixed finding cannot stay hidden behind it.
        Assert.AreEqual(0, tap.FixedFindings.Count, "these findings pass now: remove their todo mark: " + string.Join("; ", tap.FixedFindings));
        Assert.AreEqual(tap.Findings.Count, tap.Count("todo"), "a todo that is not a known finding: " + report);
        foreach (var finding in tap.Findings)
        {
            Console.WriteLine("KNOWN SDK FINDING (still failing): " + finding);
        }
        foreach (var secret in environment.Where(e => e.Key.EndsWith("_KEY", StringComparison.Ordinal) || e.Key.EndsWith("_KEYS", StringComparison.Ordinal)))
        {
            foreach (var value in secret.Value.Split(','))
            {
                Assert.IsFalse(run.Stdout.Contains(value, StringComparison.Ordinal) || run.Stderr.Contains(value, StringComparison.Ordinal),
                    $"{secret.Key} appears in the test run's output");
            }
        }
    }

    /// <summary>A new user's workspace with an OpenAI credential and three projects: full, read-only, nearly no budget.</summary>
    private static async Task<Dictionary<string, string>> NewWorkspaceAsync()
    {
        var providerKey = "sk-sdktest-" + Guid.NewGuid().ToString("N");
        var tenant = await _host.CreateTenantAsync(secret: providerKey);
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true), 200);
        var (_, readOnlyKey) = await _host.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = "read only" });
        var (budgetProject, budgetKey) = await _host.CreateProjectAsync(tenant.Token, tenant.WorkspaceId, new { name = "tiny budget" });
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{budgetProject}",
            new { monthlyBudgetUsd = 0.003m }, session: true), 200);

        return new Dictionary<string, string>
        {
            ["KILLTOKEN_BASE_URL"] = _host.BaseAddress.ToString().TrimEnd('/'),
            ["KILLTOKEN_API_KEY"] = tenant.ApiKey,
            ["KILLTOKEN_PROVIDER_KEY"] = providerKey,
            ["KILLTOKEN_READONLY_API_KEY"] = readOnlyKey,
            ["KILLTOKEN_BUDGET_API_KEY"] = budgetKey,
            ["KILLTOKEN_FAKE_PROVIDER_URL"] = _provider.BaseAddress.ToString().TrimEnd('/'),
            ["KILLTOKEN_RATE_LIMITED_BASE_URL"] = _rateLimited.BaseAddress.ToString().TrimEnd('/'),
            ["KILLTOKEN_RATE_LIMITED_API_KEYS"] = _rateLimitedKeys,
        };
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "…" + text[^4000..];
}

/// <summary>
/// What a node test run says: the closing counts, each failed test with its YAML diagnostics, every test or suite marked
/// SKIP or TODO (node 20 leaves a skipped suite out of the closing counts) — except the TODOs whose reason starts with
/// <c>FINDING</c>, known SDK defects, listed apart as still failing or as fixed.
/// </summary>
internal sealed partial record Tap(IReadOnlyDictionary<string, int> Counts, IReadOnlyList<string> Failures, IReadOnlyList<string> NotRun,
    IReadOnlyList<string> Findings, IReadOnlyList<string> FixedFindings)
{
    public int Count(string name) => Counts.TryGetValue(name, out var n) ? n : 0;

    [GeneratedRegex(@"^# (?<name>[a-z_]+) (?<value>\d+)$")]
    private static partial Regex CountLine();

    [GeneratedRegex(@"^(?<indent>\s*)not ok \d+ - (?<name>.*)$")]
    private static partial Regex FailureLine();

    [GeneratedRegex(@"^\s*(?<outcome>not ok|ok) \d+ - (?<name>.*?) # (?<kind>SKIP|TODO)\b ?(?<reason>.*)$")]
    private static partial Regex NotRunLine();

    public static Tap Parse(string output)
    {
        var lines = output.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        var notRun = new List<string>();
        var findings = new List<string>();
        var fixedFindings = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (NotRunLine().Match(lines[i]) is { Success: true } marked)
            {
                var described = $"{marked.Groups["name"].Value} ({marked.Groups["reason"].Value})";
                if (marked.Groups["kind"].Value == "TODO" && marked.Groups["reason"].Value.StartsWith("FINDING", StringComparison.Ordinal))
                {
                    (marked.Groups["outcome"].Value == "ok" ? fixedFindings : findings).Add(described);
                }
                else
                {
                    notRun.Add(described);
                }

                continue;
            }

            if (CountLine().Match(lines[i]) is { Success: true } count)
            {
                counts[count.Groups["name"].Value] = int.Parse(count.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
                continue;
            }

            if (FailureLine().Match(lines[i]) is not { Success: true } failure)
            {
                continue;
            }

            // The YAML block after it (`---` … `...`), indented two more.
            var block = new List<string>();
            var end = (failure.Groups["indent"].Value + "  ...").TrimEnd();
            for (var j = i + 1; j < lines.Length && block.Count < 60; j++)
            {
                block.Add(lines[j]);
                if (lines[j].TrimEnd() == end)
                {
                    break;
                }
            }

            // A suite fails because its tests did: those are reported on their own.
            if (!block.Any(l => l.Contains("failureType: 'subtestsFailed'", StringComparison.Ordinal)))
            {
                failures.Add($"FAILED: {failure.Groups["name"].Value}{Environment.NewLine}{string.Join(Environment.NewLine, block)}");
            }
        }

        return new Tap(counts, failures, notRun, findings, fixedFindings);
    }
}
