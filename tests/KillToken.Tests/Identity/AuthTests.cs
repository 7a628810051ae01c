using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Identity;

/// <summary>Sign-up, sign-in, the sign-in throttle and session checks of the dashboard API (§5, §8).</summary>
[TestClass]
public sealed class AuthTests
{
    private const string Password = "correct horse battery";
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _host = await GatewayHost.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _host.DisposeAsync();

    [TestMethod]
    public async Task SignUp_Returns201WithUserOwnedWorkspaceAndToken_NeverThePassword()
    {
        var email = NewEmail();

        var response = await _host.Client.PostAsJsonAsync("api/auth/signup", new { email, password = Password, name = "Ada" });

        var body = await GatewayHost.ReadJsonAsync(response, 201);
        Assert.AreEqual(email, body["user"]!["email"]!.GetValue<string>());
        Assert.AreEqual("Ada", body["user"]!["name"]!.GetValue<string>());
        Assert.IsFalse(string.IsNullOrEmpty(body["user"]!["id"]!.GetValue<string>()));
        Assert.IsFalse(string.IsNullOrEmpty(body["workspace"]!["id"]!.GetValue<string>()));
        Assert.AreEqual("owner", body["workspace"]!["role"]!.GetValue<string>());
        Assert.IsFalse(string.IsNullOrEmpty(body["token"]!.GetValue<string>()));
        var text = body.ToJsonString();
        Assert.IsFalse(text.Contains(Password, StringComparison.Ordinal), "the password never comes back");
        Assert.IsFalse(text.Contains("pbkdf2", StringComparison.OrdinalIgnoreCase), "the password hash never comes back");
    }

    [TestMethod]
    public async Task EverySignIn_IsItsOwnSession_EvenInTheSameSecond()
    {
        var email = NewEmail();
        var signUp = await GatewayHost.ReadJsonAsync(await _host.Client.PostAsJsonAsync("api/auth/signup", new { email, password = Password }), 201);
        var tokens = new List<string> { signUp["token"]!.GetValue<string>() };
        var logins = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => _host.Client.PostAsJsonAsync("api/auth/login", new { email, password = Password })));
        foreach (var login in logins)
        {
            tokens.Add((await GatewayHost.ReadJsonAsync(login, 200))["token"]!.GetValue<string>());
        }

        Assert.HasCount(4, tokens.Distinct(StringComparer.Ordinal), "two sessions must never be the same token");
    }

    [TestMethod]
    public async Task SignUp_DuplicateEmail_Conflict_EvenInOtherCase()
    {
        var email = NewEmail();
        await GatewayHost.ReadJsonAsync(await _host.Client.PostAsJsonAsync("api/auth/signup", new { email, password = Password }), 201);

        var same = await _host.Client.PostAsJsonAsync("api/auth/signup", new { email, password = Password });
        var upper = await _host.Client.PostAsJsonAsync("api/auth/signup", new { email = email.ToUpperInvariant(), password = Password });

        AssertError(await GatewayHost.ReadJsonAsync(same, 409), "conflict");
        AssertError(await GatewayHost.ReadJsonAsync(upper, 409), "conflict");
    }

    [TestMethod]
    [DataRow("user-short@example.com", "short", DisplayName = "password under 8 characters")]
    [DataRow("not-an-email", Password, DisplayName = "email without @")]
    [DataRow("a@b", Password, DisplayName = "email without a domain")]
    [DataRow("", Password, DisplayName = "empty email")]
    public async Task SignUp_BadEmailOrShortPassword_400(string email, string password)
    {
        var response = await _host.Client.PostAsJsonAsync("api/auth/signup", new { email, password });

        AssertError(await GatewayHost.ReadJsonAsync(response, 400), "validation_failed");
        var login = await _host.Client.PostAsJsonAsync("api/auth/login", new { email, password });
        Assert.AreNotEqual(200, (int)login.StatusCode, "a refused sign-up created no account");
    }

    [TestMethod]
    public async Task Login_RightPassword_ReturnsTokenAndUser_TokenOpensMe()
    {
        var email = NewEmail();
        await _host.SignUpAsync(email);

        var response = await _host.Client.PostAsJsonAsync("api/auth/login", new { email = "  " + email.ToUpperInvariant() + " ", password = "correct horse battery" });

        var body = await GatewayHost.ReadJsonAsync(response, 200);
        Assert.AreEqual(email, body["user"]!["email"]!.GetValue<string>());
        var me = await GatewayHost.ReadJsonAsync(await GetMeAsync(body["token"]!.GetValue<string>()), 200);
        Assert.AreEqual(email, me["user"]!["email"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Login_WrongPasswordOrUnknownEmail_401InvalidCredentials_SameMessage()
    {
        var email = NewEmail();
        await _host.SignUpAsync(email);

        var wrong = await GatewayHost.ReadJsonAsync(await _host.Client.PostAsJsonAsync("api/auth/login", new { email, password = "wrong password!" }), 401);
        var unknown = await GatewayHost.ReadJsonAsync(await _host.Client.PostAsJsonAsync("api/auth/login", new { email = NewEmail(), password = Password }), 401);

        AssertError(wrong, "invalid_credentials");
        AssertError(unknown, "invalid_credentials");
        Assert.AreEqual(wrong["error"]!["message"]!.GetValue<string>(), unknown["error"]!["message"]!.GetValue<string>(),
            "the answer must not reveal whether the email has an account");
        Assert.IsNull(wrong["token"]);
    }

    [TestMethod]
    public async Task Login_AfterFiveFailures_429WithRetryAfter_EvenWithTheRightPassword()
    {
        var email = NewEmail();
        await _host.SignUpAsync(email);
        for (var i = 0; i < 5; i++)
        {
            var failed = await _host.Client.PostAsJsonAsync("api/auth/login", new { email, password = $"wrong password {i}" });
            Assert.AreEqual(401, (int)failed.StatusCode, $"failure {i + 1} is still a plain 401");
        }

        var blocked = await _host.Client.PostAsJsonAsync("api/auth/login", new { email, password = Password });

        AssertError(await GatewayHost.ReadJsonAsync(blocked, 429), "too_many_attempts");
        Assert.IsNotNull(blocked.Headers.RetryAfter, "429 tells the client when to come back");
        Assert.IsTrue(blocked.Headers.RetryAfter!.Delta > TimeSpan.Zero || blocked.Headers.RetryAfter.Date is not null);

        // Another account is not locked out by this one's failures.
        var other = NewEmail();
        await _host.SignUpAsync(other);
        Assert.AreEqual(200, (int)(await _host.Client.PostAsJsonAsync("api/auth/login", new { email = other, password = Password })).StatusCode);
    }

    [TestMethod]
    public async Task Me_WithoutToken_401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/me");

        var response = await _host.Client.SendAsync(request);

        AssertError(await GatewayHost.ReadJsonAsync(response, 401), "unauthenticated");
    }

    [TestMethod]
    public async Task Me_WithToken_ReturnsUserAndWorkspaces()
    {
        var email = NewEmail();
        var (token, workspaceId) = await _host.SignUpAsync(email);

        var me = await GatewayHost.ReadJsonAsync(await GetMeAsync(token), 200);

        Assert.AreEqual(email, me["user"]!["email"]!.GetValue<string>());
        var workspaces = me["workspaces"]!.AsArray();
        Assert.AreEqual(1, workspaces.Count);
        Assert.AreEqual(workspaceId, workspaces[0]!["id"]!.GetValue<string>());
        Assert.AreEqual("owner", workspaces[0]!["role"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Me_WithProjectApiKey_401()
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var (_, apiKey) = await _host.CreateProjectAsync(token, workspaceId);

        var response = await GetMeAsync(apiKey);

        AssertError(await GatewayHost.ReadJsonAsync(response, 401), "unauthenticated");
    }

    [TestMethod]
    public async Task Me_WithTamperedJwt_401()
    {
        var (token, _) = await _host.SignUpAsync();
        var (victimToken, _) = await _host.SignUpAsync();
        var parts = token.Split('.');
        Assert.AreEqual(3, parts.Length, "a session token is a compact JWT");

        // 1. A flipped signature character.
        var sig = parts[2].ToCharArray();
        sig[sig.Length / 2] = sig[sig.Length / 2] == 'A' ? 'B' : 'A';
        var badSignature = $"{parts[0]}.{parts[1]}.{new string(sig)}";

        // 2. Someone else's payload (sub) under this token's signature.
        var otherPayload = $"{parts[0]}.{victimToken.Split('.')[1]}.{parts[2]}";

        // 3. alg "none" with no signature.
        var none = $"{Base64Url("{\"alg\":\"none\",\"typ\":\"JWT\"}")}.{parts[1]}.";

        // 4. Not a JWT at all.
        const string junk = "definitely-not-a-jwt";

        foreach (var tampered in new[] { badSignature, otherPayload, none, junk })
        {
            var response = await GetMeAsync(tampered);
            AssertError(await GatewayHost.ReadJsonAsync(response, 401), "unauthenticated");
        }

        Assert.AreEqual(200, (int)(await GetMeAsync(token)).StatusCode, "the untampered token still works");
    }

    private static string NewEmail() => $"auth-{Guid.NewGuid():N}@example.com";

    private static string Base64Url(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static async Task<HttpResponseMessage> GetMeAsync(string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await _host.Client.SendAsync(request);
    }

    private static void AssertError(JsonObject body, string code)
    {
        var error = body["error"] as JsonObject;
        Assert.IsNotNull(error, body.ToJsonString());
        Assert.AreEqual(code, error["code"]?.GetValue<string>(), body.ToJsonString());
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["message"]?.GetValue<string>()));
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["requestId"]?.GetValue<string>()));
    }
}
