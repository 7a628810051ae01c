using System.Text.RegularExpressions;
using KillToken.Tests.Functions;
using Microsoft.Playwright;
using static KillToken.Tests.Dashboard.DashboardUi;
using static Microsoft.Playwright.Assertions;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// The dashboard in a browser as the Azure Functions host serves it (the built worker under the Functions test host):
/// sign up, a project and its key shown once, an invite link opened in another browser — with no console error and
/// nothing fetched from anywhere but the app. The full journeys run on the self-host (<see cref="DashboardJourneyTests"/>).
/// </summary>
[TestClass]
public sealed class FunctionsHostBrowserTests
{
    private static DashboardBrowser _browser = null!;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _browser = await DashboardBrowser.LaunchAsync();

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task OnTheFunctionsHost_SignUp_AProjectKeyShownOnce_AndAnInviteLinkOpens()
    {
        await using var host = await HostUnderTest.StartAsync(HostKind.Functions, new Dictionary<string, string?>());
        var baseAddress = host.Client.BaseAddress!;
        await using var owner = await _browser.OpenAsync(baseAddress, TestContext, "owner");
        await using var guest = await _browser.OpenAsync(baseAddress, TestContext, "guest");
        var page = owner.Page;

        var document = await page.GotoAsync("/");
        Assert.IsNotNull(document);
        Assert.AreEqual(200, document.Status);
        var policy = await document.HeaderValueAsync("content-security-policy");
        Assert.IsFalse(string.IsNullOrEmpty(policy), "the Functions host sends the Content-Security-Policy too");
        Assert.DoesNotContain("'unsafe-inline'", policy.Split(';').FirstOrDefault(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)) ?? policy);
        await CreateAccountAsync(page, "Fran Functions", NewEmail("functions"));

        await GoToAsync(page, "Projects");
        await Button(page, "New project").ClickAsync();
        await Label(page, "Project name").FillAsync("Serverless bot");
        await Button(page, "Create project").ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        var key = ApiKeyPattern().Match(await dialog.GetByText(ApiKeyPattern()).InnerTextAsync()).Value;
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        await ReloadAsync(page, "Projects");
        await Expect(Row(Table(page, "Projects"), "Serverless bot")).ToHaveCountAsync(1);
        await AssertNowhereOnPageAsync(page, key, "the API key after \"Done\" and a reload");
        await owner.ScreenshotAsync("functions-projects");

        var inviteeEmail = NewEmail("guest");
        await GoToAsync(page, "Team");
        await Label(page, "Email").FillAsync(inviteeEmail);
        await Label(page, "Role").SelectOptionAsync("member");
        await Button(page, "Send invite").ClickAsync();
        var linkText = page.GetByText(new Regex(@"/invites/[A-Za-z0-9_-]{16,}"));
        await Expect(linkText.First).ToBeVisibleAsync();
        var link = Regex.Match(await linkText.First.InnerTextAsync(), @"\S+/invites/[A-Za-z0-9_-]{16,}").Value;

        await guest.Page.GotoAsync(link);
        await Expect(guest.Page.GetByRole(AriaRole.Heading, new() { NameRegex = new Regex("^Join ") })).ToBeVisibleAsync();
        await Expect(Label(guest.Page, "Email")).ToHaveValueAsync(inviteeEmail);
        await guest.ScreenshotAsync("functions-invite");

        var origin = baseAddress.GetLeftPart(UriPartial.Authority) + "/";
        foreach (var session in new[] { owner, guest })
        {
            var elsewhere = session.RequestUrls.Where(u => !u.StartsWith(origin, StringComparison.Ordinal) && !u.StartsWith("data:", StringComparison.Ordinal) && !u.StartsWith("blob:", StringComparison.Ordinal)).ToList();
            Assert.IsEmpty(elsewhere, $"{session.Who} fetched from elsewhere: " + string.Join("\n", elsewhere));
            session.AssertNoConsoleErrors();
        }
    }
}
