using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// The dashboard as a person meets it, by the accessible names of <c>notes/dashboard-spec.md</c> (the contract between
/// the UI and these tests): headings, labels, button and link names, table captions.
/// </summary>
internal static partial class DashboardUi
{
    public const string Password = "correct horse battery";

    /// <summary>The nav links, in the spec's order; each page's h1 is the same text.</summary>
    public static readonly string[] Pages = ["Overview", "Analytics", "Projects", "Provider credentials", "Requests", "Savings & ROI", "Team", "Settings"];

    /// <summary>Stable file names of each page's picture in docs/screenshots.</summary>
    public static string DocsName(string page) => page switch
    {
        "Provider credentials" => "credentials",
        "Savings & ROI" => "savings",
        _ => page.ToLowerInvariant(),
    };

    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    [GeneratedRegex(@"kt_live_[A-Za-z0-9]{32,}")]
    public static partial Regex ApiKeyPattern();

    public static ILocator Nav(IPage page) => page.GetByRole(AriaRole.Navigation, new() { Name = "Main", Exact = true });

    public static ILocator NavLink(IPage page, string name) => Nav(page).GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    public static ILocator H1(IPage page, string text) => page.GetByRole(AriaRole.Heading, new() { Name = text, Exact = true, Level = 1 });

    public static ILocator Heading(IPage page, string text) => page.GetByRole(AriaRole.Heading, new() { Name = text, Exact = true });

    public static ILocator Button(IPage page, string name) => page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    public static ILocator Label(IPage page, string label) => page.GetByLabel(label, new() { Exact = true });

    public static ILocator Table(IPage page, string caption) => page.GetByRole(AriaRole.Table, new() { Name = caption, Exact = true });

    /// <summary>The body rows of a table that contain <paramref name="text"/>.</summary>
    public static ILocator Row(ILocator table, string text) => table.GetByRole(AriaRole.Row).Filter(new() { HasText = text });

    public static ILocator Alert(IPage page) => page.GetByRole(AriaRole.Alert);

    public static ILocator WorkspaceSelect(IPage page) => page.GetByLabel("Workspace", new() { Exact = true });

    /// <summary>Waits until no "Loading…" status is left on the page.</summary>
    public static Task LoadedAsync(IPage page) => Expect(page.GetByText("Loading…", new() { Exact = true })).ToHaveCountAsync(0);

    /// <summary>Follows the nav link <paramref name="name"/> and waits for that page's h1 and its data.</summary>
    public static async Task GoToAsync(IPage page, string name)
    {
        await NavLink(page, name).ClickAsync();
        await Expect(H1(page, name)).ToBeVisibleAsync();
        await Expect(NavLink(page, name)).ToHaveAttributeAsync("aria-current", "page");
        await LoadedAsync(page);
    }

    /// <summary>Reloads the page and waits for the h1 <paramref name="name"/> and its data again.</summary>
    public static async Task ReloadAsync(IPage page, string name)
    {
        await page.ReloadAsync();
        await Expect(H1(page, name)).ToBeVisibleAsync();
        await LoadedAsync(page);
    }

    /// <summary>On the signed-out page: "Create an account", fill the form, "Create account"; a new account lands on the Overview.</summary>
    public static async Task CreateAccountAsync(IPage page, string name, string email, string password = Password)
    {
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        await Button(page, "Create an account").ClickAsync();
        await Expect(Heading(page, "Create your account")).ToBeVisibleAsync();
        await Label(page, "Name").FillAsync(name);
        await Label(page, "Email").FillAsync(email);
        await Label(page, "Password").FillAsync(password);
        await Button(page, "Create account").ClickAsync();
        await Expect(H1(page, "Overview")).ToBeVisibleAsync(); // (at phone width the nav may sit behind a menu button)
        await LoadedAsync(page);
    }

    /// <summary>Opens the dashboard signed out and creates an account there.</summary>
    public static async Task SignUpAsync(BrowserSession session, string name, string email, string password = Password)
    {
        await session.Page.GotoAsync("/");
        await CreateAccountAsync(session.Page, name, email, password);
    }

    /// <summary>On the signed-out page: fill the sign-in form, "Sign in"; ends on the shell (on whichever page the URL names).</summary>
    public static async Task SignInAsync(IPage page, string email, string password = Password)
    {
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        await Label(page, "Email").FillAsync(email);
        await Label(page, "Password").FillAsync(password);
        await Button(page, "Sign in").ClickAsync();
        await Expect(Nav(page)).ToBeVisibleAsync();
        await Expect(Heading(page, "Sign in")).ToHaveCountAsync(0);
    }

    /// <summary>The session token the app keeps (<c>localStorage["killtoken.session"]</c>), or null.</summary>
    public static Task<string?> SessionTokenAsync(IPage page) =>
        page.EvaluateAsync<string?>("() => window.localStorage.getItem('killtoken.session')");

    /// <summary>The selected option's text of a select.</summary>
    public static ILocator SelectedOption(ILocator select) => select.Locator("option:checked");

    /// <summary>The text cells of each body row of a (possibly visually hidden) table.</summary>
    public static async Task<List<string[]>> RowsAsync(ILocator table)
    {
        var rows = await table.EvaluateAsync<string[][]>(
            "t => Array.from(t.querySelectorAll('tr')).filter(r => r.querySelector('td')).map(r => Array.from(r.querySelectorAll('th,td')).map(c => c.textContent.trim()))");
        return [.. rows];
    }

    /// <summary>The column headers of a table (the cells of its first row without data cells).</summary>
    public static Task<string[]> HeadersAsync(ILocator table) => table.EvaluateAsync<string[]>(
        "t => Array.from(Array.from(t.querySelectorAll('tr')).find(r => !r.querySelector('td'))?.querySelectorAll('th') ?? []).map(c => c.textContent.trim())");

    /// <summary>
    /// Fails when <paramref name="secret"/> is anywhere a person or a script on the page could read it: the DOM (text
    /// and attributes), the values of form fields, localStorage and sessionStorage.
    /// </summary>
    public static async Task AssertNowhereOnPageAsync(IPage page, string secret, string what)
    {
        var html = await page.ContentAsync();
        Assert.DoesNotContain(secret, html, $"{what} is still in the page's DOM ({page.Url})");
        var elsewhere = await page.EvaluateAsync<string>(
            "() => JSON.stringify([Array.from(document.querySelectorAll('input,textarea')).map(e => e.value), Object.entries(localStorage), Object.entries(sessionStorage)])");
        Assert.DoesNotContain(secret, elsewhere, $"{what} is still in a form field or in the page's storage ({page.Url})");
    }

    /// <summary>Fails when the page scrolls sideways (names the elements that stick out).</summary>
    public static async Task AssertNoHorizontalScrollAsync(IPage page, string what) =>
        Assert.AreEqual("", await SidewaysScrollAsync(page), $"{what} scrolls horizontally at {page.ViewportSize?.Width}px");

    /// <summary>Empty when the page does not scroll sideways; else the widths and the elements that stick out.</summary>
    public static async Task<string> SidewaysScrollAsync(IPage page)
    {
        return await page.EvaluateAsync<string>("""
            () => {
              const width = window.innerWidth, scroll = document.scrollingElement.scrollWidth;
              if (scroll <= width + 1) return "";
              const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
              const wide = Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > width + 1 && !clipped(e))
                .slice(0, 5)
                .map(e => `<${e.tagName.toLowerCase()}${e.className ? ' class="' + e.className + '"' : ''}> right=${Math.round(e.getBoundingClientRect().right)}`);
              return `scrollWidth ${scroll} > innerWidth ${width}; sticking out: ${wide.join('; ')}`;
            }
            """);
    }

    /// <summary>The visible inputs, selects and text areas that have no accessible name (no label, aria-label or aria-labelledby).</summary>
    public static async Task<string[]> UnlabelledControlsAsync(IPage page) => await page.EvaluateAsync<string[]>("""
        () => Array.from(document.querySelectorAll('input, select, textarea'))
          .filter(e => e.type !== 'hidden' && e.getClientRects().length > 0)
          .filter(e => !(Array.from(e.labels || []).some(l => l.textContent.trim())
                         || (e.getAttribute('aria-label') || '').trim()
                         || (e.getAttribute('aria-labelledby') || '').split(/\s+/).some(id => id && document.getElementById(id)?.textContent.trim())))
          .map(e => e.outerHTML.slice(0, 160))
        """);
}
