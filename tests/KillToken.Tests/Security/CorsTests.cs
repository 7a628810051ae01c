using System.Net;
using System.Text.Json;
using KillToken.Api.Hosting;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.Configuration;

namespace KillToken.Tests.Security;

/// <summary>
/// CORS on the self-host, as a browser meets it: CORS_ORIGIN (or FRONTEND_URL's origin) is allowed exactly, with the
/// headers the dashboard and the native SDKs send; any other origin gets no CORS header; nothing set means no CORS at all;
/// and <c>*</c> never starts. Real host, real HTTP: the preflight is what a browser sends before a cross-origin call.
/// </summary>
[TestClass]
public sealed class CorsTests
{
    private const string App = "https://app.example.com";
    private const string Admin = "http://localhost:5173";

    /// <summary>What the dashboard sends to a management route (session token, JSON body).</summary>
    private static readonly string[] DashboardHeaders = ["authorization", "content-type"];

    /// <summary>What the gateway reads on /v1/chat and the wrappers besides the body.</summary>
    private static readonly string[] GatewayHeaders =
    [
        "authorization", "content-type", "x-killtoken-key", "x-killtoken-feature", "x-killtoken-provider", "x-killtoken-idempotency-key",
        "x-killtoken-cache", "x-killtoken-optimization-mode", "x-tokenguard-key", "idempotency-key",
    ];

    /// <summary>The OpenAI JS SDK's own headers on chat.completions.create (baseURL = …/v1/openai).</summary>
    private static readonly string[] OpenAISdkHeaders =
    [
        "authorization", "content-type", "openai-organization", "openai-project", "user-agent", "x-stainless-arch", "x-stainless-lang",
        "x-stainless-os", "x-stainless-package-version", "x-stainless-retry-count", "x-stainless-runtime", "x-stainless-runtime-version",
        "x-stainless-timeout",
    ];

    /// <summary>The Anthropic JS SDK's headers with dangerouslyAllowBrowser (baseURL = …/v1/anthropic).</summary>
    private static readonly string[] AnthropicSdkHeaders =
    [
        "anthropic-beta", "anthropic-dangerous-direct-browser-access", "anthropic-version", "content-type", "x-api-key", "x-stainless-lang",
        "x-stainless-retry-count", "x-stainless-timeout",
    ];

    /// <summary>The Google Gen AI JS SDK's headers (generateContent).</summary>
    private static readonly string[] GeminiSdkHeaders = ["content-type", "x-goog-api-client", "x-goog-api-key"];

    private static Task<GatewayHost> StartAsync(params (string Name, string Value)[] settings) =>
        GatewayHost.StartAsync(settings.ToDictionary(s => s.Name, s => (string?)s.Value));

    private static async Task<HttpResponseMessage> PreflightAsync(GatewayHost host, string path, string origin, string method, IEnumerable<string> headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", string.Join(",", headers));
        return await host.Client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> FromOriginAsync(GatewayHost host, HttpMethod method, string path, string origin, string? json = null, string? bearer = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Origin", origin);
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return await host.Client.SendAsync(request);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static HashSet<string> List(HttpResponseMessage response, string name) =>
        (Header(response, name) ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static void AssertAllowed(HttpResponseMessage preflight, string origin, string method, IEnumerable<string> headers, string what)
    {
        Assert.AreEqual(HttpStatusCode.NoContent, preflight.StatusCode, $"{what}: the preflight is answered by CORS, not turned into a 405");
        Assert.AreEqual(origin, Header(preflight, "Access-Control-Allow-Origin"), $"{what}: the configured origin, never '*'");
        Assert.IsTrue(List(preflight, "Access-Control-Allow-Methods").Contains(method), $"{what}: {method} allowed");
        var allowed = List(preflight, "Access-Control-Allow-Headers");
        var missing = headers.Where(h => !allowed.Contains(h)).ToList();
        Assert.IsEmpty(missing, $"{what}: request headers not allowed: {string.Join(", ", missing)}");
        Assert.AreEqual("7200", Header(preflight, "Access-Control-Max-Age"), $"{what}: preflights are cached");
        Assert.IsNull(Header(preflight, "Access-Control-Allow-Credentials"), $"{what}: no cookies: the API authenticates by header");
    }

    private static void AssertNoCors(HttpResponseMessage response, string what)
    {
        var cors = response.Headers.Where(h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase)).Select(h => h.Key).ToList();
        Assert.IsEmpty(cors, $"{what}: no CORS header expected, got {string.Join(", ", cors)}");
    }

    [TestMethod]
    public async Task Preflight_FromAConfiguredOrigin_IsAllowed_OnGatewayWrapperAndManagementRoutes_WithTheHeadersClientsSend()
    {
        await using var host = await StartAsync((SettingNames.CorsOrigin, $"{App}, {Admin}/"));

        AssertAllowed(await PreflightAsync(host, "v1/chat", App, "POST", GatewayHeaders), App, "POST", GatewayHeaders, "/v1/chat");
        AssertAllowed(await PreflightAsync(host, "v1/chat", Admin, "POST", GatewayHeaders), Admin, "POST", GatewayHeaders, "/v1/chat, second origin");
        AssertAllowed(await PreflightAsync(host, "api/projects/prj_123", App, "PATCH", DashboardHeaders), App, "PATCH", DashboardHeaders, "PATCH /api/projects/{id}");
        AssertAllowed(await PreflightAsync(host, "api/workspaces/ws_1", App, "DELETE", DashboardHeaders), App, "DELETE", DashboardHeaders, "DELETE /api/workspaces/{id}");
        AssertAllowed(await PreflightAsync(host, "api/workspaces/ws_1/pricing", App, "PUT", DashboardHeaders), App, "PUT", DashboardHeaders, "PUT …/pricing");
        AssertAllowed(await PreflightAsync(host, "api/auth/login", App, "POST", ["content-type"]), App, "POST", ["content-type"], "/api/auth/login");
        AssertAllowed(await PreflightAsync(host, "v1/openai/chat/completions", App, "POST", OpenAISdkHeaders), App, "POST", OpenAISdkHeaders, "OpenAI SDK");
        AssertAllowed(await PreflightAsync(host, "v1/anthropic/v1/messages", App, "POST", AnthropicSdkHeaders), App, "POST", AnthropicSdkHeaders, "Anthropic SDK");
        AssertAllowed(await PreflightAsync(host, "v1/gemini/v1beta/models/gemini-2.0-flash:generateContent", App, "POST", GeminiSdkHeaders), App, "POST",
            GeminiSdkHeaders, "Google Gen AI SDK");
    }

    [TestMethod]
    public async Task RealRequests_FromAConfiguredOrigin_CarryAllowOriginAndExposeTheHeadersClientsRead_ErrorsIncluded()
    {
        await using var host = await StartAsync((SettingNames.CorsOrigin, App));

        var signup = await FromOriginAsync(host, HttpMethod.Post, "api/auth/signup", App,
            JsonSerializer.Serialize(new { email = $"cors-{Guid.NewGuid():N}@example.com", password = "correct horse battery" }));
        Assert.AreEqual(HttpStatusCode.Created, signup.StatusCode, await signup.Content.ReadAsStringAsync());
        Assert.AreEqual(App, Header(signup, "Access-Control-Allow-Origin"));
        var exposed = List(signup, "Access-Control-Expose-Headers");
        foreach (var header in new[] { "x-killtoken-metrics", "x-request-id", "retry-after", "x-should-retry" })
        {
            Assert.IsTrue(exposed.Contains(header), $"{header} is readable by the page; exposed: {string.Join(", ", exposed)}");
        }

        // A page must be able to read the error it got, with its code and request id.
        var unauthenticated = await FromOriginAsync(host, HttpMethod.Post, "v1/chat", App, "{}");
        Assert.AreEqual(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        Assert.AreEqual(App, Header(unauthenticated, "Access-Control-Allow-Origin"), "a 401 from the gateway");
        var notFound = await FromOriginAsync(host, HttpMethod.Get, "api/nothing-here", App);
        Assert.AreEqual(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.AreEqual(App, Header(notFound, "Access-Control-Allow-Origin"), "a 404 written by the status-code pages");
        StringAssert.Contains(await notFound.Content.ReadAsStringAsync(), "not_found");

        // A plain OPTIONS (no preflight headers) is still the contract's 405 with its body.
        using var options = new HttpRequestMessage(HttpMethod.Options, "v1/chat");
        var plain = await host.Client.SendAsync(options);
        Assert.AreEqual(HttpStatusCode.MethodNotAllowed, plain.StatusCode);
        StringAssert.Contains(await plain.Content.ReadAsStringAsync(), "method_not_allowed");
    }

    [TestMethod]
    public async Task AnotherOrigin_GetsNoAllowOrigin_OnPreflightOrRequest_WhileTheConfiguredOneDoes()
    {
        await using var host = await StartAsync((SettingNames.CorsOrigin, App));

        AssertAllowed(await PreflightAsync(host, "v1/chat", App, "POST", GatewayHeaders), App, "POST", GatewayHeaders, "the configured origin");
        foreach (var other in new[] { "https://evil.example", "http://app.example.com", "https://app.example.com:8443", "https://app.example.com.evil.example", "null" })
        {
            var preflight = await PreflightAsync(host, "v1/chat", other, "POST", GatewayHeaders);
            Assert.IsNull(Header(preflight, "Access-Control-Allow-Origin"), $"preflight from {other}");
            Assert.IsNull(Header(preflight, "Access-Control-Allow-Headers"), $"preflight from {other}");

            var request = await FromOriginAsync(host, HttpMethod.Get, "health", other);
            Assert.AreEqual(HttpStatusCode.OK, request.StatusCode);
            Assert.IsNull(Header(request, "Access-Control-Allow-Origin"), $"request from {other}");
            Assert.IsNull(Header(request, "Access-Control-Expose-Headers"), $"request from {other}");
        }
    }

    [TestMethod]
    public async Task WithFrontendUrlOnly_ItsOriginIsAllowed()
    {
        await using var host = await StartAsync((SettingNames.FrontendUrl, "https://App.Example.com/console/"));

        AssertAllowed(await PreflightAsync(host, "api/projects/prj_1", App, "PATCH", DashboardHeaders), App, "PATCH", DashboardHeaders, "FRONTEND_URL's origin");
        Assert.IsNull(Header(await PreflightAsync(host, "api/projects/prj_1", "https://other.example.com", "PATCH", DashboardHeaders), "Access-Control-Allow-Origin"));
        Assert.IsNull(Header(await FromOriginAsync(host, HttpMethod.Get, "health", "https://other.example.com"), "Access-Control-Allow-Origin"));
    }

    [TestMethod]
    public async Task CorsOrigin_WinsOverFrontendUrl()
    {
        await using var host = await StartAsync((SettingNames.FrontendUrl, "https://dashboard.example.com"), (SettingNames.CorsOrigin, App));

        Assert.AreEqual(App, Header(await FromOriginAsync(host, HttpMethod.Get, "health", App), "Access-Control-Allow-Origin"));
        Assert.IsNull(Header(await FromOriginAsync(host, HttpMethod.Get, "health", "https://dashboard.example.com"), "Access-Control-Allow-Origin"));
    }

    /// <summary>The embedded default: no setting, no CORS header on any answer; a preflight is the 405 of any unmapped method.</summary>
    [TestMethod]
    public async Task NeitherSetting_NoCorsHeadersAtAll()
    {
        await using var host = await GatewayHost.StartAsync();

        var preflight = await PreflightAsync(host, "v1/chat", App, "POST", GatewayHeaders);
        Assert.AreEqual(HttpStatusCode.MethodNotAllowed, preflight.StatusCode);
        AssertNoCors(preflight, "preflight");
        AssertNoCors(await PreflightAsync(host, "api/projects/prj_1", App, "PATCH", DashboardHeaders), "management preflight");
        AssertNoCors(await FromOriginAsync(host, HttpMethod.Get, "health", App), "request");
        AssertNoCors(await FromOriginAsync(host, HttpMethod.Post, "v1/chat", App, "{}"), "error");
    }

    [TestMethod]
    public async Task Star_StopsStartUp_NamingTheSetting()
    {
        foreach (var value in new[] { "*", $"{App}, *", "https://*.example.com" })
        {
            var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => StartAsync((SettingNames.CorsOrigin, value)),
                $"CORS_ORIGIN={value} must not start");
            StringAssert.Contains(error.Message, "CORS_ORIGIN");
            StringAssert.Contains(error.Message, "refused");
        }
    }

    [TestMethod]
    public void BadOrigins_AreAllReportedAtOnce_EachNamingTheSetting()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => Read(
            (SettingNames.CorsOrigin, "app.example.com, https://app.example.com/dashboard, ftp://files.example.com, null, https://user:secret@app.example.com, https://app.example.com?x=1"),
            (SettingNames.FrontendUrl, "app.example.com")));

        foreach (var entry in new[] { "'app.example.com'", "'https://app.example.com/dashboard'", "'ftp://files.example.com'", "'null'", "an entry with user info (user@host)", "'https://app.example.com?x=1'" })
        {
            StringAssert.Contains(error.Message, $"CORS_ORIGIN: {entry} is not an origin");
        }

        StringAssert.Contains(error.Message, "FRONTEND_URL must be the absolute http(s) URL");
        Assert.IsFalse(error.Message.Contains("secret", StringComparison.Ordinal), "user info is never repeated");
        Assert.ThrowsExactly<InvalidOperationException>(() => Read((SettingNames.CorsOrigin, " , ")));
    }

    [TestMethod]
    public void Origins_AreNormalizedAsBrowsersWriteThem()
    {
        var settings = Read((SettingNames.CorsOrigin, "HTTPS://App.Example.com:443/, http://localhost:5173,https://app.example.com, http://[::1]:8080, https://bücher.example"));

        CollectionAssert.AreEqual(
            new[] { App, "http://localhost:5173", "http://[::1]:8080", "https://xn--bcher-kva.example" },
            settings.Cors.Origins.ToArray());
        Assert.AreEqual(SettingNames.CorsOrigin, settings.Cors.Source);
        Assert.IsFalse(Read().Cors.IsEnabled, "nothing set: no CORS");
        Assert.AreEqual(SettingNames.FrontendUrl, Read((SettingNames.FrontendUrl, "http://localhost:7071")).Cors.Source);
    }

    /// <summary>The Functions host applies CORS itself (local Host.CORS, siteConfig.cors in Azure); neither may be '*'.</summary>
    [TestMethod]
    public void FunctionsHost_CorsIsNeverAStar_AndAzureGetsTheSameList()
    {
        var root = Repository.Root;
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "local.settings.sample.json")));
        var hostCors = sample.RootElement.GetProperty("Host").GetProperty("CORS").GetString() ?? string.Empty;
        Assert.IsFalse(hostCors.Contains('*', StringComparison.Ordinal), "local.settings.sample.json Host.CORS must not be '*'");
        var values = sample.RootElement.GetProperty("Values");
        Assert.AreEqual(values.GetProperty(SettingNames.CorsOrigin).GetString(), hostCors,
            "Host.CORS (what `func start` applies) lists the same origins as CORS_ORIGIN");
        Read((SettingNames.CorsOrigin, hostCors), (SettingNames.FrontendUrl, values.GetProperty(SettingNames.FrontendUrl).GetString()!));

        var api = File.ReadAllText(Path.Combine(root, "infra", "app", "api.bicep"));
        var main = File.ReadAllText(Path.Combine(root, "infra", "main.bicep"));
        StringAssert.Contains(api, "allowedOrigins: corsAllowedOrigins");
        StringAssert.Contains(api, "supportCredentials: false");
        StringAssert.Contains(main, "corsAllowedOrigins: corsAllowedOrigins");
    }

    private static KillTokenSettings Read(params (string Name, string Value)[] settings)
    {
        var values = settings.ToDictionary(s => s.Name, s => (string?)s.Value);
        values[SettingNames.DataDir] = Path.Combine(Path.GetTempPath(), "killtoken-tests", Guid.NewGuid().ToString("N"));
        return KillTokenSettings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }
}
