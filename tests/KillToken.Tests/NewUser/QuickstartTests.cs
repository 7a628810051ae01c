using System.Diagnostics;
using System.Text.Json.Nodes;
using KillToken.Core.Ports;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.NewUser;

/// <summary>
/// The README's quickstart, run as a new user runs it: its shell block, verbatim (only the gateway's address is this
/// test's), with curl and jq, twice in a row against the same gateway. Both runs must end in a served call.
/// </summary>
[TestClass]
public sealed class QuickstartTests
{
    [TestMethod]
    public async Task TheReadmeQuickstart_RunTwice_ServesACallBothTimes_WithoutAnError()
    {
        var script = QuickstartBlock();
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion(content: "Project update: on track.")));
        await using var host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
        });
        var ours = script.Replace("KT=http://localhost:7071", $"KT={host.BaseAddress.ToString().TrimEnd('/')}", StringComparison.Ordinal);
        Assert.AreNotEqual(script, ours, "the quickstart no longer sets KT=http://localhost:7071");

        foreach (var run in new[] { "first", "second" })
        {
            var output = await RunBashAsync(ours);
            Assert.IsFalse(output.Contains("\"error\"", StringComparison.Ordinal), $"{run} run:\n{output}");
            StringAssert.Contains(output, "Project update: on track.", $"{run} run:\n{output}");
            StringAssert.Contains(output, "\"metrics\"", $"{run} run:\n{output}");
            StringAssert.Contains(output, "\"feature\": \"weekly-summary\"", $"{run} run: the trace list shows the call\n{output}");
        }

        Assert.AreEqual(2, openai.Requests.Count, "one provider call per run");
        Assert.IsNotNull(await host.Services.GetRequiredService<IUserStore>().FindByEmailAsync("you@example.com"));
    }

    /// <summary>The second <c>bash</c> block of the README's quickstart (the first starts the gateway).</summary>
    private static string QuickstartBlock()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var section = readme[readme.IndexOf("## Five-minute quickstart", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var blocks = section.Split("```bash\n").Skip(1).Select(b => b[..b.IndexOf("```", StringComparison.Ordinal)]).ToList();
        Assert.AreEqual(2, blocks.Count, "the quickstart has its two shell blocks");
        return blocks[1];
    }

    private static async Task<string> RunBashAsync(string script)
    {
        foreach (var tool in new[] { "curl", "jq" })
        {
            Assert.IsTrue(File.Exists($"/usr/bin/{tool}") || File.Exists($"/bin/{tool}"), $"the quickstart needs {tool} (.ci/run installs it)");
        }

        using var bash = Process.Start(new ProcessStartInfo("bash")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await bash.StandardInput.WriteAsync(script);
        bash.StandardInput.Close();
        var stdout = bash.StandardOutput.ReadToEndAsync();
        var stderr = bash.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await bash.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;
        Assert.AreEqual(0, bash.ExitCode, output);
        return output;
    }
}
