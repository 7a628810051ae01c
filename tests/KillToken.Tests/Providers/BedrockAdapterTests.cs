using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Providers;

[TestClass]
public sealed partial class BedrockAdapterTests
{
    private const string AccessKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string Region = "us-west-2";
    private const string Model = "anthropic.claude-3-5-haiku-20241022-v1:0";

    private static FakeUpstream _bedrock = null!;
    private static GatewayHost _host = null!;

    /// <summary>Raw target → "ok" or why the signature failed, per request, as the loopback AWS saw it.</summary>
    private static readonly ConcurrentQueue<(string Target, string Verdict)> Verdicts = new();

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _bedrock = await FakeUpstream.StartAsync();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_AWS_BEDROCK_BASE_URL"] = _bedrock.BaseAddress.ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _bedrock.DisposeAsync();
    }

    private static Task<Tenant> TenantAsync(string secretAccessKey, string? sessionToken = null) =>
        _host.CreateTenantAsync(credential: new
        {
            provider = "aws_bedrock",
            secrets = sessionToken is null
                ? (object)new { accessKeyId = AccessKeyId, secretAccessKey }
                : new { accessKeyId = AccessKeyId, secretAccessKey, sessionToken },
            config = new { region = Region },
        });

    /// <summary>Converse response (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html, Response Syntax).</summary>
    private static JsonObject ConverseResponse(int input = 25, int output = 12, int cacheRead = 0, int cacheWrite = 0) => new()
    {
        ["output"] = new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = new JsonArray(new JsonObject { ["text"] = "Boston is sunny and 22°C." }),
            },
        },
        ["stopReason"] = "end_turn",
        ["usage"] = new JsonObject
        {
            ["inputTokens"] = input,
            ["outputTokens"] = output,
            ["totalTokens"] = input + output + cacheRead + cacheWrite,
            ["cacheReadInputTokens"] = cacheRead,
            ["cacheWriteInputTokens"] = cacheWrite,
        },
        ["metrics"] = new JsonObject { ["latencyMs"] = 412 },
    };

    /// <summary>AWS JSON error: <c>{"message"}</c> with the type in <c>x-amzn-errortype</c> (Bedrock API Reference, Errors).</summary>
    private static Func<HttpContext, UpstreamRequest, Task> AwsError(int status, string type, string message) =>
        FakeUpstream.Json(new JsonObject { ["message"] = message }, status,
            response => response.Headers["x-amzn-errortype"] = $"{type}:http://internal.amazon.com/coral/com.amazon.bedrock/");

    /// <summary>Plays AWS: verifies the SigV4 signature with the tenant's secret, then answers with <paramref name="then"/>.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> SignedBy(string secretAccessKey, Func<HttpContext, UpstreamRequest, Task> then) =>
        async (context, request) =>
        {
            var target = ProviderTestKit.RawTarget(context);
            var verdict = VerifySignature(target, request, secretAccessKey);
            Verdicts.Enqueue((target, verdict));
            if (verdict != "ok")
            {
                await AwsError(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")(context, request);
                return;
            }

            await then(context, request);
        };

    /// <summary>
    /// An independent SigV4 check (not the gateway's signer): scope, signed headers, payload hash, and the signature
    /// recomputed from the request as received.
    /// </summary>
    internal static string VerifySignature(string rawTarget, UpstreamRequest request, string secretAccessKey)
    {
        var match = AuthorizationPattern().Match(request.Header("authorization") ?? "");
        if (!match.Success)
        {
            return "malformed Authorization: " + request.Header("authorization");
        }

        var (accessKey, date, region, service, signedHeaders, signature) =
            (match.Groups[1].Value, match.Groups[2].Value, match.Groups[3].Value, match.Groups[4].Value, match.Groups[5].Value, match.Groups[6].Value);
        var amzDate = request.Header("x-amz-date") ?? "";
        var payloadHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.Body)));
        var headers = signedHeaders.Split(';');
        if (accessKey != AccessKeyId || region != Region || service != "bedrock" || !amzDate.StartsWith(date, StringComparison.Ordinal)
            || !headers.Contains("host") || !headers.Contains("x-amz-date") || request.Header("x-amz-content-sha256") != payloadHash)
        {
            return $"wrong scope or headers: {accessKey}/{date}/{region}/{service} [{signedHeaders}] date={amzDate}";
        }

        var at = rawTarget.IndexOf('?', StringComparison.Ordinal);
        var path = at < 0 ? rawTarget : rawTarget[..at];
        var query = at < 0 ? "" : rawTarget[(at + 1)..];
        var canonical = new StringBuilder()
            .Append(request.Method).Append('\n')
            .Append(string.Join('/', path.Split('/').Select(Uri.EscapeDataString))).Append('\n')
            .Append(string.Join('&', query.Split('&', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal))).Append('\n');
        foreach (var header in headers)
        {
            canonical.Append(header).Append(':').Append(request.Header(header)?.Trim()).Append('\n');
        }

        canonical.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHash);
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{date}/{region}/{service}/aws4_request\n"
            + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())));
        var key = Encoding.UTF8.GetBytes("AWS4" + secretAccessKey);
        foreach (var part in new[] { date, region, service, "aws4_request" })
        {
            key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
        }

        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        return expected == signature ? "ok" : "signature mismatch for canonical request:\n" + canonical;
    }

    [GeneratedRegex("^AWS4-HMAC-SHA256 Credential=([^/]+)/([0-9]{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")]
    private static partial Regex AuthorizationPattern();

    private static object Chat() => new
    {
        provider = "aws_bedrock",
        model = Model,
        messages = new[] { new { role = "user", content = "hi" } },
    };

    [TestMethod]
    public async Task Chat_TranslatesToConverse_SignedWithSigV4_AndPricesCacheReadsAndWrites()
    {
        const string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTENANTKEY1";
        const string session = "FwoGZXIvYXdzEBYaDEXAMPLE-session-token-tenant";
        var tenant = await TenantAsync(secret, session);
        var fixture = ConverseResponse(input: 100, output: 50, cacheRead: 1000, cacheWrite: 400);
        _bedrock.Handler = SignedBy(secret, FakeUpstream.Json(fixture));
        var before = _bedrock.Count;

        var response = await tenant.ChatAsync(new
        {
            provider = "aws_bedrock",
            model = Model,
            messages = new object[]
            {
                new { role = "system", content = "Be brief." },
                new { role = "user", content = "Weather in Boston?" },
                new
                {
                    role = "assistant",
                    content = (string?)null,
                    tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments = "{\"city\":\"Boston\"}" } } },
                },
                new { role = "tool", tool_call_id = "call_1", content = "{\"tempC\":22}" },
                new { role = "user", content = "Thanks. Summarize." },
            },
            providerOptions = new
            {
                max_tokens = 256,
                temperature = 0.2,
                top_p = 0.9,
                stop = "END",
                tools = new[] { new { type = "function", function = new { name = "get_weather", description = "Current weather", parameters = new { type = "object", properties = new { city = new { type = "string" } } } } } },
                tool_choice = "auto",
                additionalModelRequestFields = new { top_k = 40 },
            },
        });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        var upstream = _bedrock.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        var (target, verdict) = Verdicts.Last();
        Assert.AreEqual("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", target, "the model id is URL-encoded (':' → %3A)");
        Assert.AreEqual("ok", verdict);
        Assert.AreEqual(session, upstream.Header("x-amz-security-token"));
        StringAssert.Contains(upstream.Header("authorization"), "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,");
        StringAssert.StartsWith(upstream.Header("content-type"), "application/json");

        var expected = JsonNode.Parse("""
        {
          "messages": [
            { "role": "user", "content": [ { "text": "Weather in Boston?" } ] },
            { "role": "assistant", "content": [ { "toolUse": { "toolUseId": "call_1", "name": "get_weather", "input": { "city": "Boston" } } } ] },
            { "role": "user", "content": [
              { "toolResult": { "toolUseId": "call_1", "content": [ { "json": { "tempC": 22 } } ] } },
              { "text": "Thanks. Summarize." } ] }
          ],
          "system": [ { "text": "Be brief." } ],
          "inferenceConfig": { "maxTokens": 256, "temperature": 0.2, "topP": 0.9, "stopSequences": [ "END" ] },
          "toolConfig": {
            "tools": [ { "toolSpec": { "name": "get_weather", "description": "Current weather",
              "inputSchema": { "json": { "type": "object", "properties": { "city": { "type": "string" } } } } } } ],
            "toolChoice": { "auto": {} }
          },
          "additionalModelRequestFields": { "top_k": 40 }
        }
        """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, upstream.Json), upstream.Body);

        Assert.IsTrue(JsonNode.DeepEquals(fixture, body["response"]));
        var metrics = body["metrics"]!;
        Assert.AreEqual(1500, metrics["inputTokens"]!.GetValue<long>(), "input + cache reads + cache writes");
        Assert.AreEqual(1000, metrics["cachedInputTokens"]!.GetValue<long>());
        Assert.AreEqual(50, metrics["outputTokens"]!.GetValue<long>());
        // claude-3-5-haiku on Bedrock: $0.80 in, $0.08 read, $1.00 write, $4.00 out → 80 + 80 + 400 + 200 = 760 µ$.
        Assert.AreEqual(0.00076m, metrics["costUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    public async Task Chat_WithoutSessionToken_SignsNoTokenHeader()
    {
        const string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTENANTKEY2";
        var tenant = await TenantAsync(secret);
        _bedrock.Handler = SignedBy(secret, FakeUpstream.Json(ConverseResponse()));
        var before = _bedrock.Count;

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(new { provider = "aws_bedrock", model = "amazon.nova-lite-v1:0", messages = new[] { new { role = "user", content = "hi" } } }), 200);

        Assert.IsNull(_bedrock.Requests[before].Header("x-amz-security-token"));
        Assert.AreEqual("ok", Verdicts.Last().Verdict);
        Assert.AreEqual("/model/amazon.nova-lite-v1%3A0/converse", Verdicts.Last().Target);
    }

    [TestMethod]
    public async Task AuthFailures_AreProviderAuthFailed_ThrottlingIsRateLimited_MalformedIs502()
    {
        var tenant = await TenantAsync("wJalrXUtnFEMI/K7MDENG/bPxRfiCYTENANTKEY3");

        _bedrock.Handler = AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        _bedrock.Handler = AwsError(401, "UnauthorizedException", "Unauthorized.");
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        // A signature made with the wrong secret fails the loopback AWS's own check.
        _bedrock.Handler = SignedBy("a-different-secret", FakeUpstream.Json(ConverseResponse()));
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        _bedrock.Handler = AwsError(429, "ThrottlingException", "Too many requests, please wait before trying again.");
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 429, "provider_rate_limited");

        _bedrock.Handler = ProviderTestKit.NotJson();
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_error");
    }

    [TestMethod]
    public async Task BadRegionOrRemoteImage_Are400BeforeAnyCall()
    {
        var badRegion = await _host.CreateTenantAsync(credential: new
        {
            provider = "aws_bedrock",
            secrets = new { accessKeyId = AccessKeyId, secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTENANTKEY4" },
            config = new { region = "evil.example.com/x" },
        });
        var before = _bedrock.Count;
        await ProviderTestKit.AssertErrorAsync(await badRegion.ChatAsync(Chat()), 400, "invalid_provider_config");

        var tenant = await TenantAsync("wJalrXUtnFEMI/K7MDENG/bPxRfiCYTENANTKEY5");
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(new
        {
            provider = "aws_bedrock",
            model = Model,
            messages = new[] { new { role = "user", content = new object[] { new { type = "image_url", image_url = new { url = "https://example.com/cat.png" } } } } },
        }), 400, "invalid_messages");
        Assert.AreEqual(before, _bedrock.Count);
    }

    [TestMethod]
    public async Task UpstreamErrorEchoingTheSecret_NeverReachesTheClient()
    {
        const string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYECHOKEY66";
        var tenant = await TenantAsync(secret, "FwoGZXIvYXdzEcho-session-token-777");
        _bedrock.Handler = AwsError(400, "ValidationException", $"Malformed input: secret {secret} and token FwoGZXIvYXdzEcho-session-token-777");

        var text = await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 400, "provider_rejected");

        ProviderTestKit.AssertNoSecret(text, secret, "FwoGZXIvYXdzEcho-session-token-777");
        ProviderTestKit.AssertNoSecretInLogs(_host, secret);
    }

    [TestMethod]
    public async Task CredentialTest_ListsFoundationModelsSigned_AndAccessDeniedStillProvesTheKeys()
    {
        const string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYTESTKEY888";
        var tenant = await TenantAsync(secret);
        // ListFoundationModels response (docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html).
        _bedrock.Handler = SignedBy(secret, FakeUpstream.Json(JsonNode.Parse("""
            { "modelSummaries": [ { "modelArn": "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
              "modelId": "amazon.nova-lite-v1:0", "modelName": "Nova Lite", "providerName": "Amazon",
              "inputModalities": [ "TEXT", "IMAGE" ], "outputModalities": [ "TEXT" ], "responseStreamingSupported": true,
              "inferenceTypesSupported": [ "ON_DEMAND" ], "modelLifecycle": { "status": "ACTIVE" } } ] }
            """)!));
        var before = _bedrock.Count;

        var result = await ProviderTestKit.TestCredentialAsync(tenant);

        Assert.IsTrue(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        Assert.AreEqual("GET", _bedrock.Requests[before].Method);
        Assert.AreEqual("/foundation-models", Verdicts.Last().Target);
        Assert.AreEqual("ok", Verdicts.Last().Verdict);

        _bedrock.Handler = SignedBy(secret, AwsError(403, "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/app is not authorized to perform: bedrock:ListFoundationModels because no identity-based policy allows the bedrock:ListFoundationModels action"));
        var denied = await ProviderTestKit.TestCredentialAsync(tenant);
        Assert.IsTrue(denied["ok"]!.GetValue<bool>(), denied.ToJsonString());
        StringAssert.Contains(denied["message"]!.GetValue<string>(), "bedrock:InvokeModel");

        _bedrock.Handler = AwsError(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
        var invalid = await ProviderTestKit.TestCredentialAsync(tenant);
        Assert.IsFalse(invalid["ok"]!.GetValue<bool>());
        Assert.AreEqual(403, invalid["providerStatus"]!.GetValue<int>());
    }
}
