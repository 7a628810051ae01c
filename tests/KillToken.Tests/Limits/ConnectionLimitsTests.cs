using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using KillToken.Api.Hosting;
using KillToken.Core.Gateway;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Limits;

/// <summary>
/// The self-host's connection limits (real Kestrel on loopback): headers too large or too many → 431, a body over
/// KILLTOKEN_MAX_BODY_BYTES → 413 request_too_large whether its length is declared or not (and the client, still
/// sending, reads it), and a client that trickles
/// its headers or its body, or idles on a kept-alive connection, is cut off within a bounded time (Kestrel checks on a
/// one-second heartbeat, so every bound here leaves seconds of room) while the gateway keeps answering others. These are
/// the web server's limits, the same on every store: the hosts here run on SQLite even in the Cosmos DB test pass.
/// </summary>
[TestClass]
public sealed class ConnectionLimitsTests
{
    /// <summary>Far beyond every configured timeout plus Kestrel's heartbeat: only a limit that does not work reaches it.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static Task<GatewayHost> StartAsync(params (string Name, string? Value)[] settings)
    {
        var values = new Dictionary<string, string?> { ["KILLTOKEN_STORE"] = "sqlite" };
        foreach (var (name, value) in settings)
        {
            values[name] = value;
        }

        return GatewayHost.StartAsync(values);
    }

    [TestMethod]
    public async Task HeadersOverTheDefaultSize_Get431()
    {
        await using var host = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "health");
        request.Headers.TryAddWithoutValidation("x-padding", new string('a', 40 * 1024));
        using var response = await host.Client.SendAsync(request);
        Assert.AreEqual(431, (int)response.StatusCode, "over 32 KiB of headers (Kestrel answers before any handler runs)");
        using var fine = await host.Client.GetAsync("health");
        Assert.AreEqual(200, (int)fine.StatusCode);
    }

    [TestMethod]
    public async Task HeadersOverTheConfiguredSizeOrCount_Get431()
    {
        await using var host = await StartAsync((SettingNames.MaxHeaderBytes, "4096"), (SettingNames.MaxHeaderCount, "20"));
        using var big = new HttpRequestMessage(HttpMethod.Get, "health");
        big.Headers.TryAddWithoutValidation("x-padding", new string('a', 5000));
        using var bigAnswer = await host.Client.SendAsync(big);
        Assert.AreEqual(431, (int)bigAnswer.StatusCode, "over KILLTOKEN_MAX_HEADER_BYTES");

        using var many = new HttpRequestMessage(HttpMethod.Get, "health");
        for (var i = 0; i < 30; i++)
        {
            many.Headers.TryAddWithoutValidation("x-field-" + i, "1");
        }

        using var manyAnswer = await host.Client.SendAsync(many);
        Assert.AreEqual(431, (int)manyAnswer.StatusCode, "over KILLTOKEN_MAX_HEADER_COUNT");
        using var fine = await host.Client.GetAsync("health");
        Assert.AreEqual(200, (int)fine.StatusCode);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task ABodyOverTheLimit_Gets413RequestTooLarge(bool declaredLength)
    {
        // The default limit (1 MiB) and three times as much: the client, sending it all, still reads the 413.
        await using var host = await StartAsync();
        var (token, workspaceId) = await host.SignUpAsync();
        var (_, key) = await host.CreateProjectAsync(token, workspaceId);
        var json = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', 3 * 1024 * 1024) + "\"}]}";
        var bytes = Encoding.UTF8.GetBytes(json);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat")
        {
            // Without a declared length HttpClient sends it chunked: the handler stops reading past the limit.
            Content = declaredLength ? new ByteArrayContent(bytes) : new StreamContent(new MemoryStream(bytes)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await host.Client.SendAsync(request);
        var error = (await GatewayHost.ReadJsonAsync(response, 413))["error"]!;
        Assert.AreEqual(ErrorCodes.RequestTooLarge, error["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task HeadersTrickledSlowerThanTheTimeout_AreCutOff()
    {
        await using var host = await StartAsync((SettingNames.HeadersTimeoutSeconds, "2"));
        using var client = await ConnectAsync(host);
        var stream = client.GetStream();
        await WriteAsync(stream, "GET /health HTTP/1.1\r\nHost: localhost\r\nx-slow: ");

        var (answer, elapsed) = await TrickleUntilClosedAsync(stream, () => WriteAsync(stream, "a"));
        Assert.IsLessThan(Deadline, elapsed, "the connection was closed");
        AssertTimeoutAnswer(answer);
        await AssertStillServesAsync(host);
    }

    [TestMethod]
    public async Task ABodyTrickledBelowTheMinimumRate_IsCutOff()
    {
        await using var openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        await using var host = await StartAsync((SettingNames.MinBodyBytesPerSecond, "1000"), ("KILLTOKEN_OPENAI_BASE_URL", new Uri(openai.BaseAddress, "v1").ToString()));
        var tenant = await host.CreateTenantAsync();
        using var client = await ConnectAsync(host);
        var stream = client.GetStream();
        await WriteAsync(stream, "POST /v1/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n"
            + $"Authorization: Bearer {tenant.ApiKey}\r\n\r\n{{");

        // Three bytes a second against a minimum of 1000, measured after Kestrel's 5 s grace.
        var (answer, elapsed) = await TrickleUntilClosedAsync(stream, () => WriteAsync(stream, " "));
        Assert.IsLessThan(Deadline, elapsed, "the connection was closed");
        AssertTimeoutAnswer(answer);
        Assert.AreEqual(0, openai.Count, "nothing reached the provider");

        // A client at an ordinary speed is served by the same server.
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(GatewayScenarios.Chat("gpt-4o-mini")), 200);
    }

    [TestMethod]
    public async Task AnIdleKeptAliveConnection_IsClosedAfterTheKeepAliveTimeout()
    {
        await using var host = await StartAsync((SettingNames.KeepAliveTimeoutSeconds, "2"));
        using var client = await ConnectAsync(host);
        var stream = client.GetStream();
        await WriteAsync(stream, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");

        var (answer, elapsed) = await TrickleUntilClosedAsync(stream, () => Task.CompletedTask);
        Assert.IsLessThan(Deadline, elapsed, "the idle connection was closed");
        StringAssert.StartsWith(answer, "HTTP/1.1 200", "the request itself was answered first");
    }

    private static async Task<TcpClient> ConnectAsync(GatewayHost host)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host.BaseAddress.Host, host.BaseAddress.Port);
        return client;
    }

    private static Task WriteAsync(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    /// <summary>
    /// Calls <paramref name="trickle"/> every 300 ms until the server closes the connection (end of stream or reset) or
    /// <see cref="Deadline"/> passes: what the server sent, and when it closed.
    /// </summary>
    private static async Task<(string Answer, TimeSpan Elapsed)> TrickleUntilClosedAsync(NetworkStream stream, Func<Task> trickle)
    {
        var clock = Stopwatch.StartNew();
        var received = new StringBuilder();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer)) > 0)
                {
                    received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
            }
            catch (IOException)
            {
                // A reset closes it too.
            }
        });

        while (!reader.IsCompleted && clock.Elapsed < Deadline)
        {
            try
            {
                await trickle();
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(reader, Task.Delay(300));
        }

        await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(2)));
        var elapsed = reader.IsCompleted ? clock.Elapsed : TimeSpan.MaxValue;
        return (received.ToString(), elapsed);
    }

    /// <summary>Kestrel answers 408 when it can, or just closes: never a 500, never another answer.</summary>
    private static void AssertTimeoutAnswer(string answer)
    {
        if (answer.Length > 0)
        {
            StringAssert.StartsWith(answer, "HTTP/1.1 408", "the only answer a timed-out request gets");
        }
    }

    private static async Task AssertStillServesAsync(GatewayHost host)
    {
        using var response = await host.Client.GetAsync("health");
        Assert.AreEqual(200, (int)response.StatusCode);
    }
}
