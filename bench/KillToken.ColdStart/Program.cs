using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using KillToken.Bench;
using KillToken.Testing.FunctionsHost;

namespace KillToken.ColdStart;

/// <summary>
/// <c>dotnet run -c Release --project bench/KillToken.ColdStart -- [--starts 7]</c>: publishes src/Functions twice (as
/// azd does — ReadyToRun for linux-x64, the project's publish default — and without ReadyToRun), then starts each worker <c>--starts</c> times, interleaved, each time on the same
/// prepared data folder (a user, a project and an OpenAI credential pointing at a local fake), and times from the
/// worker's process start to its first served <c>/v1/chat</c>. Prints p50, min and max per variant.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var starts = args.Length == 2 && args[0] == "--starts" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        var repo = FindRepoRoot();
        var work = Directory.CreateTempSubdirectory("killtoken-coldstart-").FullName;
        try
        {
            var variants = new List<Variant>
            {
                new("publish, JIT only (-p:PublishReadyToRun=false)", await PublishAsync(repo, Path.Combine(work, "jit"), ["-p:PublishReadyToRun=false"])),
                new("publish as azd runs it (ReadyToRun, linux-x64)", await PublishAsync(repo, Path.Combine(work, "r2r"), [])),
            };

            await using var upstream = await FakeOpenAI.StartAsync();
            foreach (var variant in variants)
            {
                variant.DataDirectory = Directory.CreateDirectory(Path.Combine(work, "data-" + variants.IndexOf(variant))).FullName;
                await using var host = await StartAsync(variant, upstream);
                variant.ApiKey = await PrepareTenantAsync(host.Client);
                Console.WriteLine($"{variant.Name}: prepared (first start, not counted: {host.StartupTimings.FunctionsLoaded.TotalMilliseconds:0} ms to loaded)");
            }

            for (var round = 0; round < starts; round++)
            {
                foreach (var variant in variants)
                {
                    await using var host = await StartAsync(variant, upstream);
                    using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat") { Content = JsonContent.Create(Chat) };
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", variant.ApiKey);
                    using var response = await host.Client.SendAsync(request);
                    var firstChat = host.SinceWorkerStart;
                    if (!response.IsSuccessStatusCode)
                    {
                        throw new InvalidOperationException($"{variant.Name}: /v1/chat answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                    }

                    variant.Loaded.Add(host.StartupTimings.FunctionsLoaded.TotalMilliseconds);
                    variant.FirstChat.Add(firstChat.TotalMilliseconds);
                }
            }

            Console.WriteLine();
            Console.WriteLine($"Functions worker cold start on this machine ({Environment.ProcessorCount} cores), {starts} starts each, interleaved:");
            Console.WriteLine("| variant | functions loaded p50 (min–max) | first /v1/chat served p50 (min–max) |");
            Console.WriteLine("| --- | --- | --- |");
            foreach (var variant in variants)
            {
                Console.WriteLine($"| {variant.Name} | {Describe(variant.Loaded)} | {Describe(variant.FirstChat)} |");
            }

            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static readonly object Chat = new
    {
        provider = "openai",
        model = "gpt-4o-mini",
        messages = new[] { new { role = "user", content = "Write a concise project update." } },
    };

    private static Task<FunctionsTestHost> StartAsync(Variant variant, FakeOpenAI upstream) =>
        FunctionsTestHost.StartAsync(variant.WorkerDirectory, new Dictionary<string, string?>
        {
            ["KILLTOKEN_DATA_DIR"] = variant.DataDirectory,
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(upstream.BaseAddress, "/v1").ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });

    private static async Task<string> PrepareTenantAsync(HttpClient client)
    {
        var signUp = await client.PostAsJsonAsync("api/auth/signup", new { email = "coldstart@example.com", password = "correct horse battery", name = "Cold" });
        var account = JsonNode.Parse(await signUp.EnsureSuccessStatusCode().Content.ReadAsStringAsync())!;
        var token = account["token"]!.GetValue<string>();
        var workspaceId = account["workspace"]!["id"]!.GetValue<string>();
        var project = await SendAsync(client, token, $"api/workspaces/{workspaceId}/projects", new { name = "cold" });
        await SendAsync(client, token, $"api/workspaces/{workspaceId}/provider-credentials", new { provider = "openai", apiKey = "sk-coldstart-0123456789" });
        return project["apiKey"]!.GetValue<string>();
    }

    private static async Task<JsonNode> SendAsync(HttpClient client, string token, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        return JsonNode.Parse(await response.EnsureSuccessStatusCode().Content.ReadAsStringAsync())!;
    }

    private static async Task<string> PublishAsync(string repo, string output, string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "publish", Path.Combine(repo, "src", "Functions"), "-c", "Release", "-o", output, "-nologo", "-v", "quiet" }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }

        Console.WriteLine($"dotnet {string.Join(' ', start.ArgumentList.Select(a => a == output ? "<temp>" : a))}");
        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        await publish.WaitForExitAsync();
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish failed ({publish.ExitCode}):\n{await stdout}\n{await stderr}");
        }

        return output;
    }

    private static string Describe(List<double> values)
    {
        var sorted = values.Order().ToList();
        var p50 = sorted[(sorted.Count - 1) / 2];
        return string.Create(CultureInfo.InvariantCulture, $"{p50:0} ms ({sorted[0]:0}–{sorted[^1]:0})");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KillToken.Functions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run from inside the KillToken repository.");
    }

    private sealed class Variant(string name, string workerDirectory)
    {
        public string Name { get; } = name;
        public string WorkerDirectory { get; } = workerDirectory;
        public string DataDirectory { get; set; } = "";
        public string ApiKey { get; set; } = "";
        public List<double> Loaded { get; } = [];
        public List<double> FirstChat { get; } = [];
    }
}
