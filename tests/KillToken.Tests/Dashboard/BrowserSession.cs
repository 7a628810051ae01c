using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// One browser context (one person's browser) on a gateway: its first page, and what every page of it did — console
/// errors and uncaught exceptions (a test fails on any: "no console errors on any page"), every request URL, and the
/// screenshots taken, which are attached to the test result.
/// </summary>
internal sealed class BrowserSession : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _problems = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly List<Regex> _allowedConsoleErrors = [];
    private readonly HashSet<IPage> _watched = [];
    private readonly TestContext _test;
    private int _screenshots;

    private BrowserSession(IBrowserContext context, Uri baseAddress, TestContext test, string who)
    {
        Context = context;
        BaseAddress = baseAddress;
        _test = test;
        Who = who;
    }

    public IBrowserContext Context { get; }
    public Uri BaseAddress { get; }
    public string Who { get; }
    public IPage Page { get; private set; } = null!;

    /// <summary>Every URL any page of this context requested, in order (documents, scripts, styles, fetches, images).</summary>
    public IReadOnlyList<string> RequestUrls => [.. _requests];

    /// <summary>Console errors and uncaught page errors, each with the page it happened on.</summary>
    public IReadOnlyList<string> Problems => [.. _problems];

    public static async Task<BrowserSession> StartAsync(IBrowserContext context, Uri baseAddress, TestContext test, string who)
    {
        var session = new BrowserSession(context, baseAddress, test, who);
        context.Request += (_, request) => session._requests.Enqueue(request.Url);
        context.Page += (_, page) => session.Watch(page);
        session.Page = await context.NewPageAsync();
        session.Watch(session.Page);
        return session;
    }

    /// <summary>
    /// A console error the test itself causes on purpose (the browser logs every 401 response it fetched as
    /// "Failed to load resource…"); everything else still fails the test.
    /// </summary>
    public void AllowConsoleError(Regex pattern)
    {
        lock (_allowedConsoleErrors)
        {
            _allowedConsoleErrors.Add(pattern);
        }
    }

    private void Watch(IPage page)
    {
        lock (_watched)
        {
            if (!_watched.Add(page))
            {
                return;
            }
        }

        page.Console += (_, message) =>
        {
            if (message.Type != "error")
            {
                return;
            }

            // The text with where it came from: a failed resource names its URL only there.
            var text = message.Text + (message.Location is { Length: > 0 } l ? $" (at {l})" : "");
            lock (_allowedConsoleErrors)
            {
                if (_allowedConsoleErrors.Any(p => p.IsMatch(text)))
                {
                    return;
                }
            }

            _problems.Enqueue($"[{Who}] console error on {SafeUrl(page)}: {text}");
        };
        page.PageError += (_, error) => _problems.Enqueue($"[{Who}] uncaught error on {SafeUrl(page)}: {error}");
        page.Crash += (_, _) => _problems.Enqueue($"[{Who}] the page crashed: {SafeUrl(page)}");
    }

    private static string SafeUrl(IPage page)
    {
        try
        {
            return page.Url;
        }
        catch (PlaywrightException)
        {
            return "(closed page)";
        }
    }

    /// <summary>Fails when any page logged a console error or threw.</summary>
    public void AssertNoConsoleErrors() =>
        Assert.IsEmpty(Problems, "no console errors on any page:\n" + string.Join("\n", Problems));

    /// <summary>
    /// A full-page screenshot of <see cref="Page"/>, attached to the test result (screenshots/ in the results folder); with
    /// <paramref name="docsName"/> it is also copied to <c>$KILLTOKEN_SCREENSHOTS_DIR/{docsName}.png</c> when that is set.
    /// </summary>
    public Task<string> ScreenshotAsync(string name, string? docsName = null) => ScreenshotAsync(Page, name, docsName);

    public async Task<string> ScreenshotAsync(IPage page, string name, string? docsName = null)
    {
        var folder = Path.Combine(_test.TestResultsDirectory is { Length: > 0 } results ? results : Path.Combine(Path.GetTempPath(), "killtoken-test-results"), "screenshots");
        Directory.CreateDirectory(folder);
        var number = Interlocked.Increment(ref _screenshots);
        var file = Path.Combine(folder, $"{_test.TestName}-{Who}-{number:00}-{name}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true, Animations = ScreenshotAnimations.Disabled });
        _test.AddResultFile(file);
        if (docsName is not null && Environment.GetEnvironmentVariable(DashboardBrowser.ScreenshotsVariable) is { Length: > 0 } docs)
        {
            Directory.CreateDirectory(docs);
            File.Copy(file, Path.Combine(docs, docsName + ".png"), overwrite: true);
        }

        return file;
    }

    public async ValueTask DisposeAsync()
    {
        // What the page showed and logged last: the picture and the log of a failed step.
        foreach (var problem in Problems)
        {
            _test.WriteLine(problem);
        }

        try
        {
            foreach (var page in Context.Pages.Where(p => !p.IsClosed))
            {
                await ScreenshotAsync(page, "last");
            }
        }
        catch (PlaywrightException)
        {
        }

        try
        {
            await Context.CloseAsync();
        }
        catch (PlaywrightException)
        {
            // The browser already went away; nothing left to close.
        }
    }
}
