using Microsoft.Playwright;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// One Playwright driver and one headless Chromium (Debian's <c>chromium</c>; Playwright's own browser download does
/// not work here), shared by the tests of a class and closed by its cleanup. Each test opens its own
/// <see cref="BrowserSession"/> (a fresh browser context: no cookies, no storage).
/// </summary>
internal sealed class DashboardBrowser : IAsyncDisposable
{
    /// <summary>The Chromium executable; <c>/usr/bin/chromium</c> unless this variable names another.</summary>
    public const string ChromiumVariable = "KILLTOKEN_CHROMIUM";

    /// <summary>When set, every screenshot a test marks as the page's picture is also copied there as <c>{name}.png</c>.</summary>
    public const string ScreenshotsVariable = "KILLTOKEN_SCREENSHOTS_DIR";

    /// <summary>How long an expectation waits for the page (auto-waiting assertions, no fixed sleeps).</summary>
    public const float ExpectTimeoutMs = 15_000;

    private static readonly string[] Arguments =
    [
        "--no-sandbox", // the tests run as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        // Without these Chromium reaches out to Google (component updates, safe browsing lists, sync).
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];

    private DashboardBrowser(IPlaywright playwright, IBrowser browser)
    {
        Playwright = playwright;
        Browser = browser;
    }

    public IPlaywright Playwright { get; }
    public IBrowser Browser { get; }

    public static string ChromiumPath => Environment.GetEnvironmentVariable(ChromiumVariable) is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static async Task<DashboardBrowser> LaunchAsync()
    {
        Assertions.SetDefaultExpectTimeout(ExpectTimeoutMs);
        if (!File.Exists(ChromiumPath))
        {
            Assert.Fail($"No Chromium at {ChromiumPath}: install Debian's chromium (apt-get install chromium) or set {ChromiumVariable}.");
        }

        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = Arguments,
                Timeout = 60_000,
            });
            return new DashboardBrowser(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A fresh context on <paramref name="baseAddress"/> with clipboard access, recording what its pages do.</summary>
    public async Task<BrowserSession> OpenAsync(Uri baseAddress, TestContext test, string who = "user", int width = 1280, int height = 900)
    {
        var origin = baseAddress.GetLeftPart(UriPartial.Authority);
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = origin,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-US",
            TimezoneId = "UTC", // the API's days are UTC days
            ServiceWorkers = ServiceWorkerPolicy.Block,
        });
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new BrowserContextGrantPermissionsOptions { Origin = origin });
        context.SetDefaultTimeout(ExpectTimeoutMs);
        context.SetDefaultNavigationTimeout(30_000);
        return await BrowserSession.StartAsync(context, baseAddress, test, who);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Browser.CloseAsync();
        }
        finally
        {
            Playwright.Dispose();
        }
    }
}
