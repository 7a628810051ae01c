using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Api.Hosting;
using KillToken.Core.Gateway;
using KillToken.Tests.Functions;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Limits;

/// <summary>
/// The limits the handlers own hold under the Azure Functions worker as under the self-host: the per-project rate
/// (429 rate_limited with Retry-After) and the body limit (413 request_too_large, declared length or chunked).
/// </summary>
[TestClass]
public sealed class LimitsOnBothHostsTests
{
    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task RateAndBodyLimits_AnswerTheContract(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>
        {
            [SettingNames.ProjectRateLimitPerMinute] = "1",
            [SettingNames.ProjectRateLimitBurst] = "3",
            [SettingNames.MaxBodyBytes] = "2048",
        });
        var client = host.Client;
        var (token, workspaceId) = await GatewayHost.SignUpAsync(client);
        var (_, key) = await GatewayHost.CreateProjectAsync(client, token, workspaceId);

        var large = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', 8 * 1024) + "\"}]}";
        foreach (var declared in new[] { true, false })
        {
            using var response = await SendAsync(client, key, "v1/chat", Encoding.UTF8.GetBytes(large), declared);
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(413, (int)response.StatusCode, $"{(declared ? "declared" : "chunked")}: {text}");
            Assert.AreEqual(ErrorCodes.RequestTooLarge, JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
        }

        // Two of the burst of three went on the bodies above; one is left.
        using (var models = await SendAsync(client, key, "v1/openai/models", null, declared: true))
        {
            Assert.AreEqual(200, (int)models.StatusCode);
        }

        using var refused = await SendAsync(client, key, "v1/openai/models", null, declared: true);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.AreEqual(429, (int)refused.StatusCode, body);
        Assert.AreEqual(ErrorCodes.RateLimited, JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>());
        Assert.IsTrue(refused.Headers.TryGetValues("Retry-After", out var retryAfter) && int.Parse(retryAfter.Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1,
            "Retry-After in whole seconds, at least 1");
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string key, string path, byte[]? body, bool declared)
    {
        using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, path);
        if (body is not null)
        {
            request.Content = declared ? new ByteArrayContent(body) : new StreamContent(new MemoryStream(body));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }
}
