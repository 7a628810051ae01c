using KillToken.Tests.TestInfrastructure;
using static Microsoft.Playwright.Assertions;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// The browser harness itself: Playwright's driver starts Debian's Chromium here, the gateway's pages open in it, and
/// a page that logs a console error is caught (so the "no console errors" checks of the journeys can fail).
/// </summary>
[TestClass]
public sealed class BrowserSmokeTests
{
    private static DashboardBrowser _browser = null!;
    private static GatewayHost _host = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _host = await GatewayHost.StartAsync();
        _browser = await DashboardBrowser.LaunchAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task Chromium_OpensTheGatewaysHealthAndInvitePages()
    {
        await using var session = await _browser.OpenAsync(_host.BaseAddress, TestContext);

        var health = await session.Page.GotoAsync("/health");
        Assert.AreEqual(200, health!.Status);

        var invite = await session.Page.GotoAsync("/invites/not-a-real-token");
        Assert.AreEqual(200, invite!.Status, "the invite page is served for any token; the page itself says the link is not valid");
        StringAssert.StartsWith(await invite.HeaderValueAsync("content-type") ?? "", "text/html");
        await Expect(session.Page.GetByText("Invite was not found")).ToBeVisibleAsync(); // the API's error.message, in words
        await session.ScreenshotAsync("invalid-invite");
        Assert.IsTrue(session.RequestUrls.All(u => u.StartsWith(_host.BaseAddress.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal)),
            string.Join("\n", session.RequestUrls));
    }

    [TestMethod]
    public async Task AConsoleErrorOnAPage_IsCaught()
    {
        await using var session = await _browser.OpenAsync(_host.BaseAddress, TestContext);
        await session.Page.GotoAsync("/health");

        await session.Page.EvaluateAsync("() => { console.error('planted by the test'); setTimeout(() => { throw new Error('thrown by the test'); }, 0); }");

        var deadline = DateTime.UtcNow.AddSeconds(10);
        // The page error event arrives after the script ran (and /health's favicon 404 may come first): wait for both.
        while (!(session.Problems.Any(p => p.Contains("planted by the test", StringComparison.Ordinal)) && session.Problems.Any(p => p.Contains("thrown by the test", StringComparison.Ordinal)))
               && DateTime.UtcNow < deadline)
        {
            await session.Page.WaitForTimeoutAsync(50);
        }

        Assert.IsTrue(session.Problems.Any(p => p.Contains("planted by the test", StringComparison.Ordinal)), string.Join("\n", session.Problems));
        Assert.IsTrue(session.Problems.Any(p => p.Contains("thrown by the test", StringComparison.Ordinal)), string.Join("\n", session.Problems));
        Assert.ThrowsExactly<AssertFailedException>(session.AssertNoConsoleErrors);
    }
}
