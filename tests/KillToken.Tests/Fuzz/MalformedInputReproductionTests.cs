using System.Text;
using KillToken.Api.Hosting;

namespace KillToken.Tests.Fuzz;

/// <summary>
/// The fuzz findings of issue 10 as plain reproductions, one request each: JSON that is not valid JSON text (duplicate
/// keys, invalid UTF-8, escaped lone surrogates) must be a 400 <c>invalid_json</c> (the native 400 on the wrapper routes)
/// and report dates outside what the reports can count must be a 400 <c>validation_failed</c> — with nothing stored and
/// no provider call.
/// </summary>
[TestClass]
public sealed class MalformedInputReproductionTests
{
    private static FuzzWorld _world = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _world = await FuzzWorld.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _world.DisposeAsync();

    [TestMethod]
    public async Task SignUp_WithDuplicateKeys_Is400InvalidJson()
    {
        var (first, second) = (NewEmail(), NewEmail());
        var body = $"{{\"email\":\"{first}\",\"email\":\"{second}\",\"password\":\"correct horse battery\",\"name\":\"Dup\"}}";

        await AssertRefusedAsync(Routes.SignUp, Utf8(body), invalidJson: true, emails: [first, second]);
    }

    [TestMethod]
    public async Task SignIn_WithDuplicateKeys_Is400InvalidJson()
    {
        var tenant = _world.Tenant;
        var body = $"{{\"email\":\"{NewEmail()}\",\"email\":\"{tenant.Email}\",\"password\":\"{tenant.Password}\"}}";

        await AssertRefusedAsync(Routes.Login, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    public async Task Chat_WithDuplicateKeys_Is400InvalidJson()
    {
        const string body = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        await AssertRefusedAsync(Routes.Chat, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    public async Task Chat_WithDuplicateKeysInAMessage_Is400InvalidJson()
    {
        const string body = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"role\":\"system\",\"content\":\"hi\"}]}";

        await AssertRefusedAsync(Routes.Chat, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    [DataRow(Routes.OpenAIChatCompletions)]
    [DataRow(Routes.ProxyOpenAIChatCompletions)]
    [DataRow(Routes.AnthropicMessages)]
    [DataRow(Routes.AnthropicV1Messages)]
    [DataRow(Routes.ProxyAnthropicMessages)]
    [DataRow(Routes.GeminiGenerateContent)]
    [DataRow(Routes.GeminiStreamGenerateContent)]
    [DataRow(Routes.ProxyGeminiGenerateContent)]
    [DataRow(Routes.ProxyGeminiStreamGenerateContent)]
    [DataRow(Routes.ProxyGeminiGenerateContentPath)]
    public async Task WrapperRoute_WithDuplicateKeys_Is400InItsNativeErrorShape(string route)
    {
        var body = FuzzRoutes.ShapeOf(route) switch
        {
            ErrorShape.OpenAI => "{\"model\":\"gpt-4o-mini\",\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            ErrorShape.Anthropic => "{\"model\":\"claude-3-5-haiku-latest\",\"model\":\"claude-3-5-sonnet-latest\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            _ => "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"bye\"}]}]}",
        };

        await AssertRefusedAsync(route, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    public async Task SignUp_WithInvalidUtf8InAKey_Is400InvalidJson()
    {
        var email = NewEmail();
        byte[] body = [.. "{\""u8, 0x80, .. Utf8($"\":1,\"email\":\"{email}\",\"password\":\"correct horse battery\"}}")];

        await AssertRefusedAsync(Routes.SignUp, body, invalidJson: true, emails: [email]);
    }

    [TestMethod]
    [DataRow(new byte[] { 0x80 }, DisplayName = "SignUp_WithInvalidUtf8InTheName_Is400InvalidJson (lone continuation byte 0x80)")]
    [DataRow(new byte[] { 0xC3, 0x28 }, DisplayName = "SignUp_WithInvalidUtf8InTheName_Is400InvalidJson (0xC3 0x28)")]
    [DataRow(new byte[] { 0xC0, 0xAF }, DisplayName = "SignUp_WithInvalidUtf8InTheName_Is400InvalidJson (overlong 0xC0 0xAF)")]
    [DataRow(new byte[] { 0xFF }, DisplayName = "SignUp_WithInvalidUtf8InTheName_Is400InvalidJson (0xFF)")]
    public async Task SignUp_WithInvalidUtf8InTheName_Is400InvalidJson(byte[] bad)
    {
        var email = NewEmail();
        byte[] body = [.. Utf8($"{{\"email\":\"{email}\",\"password\":\"correct horse battery\",\"name\":\"ab"), .. bad, .. "cd\"}"u8];

        await AssertRefusedAsync(Routes.SignUp, body, invalidJson: true, emails: [email]);
    }

    [TestMethod]
    public async Task Chat_WithInvalidUtf8InAKey_Is400InvalidJson()
    {
        byte[] body = [.. "{\""u8, 0x80, .. "\":1,\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8];

        await AssertRefusedAsync(Routes.Chat, body, invalidJson: true);
    }

    [TestMethod]
    [DataRow(new byte[] { 0x80 }, DisplayName = "Chat_WithInvalidUtf8InMessageContent_Is400InvalidJson (lone continuation byte 0x80)")]
    [DataRow(new byte[] { 0xC3, 0x28 }, DisplayName = "Chat_WithInvalidUtf8InMessageContent_Is400InvalidJson (0xC3 0x28)")]
    [DataRow(new byte[] { 0xC0, 0xAF }, DisplayName = "Chat_WithInvalidUtf8InMessageContent_Is400InvalidJson (overlong 0xC0 0xAF)")]
    [DataRow(new byte[] { 0xFF }, DisplayName = "Chat_WithInvalidUtf8InMessageContent_Is400InvalidJson (0xFF)")]
    public async Task Chat_WithInvalidUtf8InMessageContent_Is400InvalidJson(byte[] bad)
    {
        byte[] body = [.. "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"ab"u8, .. bad, .. "cd\"}]}"u8];

        await AssertRefusedAsync(Routes.Chat, body, invalidJson: true);
    }

    [TestMethod]
    public async Task Chat_WithALoneLowSurrogateAsMessageContent_Is400InvalidJson()
    {
        const string body = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"\\udfff\"}]}";

        await AssertRefusedAsync(Routes.Chat, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    public async Task Chat_WithMessageContentEndingInALoneHighSurrogate_Is400InvalidJson()
    {
        const string body = "{\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hello \\ud800\"}]}";

        await AssertRefusedAsync(Routes.Chat, Utf8(body), invalidJson: true);
    }

    [TestMethod]
    public async Task SignUp_WithALoneSurrogateInAKey_Is400InvalidJson()
    {
        var email = NewEmail();
        var body = $"{{\"\\ud800\":1,\"email\":\"{email}\",\"password\":\"correct horse battery\"}}";

        await AssertRefusedAsync(Routes.SignUp, Utf8(body), invalidJson: true, emails: [email]);
    }

    [TestMethod]
    public async Task SignUp_WithANameEndingInALoneHighSurrogate_Is400InvalidJson()
    {
        var email = NewEmail();
        var body = $"{{\"email\":\"{email}\",\"password\":\"correct horse battery\",\"name\":\"Zo\\ud800\"}}";

        await AssertRefusedAsync(Routes.SignUp, Utf8(body), invalidJson: true, emails: [email]);
    }

    /// <summary>Found by the fuzz: fields the wrapper does not read travel to the provider with their bytes unchecked.</summary>
    [TestMethod]
    [DataRow(Routes.OpenAIChatCompletions, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"user\":\"ab", DisplayName = "WrapperRoute_WithInvalidUtf8InAFieldItForwards_Is400_AndNothingReachesTheProvider (OpenAI user)")]
    [DataRow(Routes.AnthropicMessages, "{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"user_id\":\"ab", DisplayName = "WrapperRoute_WithInvalidUtf8InAFieldItForwards_Is400_AndNothingReachesTheProvider (Anthropic metadata.user_id)")]
    public async Task WrapperRoute_WithInvalidUtf8InAFieldItForwards_Is400_AndNothingReachesTheProvider(string route, string head)
    {
        var tail = route == Routes.AnthropicMessages ? "cd\"}}" : "cd\"}";
        byte[] body = [.. Utf8(head), 0xC0, 0xAF, .. Utf8(tail)];

        await AssertRefusedAsync(route, body, invalidJson: true);
    }

    /// <summary>Found by the fuzz: a non-ASCII <c>anthropic-beta</c> value is forwarded, the upstream call fails, and the client gets a 502.</summary>
    [TestMethod]
    public async Task AnthropicMessages_WithANonAsciiAnthropicBetaHeader_IsAClientError_NotA502()
    {
        const string body = "{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        await AssertRefusedAsync(Routes.AnthropicMessages, Utf8(body), invalidJson: false, extraHeaders: [new("anthropic-beta", "caf\u00e9-2025-01-01")]);
    }

    [TestMethod]
    public async Task Summary_ToYear9999_Is400ValidationFailed() =>
        await AssertRefusedAsync(Routes.Summary + "?to=9999-12-31", null, invalidJson: false, code: "validation_failed");

    [TestMethod]
    public async Task RoiReport_FromYear1ToYear9999_Is400ValidationFailed() =>
        await AssertRefusedAsync(Routes.RoiReport + "?from=0001-01-01&to=9999-12-31", null, invalidJson: false, code: "validation_failed");

    private static string NewEmail() => $"dup-{Guid.NewGuid():N}@example.com";

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>
    /// Sends <paramref name="body"/> (a POST; a GET when null) with the route's own credential and asserts the refusal:
    /// 400, the route's error shape, the code, nothing stored, no user created, no provider call.
    /// </summary>
    private static async Task AssertRefusedAsync(string target, byte[]? body, bool invalidJson, string? code = null, string[]? emails = null,
        List<KeyValuePair<string, string>>? extraHeaders = null)
    {
        var pattern = target.Split('?')[0];
        var route = FuzzRoutes.Describe(body is null ? "GET" : "POST", pattern, []);
        var path = pattern.Replace("{model}", route.Shape == ErrorShape.Gemini ? "gemini-2.0-flash" : "gpt-4o-mini", StringComparison.Ordinal);
        var headers = route.Auth switch
        {
            RouteAuth.Session => [new("Authorization", "Bearer " + _world.Tenant.Token)],
            RouteAuth.Key => [new("Authorization", "Bearer " + _world.Tenant.ApiKey)],
            _ => new List<KeyValuePair<string, string>>(),
        };
        headers.AddRange(extraHeaders ?? []);
        var before = await _world.SnapshotAsync(_world.Tenant);
        var upstream = _world.UpstreamCalls;

        var answer = await _world.SendAsync(new Prepared(route.Method, path + target[pattern.Length..], headers,
            body is null ? null : new Payload(body, Payload.Json, "reproduction")));

        var cause = answer.Status >= 500 ? FuzzRunner.Cause(_world, answer.Body) : null;
        var shown = $"{route.Method} /{target} → {answer.Status} {answer.Excerpt}{(cause is null ? "" : " — logged: " + cause)}";
        Assert.IsFalse(answer.Status >= 500, "a client's mistake is never a 5xx: " + shown);
        Assert.AreEqual(400, answer.Status, shown);
        Assert.IsNull(FuzzRunner.ShapeProblem(route.Shape, answer.Status, answer.Body), shown);
        if (route.Shape == ErrorShape.Contract && (invalidJson || code is not null))
        {
            Assert.AreEqual(invalidJson ? "invalid_json" : code, FuzzRunner.Code(answer.Body), shown);
        }

        Assert.AreEqual(upstream, _world.UpstreamCalls, "the provider must not be called: " + shown);
        var after = await _world.SnapshotAsync(_world.Tenant);
        Assert.AreEqual(before, after, "nothing stored: " + FuzzWorld.Difference(before, after));
        foreach (var email in emails ?? [])
        {
            Assert.IsFalse(await _world.UserExistsAsync(email), $"the refused sign-up created the user {email}: {shown}");
        }
    }
}
