using System.Net;
using System.Text.RegularExpressions;
using KillToken.Tests.Dashboard;
using KillToken.Tests.Functions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KillToken.Tests.ApiReference;

/// <summary>
/// The API reference page at <c>/docs</c> (Scalar, served by the gateway itself) and <c>/llms.txt</c>: in a browser the
/// page renders this gateway's operations with nothing fetched from any other origin; both hosts serve the same files.
/// </summary>
[TestClass]
public sealed class ApiReferencePageTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task TheReferencePage_RendersTheOperations_WithNothingFromAnotherOrigin()
    {
        await using var host = await GatewayHost.StartAsync();
        await using var browser = await DashboardBrowser.LaunchAsync();
        await using var session = await browser.OpenAsync(host.BaseAddress, TestContext);

        var page = await session.Page.GotoAsync("/docs");
        Assert.AreEqual(200, page!.Status);
        var sidebar = session.Page.GetByRole(AriaRole.Complementary);
        await Expect(sidebar.GetByRole(AriaRole.Link, new() { Name = "Provider credentials" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await sidebar.GetByRole(AriaRole.Button, new() { Name = "Open Group - Gateway" }).ClickAsync();
        await Expect(sidebar.GetByRole(AriaRole.Link, new() { NameRegex = new Regex("^One model call through the gateway") })).ToBeVisibleAsync();
        await Expect(session.Page.GetByRole(AriaRole.Button, new() { Name = "Ask AI" })).ToHaveCountAsync(0); // Scalar's service, not ours
        await session.ScreenshotAsync("api-reference");

        var origin = host.BaseAddress.GetLeftPart(UriPartial.Authority);
        var elsewhere = session.RequestUrls.Where(u => !u.StartsWith(origin, StringComparison.Ordinal) && !u.StartsWith("data:", StringComparison.Ordinal)).ToList();
        Assert.IsEmpty(elsewhere, "requests to other origins:\n" + string.Join("\n", elsewhere));
        CollectionAssert.Contains(session.RequestUrls.ToList(), origin + "/openapi/v1.json");
        session.AssertNoConsoleErrors();
    }

    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task TheReferencePage_ItsScript_AndLlmsTxt_AreServed(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>());
        var client = host.Client;

        using var page = await client.GetAsync("docs");
        Assert.AreEqual(HttpStatusCode.OK, page.StatusCode);
        Assert.AreEqual("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        StringAssert.Contains(html, "<script src=\"/docs/scalar.js\"></script>");
        Assert.DoesNotMatchRegex(new Regex("(src|href)=\"https?://"), html, "nothing loaded from another origin");
        var policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        StringAssert.Contains(policy, "script-src 'self';");
        StringAssert.Contains(policy, "connect-src 'self';");

        // Scalar's bundle: compressed for a browser, plain for a client that does not take gzip.
        using var gzipRequest = new HttpRequestMessage(HttpMethod.Get, "docs/scalar.js");
        gzipRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        using var gzipped = await client.SendAsync(gzipRequest);
        Assert.AreEqual(HttpStatusCode.OK, gzipped.StatusCode);
        CollectionAssert.Contains(gzipped.Content.Headers.ContentEncoding.ToList(), "gzip");
        var compressedLength = (await gzipped.Content.ReadAsByteArrayAsync()).Length;
        var plain = await client.GetStringAsync("docs/scalar.js");
        StringAssert.Contains(plain, "createApiReference");
        Assert.IsGreaterThan(compressedLength * 2, plain.Length);

        foreach (var missing in new[] { "docs/index.html", "docs/llms.txt", "docs/nothing.js" })
        {
            using var response = await client.GetAsync(missing);
            Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode, missing);
        }

        using var llms = await client.GetAsync("llms.txt");
        Assert.AreEqual(HttpStatusCode.OK, llms.StatusCode);
        Assert.AreEqual("text/markdown", llms.Content.Headers.ContentType?.MediaType);
        Assert.AreEqual(await File.ReadAllTextAsync(Path.Combine(Repository.Root, "llms.txt")), await llms.Content.ReadAsStringAsync());
    }
}
