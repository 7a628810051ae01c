using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Providers.Vertex;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace KillToken.Tests.Providers;

[TestClass]
public sealed class VertexAdapterTests
{
    private const string ProjectId = "acme-prod-123";
    private const string Location = "us-central1";

    private static FakeUpstream _vertex = null!;
    private static FakeUpstream _tokenServer = null!;
    private static GatewayHost _host = null!;
    private static Uri _tokenUrl = null!;

    /// <summary>The loopback Google: public keys it trusts per service account, tokens it issued (and to whom), tokens it revoked.</summary>
    private static readonly ConcurrentDictionary<string, byte[]> PublicKeys = new();
    private static readonly ConcurrentDictionary<string, string> IssuedTo = new();
    private static readonly ConcurrentDictionary<string, bool> Revoked = new();
    private static readonly ConcurrentQueue<string> Rejections = new();
    private static int _issued;

    /// <summary>Generated once (2048-bit generation is slow on small machines): one key Google trusts, one it does not know.</summary>
    private static readonly RSA TrustedKey = RSA.Create(2048);
    private static readonly RSA UnknownKey = RSA.Create(2048);

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _vertex = await FakeUpstream.StartAsync();
        _tokenServer = await FakeUpstream.StartAsync(TokenEndpointAsync);
        _tokenUrl = new Uri(_tokenServer.BaseAddress, "token");
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_GOOGLE_VERTEX_BASE_URL"] = _vertex.BaseAddress.ToString(),
            ["KILLTOKEN_GOOGLE_TOKEN_URL"] = _tokenUrl.ToString(),
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _vertex.DisposeAsync();
        await _tokenServer.DisposeAsync();
        TrustedKey.Dispose();
        UnknownKey.Dispose();
    }

    /// <summary>
    /// Google's token endpoint for the JWT bearer grant (developers.google.com/identity/protocols/oauth2/service-account#httprest):
    /// verifies the assertion's RS256 signature with the service account's public key and its claims, then issues a token.
    /// </summary>
    private static async Task TokenEndpointAsync(HttpContext context, UpstreamRequest request)
    {
        var form = System.Web.HttpUtility.ParseQueryString(request.Body);
        string? clientEmail = null;
        var problem = request.Method != "POST" || request.Path != "/token" ? "wrong endpoint"
            : form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" ? "wrong grant_type"
            : request.Header("content-type")?.StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal) != true ? "not a form"
            : CheckAssertion(form["assertion"] ?? "", out clientEmail);
        if (problem is not null)
        {
            Rejections.Enqueue(problem);
            await FakeUpstream.Json(new JsonObject { ["error"] = "invalid_grant", ["error_description"] = "Invalid JWT Signature." }, 400)(context, request);
            return;
        }

        var token = $"ya29.c.loopback-token-{Interlocked.Increment(ref _issued)}";
        IssuedTo[token] = clientEmail!;
        await FakeUpstream.Json(new JsonObject
        {
            ["access_token"] = token,
            ["expires_in"] = 3599,
            ["token_type"] = "Bearer",
        })(context, request);
    }

    private static string? CheckAssertion(string assertion, out string? clientEmail)
    {
        clientEmail = null;
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            return "not a JWT";
        }

        var header = JsonNode.Parse(Base64Url.DecodeFromChars(parts[0]))!;
        var claims = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!;
        clientEmail = claims["iss"]?.GetValue<string>();
        if (header["alg"]?.GetValue<string>() != "RS256" || clientEmail is null || !PublicKeys.TryGetValue(clientEmail, out var publicKey))
        {
            return "unknown signer or algorithm";
        }

        using var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(publicKey, out _);
        if (!rsa.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return "bad signature";
        }

        var iat = claims["iat"]!.GetValue<long>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (claims["scope"]?.GetValue<string>() != "https://www.googleapis.com/auth/cloud-platform"
            || claims["aud"]?.GetValue<string>() != _tokenUrl.AbsoluteUri
            || claims["exp"]!.GetValue<long>() - iat != 3600
            || Math.Abs(now - iat) > 300
            || header["kid"]?.GetValue<string>() != "kid-" + clientEmail)
        {
            return "bad claims: " + claims.ToJsonString() + " " + header.ToJsonString();
        }

        return null;
    }

    /// <summary>Vertex: accepts only live tokens the loopback Google issued, then answers with <paramref name="then"/>.</summary>
    private static Func<HttpContext, UpstreamRequest, Task> WithValidToken(Func<HttpContext, UpstreamRequest, Task> then) => (context, request) =>
    {
        var token = request.Header("authorization") is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth[7..] : "";
        return IssuedTo.ContainsKey(token) && !Revoked.ContainsKey(token)
            ? then(context, request)
            : FakeUpstream.Json(GeminiAdapterTests.GoogleError(401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."), 401)(context, request);
    };

    /// <summary>A service account (fresh client email) whose key the loopback Google trusts, or not.</summary>
    private static async Task<(Tenant Tenant, string ClientEmail, string PrivateKey)> TenantAsync(bool trusted = true, string? endpointUrl = null)
    {
        var clientEmail = $"gateway-{Guid.NewGuid():N}@{ProjectId}.iam.gserviceaccount.com";
        // Google knows the account by its registered public key; an untrusted tenant signs with some other key.
        PublicKeys[clientEmail] = TrustedKey.ExportSubjectPublicKeyInfo();
        var privateKey = (trusted ? TrustedKey : UnknownKey).ExportPkcs8PrivateKeyPem();

        var config = endpointUrl is null
            ? (object)new { projectId = ProjectId, location = Location, defaultModel = "gemini-2.5-flash" }
            : new { projectId = ProjectId, location = Location, defaultModel = "gemini-2.5-flash", endpointUrl };
        var tenant = await _host.CreateTenantAsync(credential: new
        {
            provider = "google_vertex",
            secrets = new { clientEmail, privateKey, privateKeyId = "kid-" + clientEmail },
            config,
        });
        return (tenant, clientEmail, privateKey);
    }

    private static int ExchangesFor(string clientEmail) => IssuedTo.Values.Count(e => e == clientEmail);

    private static object Chat() => new
    {
        provider = "google_vertex",
        model = "gemini-2.5-flash",
        messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Hello" } },
        providerOptions = new { max_tokens = 128, temperature = 0.2, labels = new { team = "search" } },
    };

    [TestMethod]
    public async Task Chat_UsesTheProjectsModelPath_WithABearerTokenReusedAcrossCalls()
    {
        var (tenant, clientEmail, _) = await TenantAsync();
        var fixture = GeminiAdapterTests.GenerateContentResponse(prompt: 1000, candidates: 200, thoughts: 300, cached: 400);
        _vertex.Handler = WithValidToken(FakeUpstream.Json(fixture));
        var before = _vertex.Count;

        var first = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        var second = await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        Assert.AreEqual(1, ExchangesFor(clientEmail), "one token exchange serves both calls");
        var upstream = _vertex.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        Assert.AreEqual($"/v1/projects/{ProjectId}/locations/{Location}/publishers/google/models/gemini-2.5-flash:generateContent", upstream.Path);
        Assert.AreEqual("", upstream.Query);
        StringAssert.StartsWith(upstream.Header("authorization"), "Bearer ya29.c.loopback-token-");
        Assert.AreEqual(upstream.Header("authorization"), _vertex.Requests[before + 1].Header("authorization"));
        Assert.IsNull(upstream.Header("x-goog-api-key"));
        var expected = JsonNode.Parse("""
            {
              "contents": [ { "role": "user", "parts": [ { "text": "Hello" } ] } ],
              "systemInstruction": { "parts": [ { "text": "Be brief." } ] },
              "labels": { "team": "search" },
              "generationConfig": { "maxOutputTokens": 128, "temperature": 0.2 }
            }
            """);
        Assert.IsTrue(JsonNode.DeepEquals(expected, upstream.Json), upstream.Body);

        Assert.IsTrue(JsonNode.DeepEquals(fixture, first["response"]));
        var metrics = second["metrics"]!;
        Assert.AreEqual(1000, metrics["inputTokens"]!.GetValue<long>());
        Assert.AreEqual(500, metrics["outputTokens"]!.GetValue<long>());
        Assert.AreEqual(400, metrics["cachedInputTokens"]!.GetValue<long>());
        // gemini-2.5-flash on Vertex: 600*0.30 + 400*0.03 + 500*2.50 = 1442 µ$.
        Assert.AreEqual(0.001442m, metrics["costUsd"]!.GetValue<decimal>());
    }

    [TestMethod]
    public async Task A401_DropsTheCachedToken_MintsANewOne_AndRetriesOnce()
    {
        var (tenant, clientEmail, _) = await TenantAsync();
        _vertex.Handler = WithValidToken(FakeUpstream.Json(GeminiAdapterTests.GenerateContentResponse()));
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        var firstToken = IssuedTo.Single(p => p.Value == clientEmail).Key;
        Revoked[firstToken] = true;
        var before = _vertex.Count;

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        Assert.AreEqual(2, ExchangesFor(clientEmail));
        var calls = _vertex.Requests.Skip(before).ToList();
        Assert.AreEqual(2, calls.Count, "the refused call and its one retry");
        Assert.AreEqual("Bearer " + firstToken, calls[0].Header("authorization"));
        Assert.AreNotEqual(calls[0].Header("authorization"), calls[1].Header("authorization"));

        // The refreshed token is cached in turn.
        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);
        Assert.AreEqual(2, ExchangesFor(clientEmail));
    }

    [TestMethod]
    public async Task Persistent401_IsProviderAuthFailed_AfterExactlyOneRetry()
    {
        var (tenant, clientEmail, _) = await TenantAsync();
        _vertex.Handler = FakeUpstream.Json(GeminiAdapterTests.GoogleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), 401);
        var before = _vertex.Count;

        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        Assert.AreEqual(2, _vertex.Count - before);
        Assert.AreEqual(2, ExchangesFor(clientEmail));
    }

    [TestMethod]
    public async Task AKeyGoogleDoesNotTrust_IsProviderAuthFailed_WithoutCallingVertex()
    {
        var (tenant, _, privateKey) = await TenantAsync(trusted: false);
        var before = _vertex.Count;

        var text = await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_auth_failed");

        StringAssert.Contains(text, "invalid_grant");
        Assert.IsTrue(Rejections.Contains("bad signature"), string.Join(" | ", Rejections));
        Assert.AreEqual(before, _vertex.Count);
        ProviderTestKit.AssertNoSecret(text, privateKey);
    }

    [TestMethod]
    public async Task Upstream429_IsRateLimited_MalformedIs502()
    {
        var (tenant, _, _) = await TenantAsync();

        _vertex.Handler = WithValidToken(FakeUpstream.Json(GeminiAdapterTests.GoogleError(429, "RESOURCE_EXHAUSTED",
            "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."), 429));
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 429, "provider_rate_limited");

        _vertex.Handler = WithValidToken(ProviderTestKit.NotJson());
        await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 502, "provider_error");
    }

    [TestMethod]
    public async Task UpstreamErrorEchoingTheTokenOrKey_NeverReachesTheClient()
    {
        var (tenant, clientEmail, privateKey) = await TenantAsync();
        _vertex.Handler = WithValidToken((context, request) =>
            FakeUpstream.Json(GeminiAdapterTests.GoogleError(400, "INVALID_ARGUMENT",
                $"Bad request with {request.Header("authorization")} and key {privateKey}"), 400)(context, request));

        var text = await ProviderTestKit.AssertErrorAsync(await tenant.ChatAsync(Chat()), 400, "provider_rejected");

        var token = IssuedTo.Single(p => p.Value == clientEmail).Key;
        ProviderTestKit.AssertNoSecret(text, token, privateKey, "PRIVATE KEY");
        ProviderTestKit.AssertNoSecretInLogs(_host, token, privateKey);
    }

    [TestMethod]
    public async Task EndpointUrl_ReplacesTheRegionalHost()
    {
        var (tenant, _, _) = await TenantAsync(endpointUrl: new Uri(_vertex.BaseAddress, "psc/").ToString());
        _vertex.Handler = WithValidToken(FakeUpstream.Json(GeminiAdapterTests.GenerateContentResponse()));
        var before = _vertex.Count;

        await GatewayHost.ReadJsonAsync(await tenant.ChatAsync(Chat()), 200);

        Assert.AreEqual($"/psc/v1/projects/{ProjectId}/locations/{Location}/publishers/google/models/gemini-2.5-flash:generateContent", _vertex.Requests[before].Path);
    }

    [TestMethod]
    public async Task CredentialTest_MintsATokenAndCountsTokensOnTheDefaultModel()
    {
        var (tenant, clientEmail, _) = await TenantAsync();
        // CountTokensResponse (cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/countTokens).
        _vertex.Handler = WithValidToken(FakeUpstream.Json(JsonNode.Parse("""{ "totalTokens": 1, "totalBillableCharacters": 4 }""")!));
        var before = _vertex.Count;

        var result = await ProviderTestKit.TestCredentialAsync(tenant);

        Assert.IsTrue(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        Assert.AreEqual(1, ExchangesFor(clientEmail));
        var upstream = _vertex.Requests[before];
        Assert.AreEqual("POST", upstream.Method);
        Assert.AreEqual($"/v1/projects/{ProjectId}/locations/{Location}/publishers/google/models/gemini-2.5-flash:countTokens", upstream.Path);
        StringAssert.StartsWith(upstream.Header("authorization"), "Bearer ya29.c.loopback-token-");
        Assert.AreEqual("ping", upstream.Json["contents"]![0]!["parts"]![0]!["text"]!.GetValue<string>());

        var (untrusted, _, _) = await TenantAsync(trusted: false);
        var failed = await ProviderTestKit.TestCredentialAsync(untrusted);
        Assert.IsFalse(failed["ok"]!.GetValue<bool>());
        Assert.AreEqual(400, failed["providerStatus"]!.GetValue<int>());
    }

    [TestMethod]
    public async Task TokenCache_OneExchangeForConcurrentCallers_RefreshesFiveMinutesBeforeExpiry()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var cache = new GoogleAccessTokenCache(clock);
        var exchanges = 0;
        var release = new TaskCompletionSource();
        async Task<(GoogleAccessToken?, KillToken.Core.Gateway.GatewayError?)> Exchange(CancellationToken ct)
        {
            var n = Interlocked.Increment(ref exchanges);
            await release.Task.WaitAsync(ct);
            return (new GoogleAccessToken($"token-{n}", clock.GetUtcNow().AddHours(1)), null);
        }

        var callers = Enumerable.Range(0, 20).Select(_ => cache.GetAsync("cred_1:v1", Exchange)).ToList();
        release.SetResult();
        var tokens = await Task.WhenAll(callers);
        Assert.AreEqual(1, exchanges, "one refresh at a time; the others wait and reuse it");
        Assert.IsTrue(tokens.All(t => t.Token!.Value == "token-1"));

        clock.Advance(TimeSpan.FromMinutes(54));
        Assert.AreEqual("token-1", (await cache.GetAsync("cred_1:v1", Exchange)).Token!.Value);
        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.AreEqual("token-2", (await cache.GetAsync("cred_1:v1", Exchange)).Token!.Value, "refreshed 5 minutes before expiry");

        // Another credential (or a rotated key: another fingerprint) never shares the token.
        Assert.AreEqual("token-3", (await cache.GetAsync("cred_1:v2", Exchange)).Token!.Value);
    }

    [TestMethod]
    public async Task TokenCache_InvalidateDropsOnlyTheRefusedToken()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var cache = new GoogleAccessTokenCache(clock);
        var n = 0;
        Task<(GoogleAccessToken?, KillToken.Core.Gateway.GatewayError?)> Exchange(CancellationToken _) =>
            Task.FromResult<(GoogleAccessToken?, KillToken.Core.Gateway.GatewayError?)>((new GoogleAccessToken($"token-{++n}", clock.GetUtcNow().AddHours(1)), null));

        var first = (await cache.GetAsync("k", Exchange)).Token!;
        cache.Invalidate("k", first);
        var second = (await cache.GetAsync("k", Exchange)).Token!;
        Assert.AreEqual("token-2", second.Value);

        // A late 401 for the old token must not throw away the fresh one.
        cache.Invalidate("k", first);
        Assert.AreEqual("token-2", (await cache.GetAsync("k", Exchange)).Token!.Value);
    }
}
