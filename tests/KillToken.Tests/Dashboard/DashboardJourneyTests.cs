using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using static KillToken.Tests.Dashboard.DashboardUi;
using static Microsoft.Playwright.Assertions;

namespace KillToken.Tests.Dashboard;

/// <summary>
/// Issue 16: the dashboard as people use it, in a real Chromium against the real gateway (SQLite) over a fake OpenAI.
/// Everything goes through the browser except the model traffic, which a backend sends with the project key over
/// HTTP. Every page visited is photographed (attached to the result; copied to <c>$KILLTOKEN_SCREENSHOTS_DIR</c> under
/// stable names), and no page may log a console error or throw.
/// </summary>
[TestClass]
public sealed class DashboardJourneyTests
{
    private const string ProviderSecret = "sk-dashboard-journey-secret-0123456789abcdef";

    private static DashboardBrowser _browser = null!;
    private static GatewayHost _host = null!;
    private static FakeUpstream _openai = null!;
    private static volatile int _completionTokens = 50;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(AnswerAsync);
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_PROVIDER_TIMEOUT_SECONDS"] = "30",
        });
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

        if (_openai is not null)
        {
            await _openai.DisposeAsync();
        }
    }

    /// <summary>The fake OpenAI: the model list for a credential test, else a chat completion of the model asked for.</summary>
    private static Task AnswerAsync(HttpContext context, UpstreamRequest request)
    {
        if (request.Method == "GET" && request.Path.EndsWith("/models", StringComparison.Ordinal))
        {
            return FakeUpstream.Json(new JsonObject
            {
                ["object"] = "list",
                ["data"] = new JsonArray(new JsonObject { ["id"] = "gpt-4o-mini", ["object"] = "model", ["created"] = 1721172741, ["owned_by"] = "system" }),
            })(context, request);
        }

        var model = request.Json["model"]?.GetValue<string>() ?? "gpt-4o-mini";
        return FakeUpstream.Json(Fixtures.OpenAIChatCompletion(model, prompt: 100, completion: _completionTokens))(context, request);
    }

    /// <summary>One call a backend makes with the project key (POST /v1/chat), answered with <paramref name="expectStatus"/>.</summary>
    private static async Task<JsonObject> ChatAsync(string apiKey, string model, int? maxTokens = null, int expectStatus = 200)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat")
        {
            Content = JsonContent.Create(new
            {
                provider = "openai",
                model,
                messages = new[] { new { role = "user", content = "Where is my order #1234?" } },
                metadata = new { feature = "order-status" },
                providerOptions = maxTokens is null ? null : new { max_tokens = maxTokens },
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await _host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(expectStatus, (int)response.StatusCode, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private Task<BrowserSession> OpenAsync(string who = "user", int width = 1280, int height = 900) =>
        _browser.OpenAsync(_host.BaseAddress, TestContext, who, width, height);

    private static ILocator StatusBadge(ILocator table, string project, string status) =>
        Row(table, project).GetByText(status, new() { Exact = true });

    [TestMethod]
    public async Task Journey_SignUp_Project_KeyShownOnce_Credential_Traffic_Requests_Overview_Budget_FallbackThenBlocked()
    {
        await using var session = await OpenAsync("owner");
        var page = session.Page;
        const string project = "Checkout assistant";

        // Sign up in the browser: an empty overview.
        await SignUpAsync(session, "Jordan Journey", NewEmail("journey"));
        await Expect(page.GetByText("No traffic yet. Send a request with a project key to see it here.")).ToBeVisibleAsync();
        await session.ScreenshotAsync("overview-empty");

        // A project: the key is shown once, copied, and gone for good after "Done".
        await GoToAsync(page, "Projects");
        await Expect(page.GetByText("No projects yet. Create one to get an API key.")).ToBeVisibleAsync();
        await Button(page, "New project").ClickAsync();
        await Label(page, "Project name").FillAsync(project);
        await Button(page, "Create project").ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Heading, new() { Name = "Your new API key", Exact = true })).ToBeVisibleAsync();
        await Expect(dialog.GetByText("Copy it now: you will not see this key again.")).ToBeVisibleAsync();
        var keyText = dialog.GetByText(ApiKeyPattern());
        await Expect(keyText).ToHaveCountAsync(1);
        var apiKey = ApiKeyPattern().Match(await keyText.InnerTextAsync()).Value;
        await session.ScreenshotAsync("project-key-dialog");

        await dialog.GetByRole(AriaRole.Button, new() { Name = "Copy key", Exact = true }).ClickAsync();
        await Expect(dialog.GetByText("Copied")).ToBeVisibleAsync();
        Assert.AreEqual(apiKey, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"), "\"Copy key\" puts exactly the key on the clipboard");

        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        var projects = Table(page, "Projects");
        await Expect(StatusBadge(projects, project, "Active")).ToBeVisibleAsync();
        await AssertNowhereOnPageAsync(page, apiKey, "the API key after \"Done\"");
        await ReloadAsync(page, "Projects");
        await Expect(StatusBadge(projects, project, "Active")).ToBeVisibleAsync();
        await AssertNowhereOnPageAsync(page, apiKey, "the API key after a reload");

        // A provider credential: openai with an API key (a password field), never shown back.
        await GoToAsync(page, "Provider credentials");
        await Expect(page.GetByText("No provider credentials yet.")).ToBeVisibleAsync();
        await Button(page, "Add credential").ClickAsync();
        await Label(page, "Provider").SelectOptionAsync("openai");
        await Label(page, "Label").FillAsync("Main OpenAI");
        await Expect(Label(page, "API key")).ToHaveAttributeAsync("type", "password");
        await Label(page, "API key").FillAsync(ProviderSecret);
        await Button(page, "Save credential").ClickAsync();
        var credentials = Table(page, "Credentials");
        await Expect(Row(credentials, "Main OpenAI")).ToHaveCountAsync(1);
        await Button(page, "Test Main OpenAI").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasTextRegex = new Regex("^Test passed") })).ToBeVisibleAsync();
        await session.ScreenshotAsync("credentials", DocsName("Provider credentials"));
        await AssertNowhereOnPageAsync(page, ProviderSecret, "the provider API key after saving");
        await ReloadAsync(page, "Provider credentials");
        await Expect(Row(credentials, "Main OpenAI")).ToHaveCountAsync(1);
        await AssertNowhereOnPageAsync(page, ProviderSecret, "the provider API key after a reload");

        // The requests page before any traffic.
        await GoToAsync(page, "Requests");
        await Expect(page.GetByText("No requests match.")).ToBeVisibleAsync();

        // A backend sends traffic with the key.
        _completionTokens = 50;
        var requestIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var answer = await ChatAsync(apiKey, "gpt-4o-mini");
            requestIds.Add(answer["metrics"]!["requestId"]!.GetValue<string>());
        }

        // It shows in the requests table once the filters are applied again, and the filters filter.
        await Button(page, "Apply filters").ClickAsync();
        foreach (var id in requestIds)
        {
            await Expect(Button(page, $"Details {id}")).ToBeVisibleAsync();
        }

        await Label(page, "Model").FillAsync("no-such-model");
        await Button(page, "Apply filters").ClickAsync();
        await Expect(page.GetByText("No requests match.")).ToBeVisibleAsync();
        await Label(page, "Model").FillAsync("gpt-4o-mini");
        await Label(page, "Project").SelectOptionAsync(new SelectOptionValue { Label = project });
        await Button(page, "Apply filters").ClickAsync();
        await Expect(Button(page, $"Details {requestIds[0]}")).ToBeVisibleAsync();
        await Expect(Table(page, "Requests").GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Details ") })).ToHaveCountAsync(requestIds.Count);
        await Button(page, $"Details {requestIds[0]}").ClickAsync();
        await Expect(Heading(page, $"Request {requestIds[0]}")).ToBeVisibleAsync();
        await Expect(page.GetByText("order-status").First).ToBeVisibleAsync();
        await session.ScreenshotAsync("requests", DocsName("Requests"));

        // The overview: today's row of the daily chart's data table counts the requests.
        await GoToAsync(page, "Overview");
        var chart = page.GetByRole(AriaRole.Figure, new() { Name = "Daily spend (30 days)", Exact = true });
        await Expect(chart.GetByRole(AriaRole.Img, new() { Name = "Daily spend (30 days)", Exact = true })).ToBeVisibleAsync();
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var data = chart.GetByRole(AriaRole.Table);
        await Expect(data).ToContainTextAsync(today);
        var rows = await RowsAsync(data);
        var headers = await HeadersAsync(data);
        var requestsColumn = Array.FindIndex(headers, h => h.Equals("Requests", StringComparison.OrdinalIgnoreCase));
        Assert.IsGreaterThanOrEqualTo(1, requestsColumn, $"a \"Requests\" column in the chart's table: {string.Join(" | ", headers)}");
        var todayRow = rows.FirstOrDefault(r => r.Length > requestsColumn && r[0].Contains(today, StringComparison.Ordinal));
        Assert.IsNotNull(todayRow, $"a row for {today} in the chart's table ({string.Join(" | ", headers)}): {string.Join(" / ", rows.Select(r => string.Join(" | ", r)))}");
        Assert.IsTrue(int.TryParse(todayRow[requestsColumn].Replace(",", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var requestsToday) && requestsToday >= 3,
            $"today's requests in the chart's table ({string.Join(" | ", headers)}): {string.Join(" | ", todayRow)}");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Requests (30 days)", Exact = true }).GetByText("3", new() { Exact = true })).ToBeVisibleAsync();
        var spendVsBudget = Table(page, "Spend vs budget");
        await Expect(StatusBadge(spendVsBudget, project, "Active")).ToBeVisibleAsync();

        // A daily budget of $1 with a fallback model, set on the Projects page.
        await GoToAsync(page, "Projects");
        await Button(page, $"Edit {project}").ClickAsync();
        await Label(page, "Daily budget (USD)").FillAsync("1");
        await Label(page, "Fallback model").FillAsync("gpt-4.1-mini");
        await Button(page, "Save changes").ClickAsync();
        await Expect(Row(projects, project)).ToContainTextAsync(new Regex(@"\$1(\.00)?\b"));

        // gpt-4.1 at $8/M output: 50,000 tokens = $0.40; two of them take the day past 80%.
        _completionTokens = 50_000;
        for (var i = 0; i < 2; i++)
        {
            var answer = await ChatAsync(apiKey, "gpt-4.1", maxTokens: 50_000);
            Assert.IsFalse(answer["metrics"]!["wasFallback"]!.GetValue<bool>(), "below 80% the requested model is used");
        }

        await ReloadAsync(page, "Projects");
        await Expect(StatusBadge(projects, project, "Fallback")).ToBeVisibleAsync();
        await session.ScreenshotAsync("projects", DocsName("Projects"));
        await GoToAsync(page, "Overview");
        await Expect(StatusBadge(spendVsBudget, project, "Fallback")).ToBeVisibleAsync();
        await session.ScreenshotAsync("overview", DocsName("Overview"));

        // The fallback model answers and takes the day to 100%; then calls are refused.
        _completionTokens = 125_000; // gpt-4.1-mini at $1.60/M output: $0.20
        var sawFallback = false;
        var blocked = false;
        for (var i = 0; i < 4 && !blocked; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat")
            {
                Content = JsonContent.Create(new { provider = "openai", model = "gpt-4.1", messages = new[] { new { role = "user", content = "One more?" } } }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await _host.Client.SendAsync(request);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            if ((int)response.StatusCode == 429)
            {
                Assert.AreEqual("budget_exceeded", body["error"]!["code"]!.GetValue<string>());
                blocked = true;
            }
            else
            {
                Assert.AreEqual(200, (int)response.StatusCode, body.ToJsonString());
                sawFallback |= body["metrics"]!["wasFallback"]!.GetValue<bool>();
            }
        }

        Assert.IsTrue(sawFallback, "past 80% the fallback model was used");
        Assert.IsTrue(blocked, "at 100% the calls are refused");
        await ReloadAsync(page, "Overview");
        await Expect(StatusBadge(spendVsBudget, project, "Blocked")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Blocked requests", Exact = true }).GetByText("1", new() { Exact = true })).ToBeVisibleAsync();
        await session.ScreenshotAsync("overview-blocked");
        await GoToAsync(page, "Projects");
        await Expect(StatusBadge(projects, project, "Blocked")).ToBeVisibleAsync();
        await session.ScreenshotAsync("projects-blocked");

        // The other pages, with this traffic (and their pictures).
        await GoToAsync(page, "Analytics");
        await Expect(Button(page, "Export CSV")).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Figure, new() { Name = "Spend by model", Exact = true })).ToBeVisibleAsync();
        await Expect(Table(page, "Models")).ToContainTextAsync("gpt-4.1-mini");
        await Expect(Table(page, "Projects")).ToContainTextAsync(project);
        await session.ScreenshotAsync("analytics", DocsName("Analytics"));
        var download = await page.RunAndWaitForDownloadAsync(() => Button(page, "Export CSV").ClickAsync());
        StringAssert.StartsWith(download.SuggestedFilename, "killtoken-usage-");
        StringAssert.EndsWith(download.SuggestedFilename, ".csv");
        var csvPath = Path.Combine(Path.GetTempPath(), $"killtoken-dashboard-{Guid.NewGuid():N}.csv");
        await download.SaveAsAsync(csvPath);
        var csv = await File.ReadAllTextAsync(csvPath);
        File.Delete(csvPath);
        StringAssert.Contains(csv, project, "the export holds the project's traffic");
        StringAssert.Contains(csv, "gpt-4.1-mini", "the export holds the fallback calls");

        await GoToAsync(page, "Savings & ROI");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Realized savings", Exact = true })).ToBeVisibleAsync();
        await Expect(Table(page, "Savings by feature")).ToContainTextAsync("order-status");
        await session.ScreenshotAsync("savings", DocsName("Savings & ROI"));

        await GoToAsync(page, "Settings");
        await Expect(Button(page, "Send test digest")).ToBeVisibleAsync();
        await Label(page, "Workspace name").FillAsync("Checkout team");
        await Button(page, "Rename").ClickAsync();
        await Expect(SelectedOption(WorkspaceSelect(page))).ToHaveTextAsync("Checkout team");
        await Button(page, "Send test digest").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Preview below (email not configured)" })).ToBeVisibleAsync();
        await Button(page, "Add row").ClickAsync(); // no negotiated prices yet: the table appears with a row to fill
        await Expect(Table(page, "Negotiated prices")).ToBeVisibleAsync();
        await session.ScreenshotAsync("settings", DocsName("Settings"));

        var token = await SessionTokenAsync(page);
        Assert.IsFalse(string.IsNullOrEmpty(token));
        Assert.IsEmpty(session.RequestUrls.Where(u => u.Contains(token, StringComparison.Ordinal)).ToList(), "the session token was in a URL");
        Assert.IsEmpty(session.RequestUrls.Where(u => u.Contains(apiKey, StringComparison.Ordinal)).ToList(), "the API key was in a URL");
        session.AssertNoConsoleErrors();
    }

    [TestMethod]
    public async Task Journey_RegenerateDeactivateActivate_RotateDisableEnableDelete_EachTakesEffectAtOnce()
    {
        await using var session = await OpenAsync("owner");
        var page = session.Page;
        const string project = "Lifecycle bot";
        const string rotated = "sk-dashboard-rotated-secret-9876543210fedcba";
        _completionTokens = 10;

        await SignUpAsync(session, "Lee Lifecycle", NewEmail("lifecycle"));
        await GoToAsync(page, "Provider credentials");
        await Button(page, "Add credential").ClickAsync();
        await Label(page, "Provider").SelectOptionAsync("openai");
        await Label(page, "Label").FillAsync("Primary");
        await Label(page, "API key").FillAsync(ProviderSecret);
        await Button(page, "Save credential").ClickAsync();
        var credentials = Table(page, "Credentials");
        await Expect(Row(credentials, "Primary")).ToHaveCountAsync(1);

        await GoToAsync(page, "Projects");
        await Button(page, "New project").ClickAsync();
        await Label(page, "Project name").FillAsync(project);
        await Button(page, "Create project").ClickAsync();
        var first = await TakeKeyFromDialogAsync(page);
        await ChatAsync(first, "gpt-4o-mini");

        // Regenerate (confirmed in the page): a new key shown once; the old one dies at once.
        await Button(page, $"Regenerate key for {project}").ClickAsync();
        await Button(page, "Regenerate").ClickAsync();
        var second = await TakeKeyFromDialogAsync(page);
        Assert.AreNotEqual(first, second, "regenerating shows a new key");
        await AssertNowhereOnPageAsync(page, second, "the regenerated key after \"Done\"");
        await ChatAsync(first, "gpt-4o-mini", expectStatus: 401);
        await ChatAsync(second, "gpt-4o-mini");

        // Deactivate: "Inactive", and the key is refused; activate: "Active" again, and it works.
        var projects = Table(page, "Projects");
        await Button(page, $"Deactivate {project}").ClickAsync();
        await Expect(StatusBadge(projects, project, "Inactive")).ToBeVisibleAsync();
        await ChatAsync(second, "gpt-4o-mini", expectStatus: 401);
        await Button(page, $"Activate {project}").ClickAsync();
        await Expect(StatusBadge(projects, project, "Active")).ToBeVisibleAsync();
        await ChatAsync(second, "gpt-4o-mini");

        // Rotate the credential: the provider gets the new secret from the next call on; it is never shown back.
        await GoToAsync(page, "Provider credentials");
        await Button(page, "Rotate Primary").ClickAsync();
        await Expect(Label(page, "API key")).ToHaveAttributeAsync("type", "password");
        await Label(page, "API key").FillAsync(rotated);
        await Button(page, "Save new secret").ClickAsync();
        await Expect(Button(page, "Save new secret")).ToHaveCountAsync(0);
        await AssertNowhereOnPageAsync(page, rotated, "the rotated secret");
        await ChatAsync(second, "gpt-4o-mini");
        Assert.AreEqual("Bearer " + rotated, _openai.Requests[^1].Header("authorization"), "the next call uses the rotated secret");

        // Disable: calls need a credential again; enable: they work.
        await Button(page, "Disable Primary").ClickAsync();
        await Expect(Button(page, "Enable Primary")).ToBeVisibleAsync();
        var refused = await ChatAsync(second, "gpt-4o-mini", expectStatus: 400);
        Assert.AreEqual("provider_credential_required", refused["error"]!["code"]!.GetValue<string>());
        await Button(page, "Enable Primary").ClickAsync();
        await Expect(Button(page, "Disable Primary")).ToBeVisibleAsync();
        await ChatAsync(second, "gpt-4o-mini");

        // Delete (confirmed in the page): gone from the table, and calls need a credential again.
        await Button(page, "Delete Primary").ClickAsync();
        await Button(page, "Delete").ClickAsync();
        await Expect(page.GetByText("No provider credentials yet.")).ToBeVisibleAsync();
        await ReloadAsync(page, "Provider credentials");
        await Expect(page.GetByText("No provider credentials yet.")).ToBeVisibleAsync();
        await ChatAsync(second, "gpt-4o-mini", expectStatus: 400);
        await session.ScreenshotAsync("credentials-after-delete");
        session.AssertNoConsoleErrors();
    }

    /// <summary>The key dialog after create/regenerate: reads the key, "Done", and checks the dialog and the key are gone.</summary>
    private static async Task<string> TakeKeyFromDialogAsync(IPage page)
    {
        var dialog = page.GetByRole(AriaRole.Dialog).Filter(new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Your new API key", Exact = true }) });
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByText("Copy it now: you will not see this key again.")).ToBeVisibleAsync();
        var key = ApiKeyPattern().Match(await dialog.GetByText(ApiKeyPattern()).InnerTextAsync()).Value;
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        await AssertNowhereOnPageAsync(page, key, "the API key after \"Done\"");
        return key;
    }

    [TestMethod]
    public async Task Journey_OwnerInvites_InviteeSignsUpOnTheLinkAndAccepts_AMemberSeesNoTeamManagement()
    {
        var workspace = "Acme Research " + Guid.NewGuid().ToString("N")[..6];
        var ownerName = "Olivia Owner";
        var inviteeEmail = NewEmail("invitee");
        await using var owner = await OpenAsync("owner");
        await using var invitee = await OpenAsync("invitee");

        // The owner signs up, makes a second workspace in the switcher and invites someone to it as a member.
        await SignUpAsync(owner, ownerName, NewEmail("owner"));
        await Button(owner.Page, "New workspace").ClickAsync();
        await Label(owner.Page, "New workspace name").FillAsync(workspace);
        await Button(owner.Page, "Create workspace").ClickAsync();
        await Expect(WorkspaceSelect(owner.Page).GetByRole(AriaRole.Option)).ToHaveCountAsync(2);
        await WorkspaceSelect(owner.Page).SelectOptionAsync(new SelectOptionValue { Label = workspace });
        await Expect(SelectedOption(WorkspaceSelect(owner.Page))).ToHaveTextAsync(workspace);

        await GoToAsync(owner.Page, "Team");
        await Expect(Heading(owner.Page, "Invite someone")).ToBeVisibleAsync();
        await Label(owner.Page, "Email").FillAsync(inviteeEmail);
        await Label(owner.Page, "Role").SelectOptionAsync("member");
        await Button(owner.Page, "Send invite").ClickAsync();
        await Expect(owner.Page.GetByText("Invite link", new() { Exact = true })).ToBeVisibleAsync();
        var linkText = owner.Page.GetByText(new Regex(@"/invites/[A-Za-z0-9_-]{16,}"));
        await Expect(linkText.First).ToBeVisibleAsync();
        var link = Regex.Match(await linkText.First.InnerTextAsync(), @"\S+/invites/[A-Za-z0-9_-]{16,}").Value;
        StringAssert.StartsWith(link, _host.BaseAddress.GetLeftPart(UriPartial.Authority), "without FRONTEND_URL the link is on the gateway's origin");
        await Button(owner.Page, "Copy link").ClickAsync();
        Assert.AreEqual(link, await owner.Page.EvaluateAsync<string>("() => navigator.clipboard.readText()"), "\"Copy link\" copies the link");
        var pending = Table(owner.Page, "Pending invites");
        await Expect(Row(pending, inviteeEmail)).ToHaveCountAsync(1);
        await Expect(Button(owner.Page, $"Resend {inviteeEmail}")).ToBeVisibleAsync();
        await Expect(Button(owner.Page, $"Cancel invite for {inviteeEmail}")).ToBeVisibleAsync();
        await Expect(Table(owner.Page, "Audit log")).ToBeVisibleAsync();
        await owner.ScreenshotAsync("team", DocsName("Team"));

        // The invitee opens the link in another browser, creates an account there (email prefilled) and accepts.
        await invitee.Page.GotoAsync(link);
        await Expect(Heading(invitee.Page, $"Join {workspace}")).ToBeVisibleAsync();
        await Expect(invitee.Page.Locator("body")).ToContainTextAsync(ownerName);
        await Expect(invitee.Page.Locator("body")).ToContainTextAsync("member");
        await Expect(Label(invitee.Page, "Email")).ToHaveValueAsync(inviteeEmail);
        await invitee.ScreenshotAsync("invite", "invite");
        await Button(invitee.Page, "Create an account").ClickAsync();
        await Expect(Heading(invitee.Page, "Create your account")).ToBeVisibleAsync();
        await Expect(Label(invitee.Page, "Email")).ToHaveValueAsync(inviteeEmail);
        await Label(invitee.Page, "Name").FillAsync("Nina Newcomer");
        await Label(invitee.Page, "Password").FillAsync(Password);
        await Button(invitee.Page, "Create account").ClickAsync();
        await Button(invitee.Page, "Accept invitation").ClickAsync();
        await Expect(invitee.Page).ToHaveURLAsync(new Regex(@"/#/overview$"));
        await Expect(H1(invitee.Page, "Overview")).ToBeVisibleAsync();
        await Expect(SelectedOption(WorkspaceSelect(invitee.Page))).ToHaveTextAsync(workspace);
        await LoadedAsync(invitee.Page);
        await invitee.ScreenshotAsync("invitee-overview");

        // As a member: the members table only.
        await GoToAsync(invitee.Page, "Team");
        var members = Table(invitee.Page, "Members");
        await Expect(Row(members, inviteeEmail)).ToHaveCountAsync(1);
        await Expect(Row(members, ownerName)).ToHaveCountAsync(1);
        await Expect(Button(invitee.Page, "Leave workspace")).ToBeVisibleAsync();
        await Expect(Heading(invitee.Page, "Invite someone")).ToHaveCountAsync(0);
        await Expect(Button(invitee.Page, "Send invite")).ToHaveCountAsync(0);
        await Expect(invitee.Page.GetByRole(AriaRole.Combobox, new() { NameRegex = new Regex("^Role of ") })).ToHaveCountAsync(0);
        await Expect(invitee.Page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Remove ") })).ToHaveCountAsync(0);
        await Expect(Table(invitee.Page, "Audit log")).ToHaveCountAsync(0);
        await Expect(Table(invitee.Page, "Pending invites")).ToHaveCountAsync(0);
        await invitee.ScreenshotAsync("team-as-member");

        // Switching to the invitee's own workspace reloads the page's data: there the invitee is the owner.
        var own = (await WorkspaceSelect(invitee.Page).GetByRole(AriaRole.Option).AllInnerTextsAsync()).Select(t => t.Trim()).Single(t => t != workspace);
        await WorkspaceSelect(invitee.Page).SelectOptionAsync(new SelectOptionValue { Label = own });
        await Expect(Heading(invitee.Page, "Invite someone")).ToBeVisibleAsync();
        await Expect(Row(members, ownerName)).ToHaveCountAsync(0);

        // The owner sees the new member with the role, and the invite no longer pending.
        await ReloadAsync(owner.Page, "Team");
        await Expect(owner.Page.GetByLabel($"Role of {inviteeEmail}", new() { Exact = true })).ToHaveValueAsync("member");
        await Expect(Row(pending, inviteeEmail)).ToHaveCountAsync(0);

        owner.AssertNoConsoleErrors();
        invitee.AssertNoConsoleErrors();
    }

    [TestMethod]
    public async Task Session_SurvivesAReload_EndsOnA401WithTheMessage_AndItsTokenIsNeverInAUrl()
    {
        await using var session = await OpenAsync();
        var page = session.Page;
        // The invalid token below is answered 401, which Chromium logs as a failed resource: that one is expected.
        session.AllowConsoleError(new Regex("Failed to load resource: the server responded with a status of 401"));
        var email = NewEmail("session");

        await SignUpAsync(session, "Sam Session", email);
        var first = await SessionTokenAsync(page);
        Assert.IsFalse(string.IsNullOrEmpty(first), "the session is kept in localStorage[\"killtoken.session\"]");

        await GoToAsync(page, "Projects");
        await ReloadAsync(page, "Projects");
        await Expect(Nav(page)).ToBeVisibleAsync();
        await Expect(Heading(page, "Sign in")).ToHaveCountAsync(0);
        Assert.AreEqual(first, await SessionTokenAsync(page), "a reload keeps the session");

        // A token the API no longer accepts: the next call's 401 ends the session.
        await page.EvaluateAsync("() => localStorage.setItem('killtoken.session', 'not-a-valid-session-token')");
        await page.ReloadAsync();
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        await Expect(page.GetByText("Your session has ended. Sign in again.")).ToBeVisibleAsync();
        await Expect(Nav(page)).ToHaveCountAsync(0);
        Assert.IsNull(await SessionTokenAsync(page), "the ended session's token is cleared");
        await session.ScreenshotAsync("session-ended");

        await Label(page, "Email").FillAsync(email);
        await Label(page, "Password").FillAsync("not the password");
        await Button(page, "Sign in").ClickAsync();
        await Expect(Alert(page)).ToBeVisibleAsync();
        await Expect(Alert(page)).Not.ToBeEmptyAsync();
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        await SignInAsync(page, email);
        await LoadedAsync(page);
        var second = await SessionTokenAsync(page);
        Assert.IsFalse(string.IsNullOrEmpty(second));

        await Button(page, "Sign out").ClickAsync();
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        Assert.IsNull(await SessionTokenAsync(page), "signing out clears the session");
        await page.ReloadAsync();
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();

        var urls = session.RequestUrls;
        Assert.IsTrue(urls.Any(u => u.Contains("/api/", StringComparison.Ordinal)), "the page called the API");
        foreach (var token in new[] { first!, second!, "not-a-valid-session-token" })
        {
            var leaked = urls.Where(u => u.Contains(token, StringComparison.Ordinal) || u.Contains(Uri.EscapeDataString(token), StringComparison.Ordinal)).ToList();
            Assert.IsEmpty(leaked, "the session token was in a URL: " + string.Join("\n", leaked));
        }

        Assert.IsFalse(page.Url.Contains(first!, StringComparison.Ordinal));
        session.AssertNoConsoleErrors();
    }

    [TestMethod]
    public async Task EveryPage_IsServedWithAStrictCsp_AndFetchesNothingButTheGateway()
    {
        await using var session = await OpenAsync();
        var page = session.Page;

        var document = await page.GotoAsync("/");
        AssertScriptsLocked(await document!.HeaderValueAsync("content-security-policy"), "/");
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();

        await CreateAccountAsync(page, "Casey Csp", NewEmail("csp"));
        await Expect(page.GetByText("No traffic yet. Send a request with a project key to see it here.")).ToBeVisibleAsync();
        foreach (var name in Pages)
        {
            await GoToAsync(page, name);
            await Expect(Alert(page)).ToHaveCountAsync(0);
            await AssertNoHorizontalScrollAsync(page, name);
        }

        await GoToAsync(page, "Projects");
        await Expect(page.GetByText("No projects yet. Create one to get an API key.")).ToBeVisibleAsync();
        await GoToAsync(page, "Provider credentials");
        await Expect(page.GetByText("No provider credentials yet.")).ToBeVisibleAsync();
        await GoToAsync(page, "Requests");
        await Expect(page.GetByText("No requests match.")).ToBeVisibleAsync();

        // The API answers an unknown invite 404, which Chromium logs as a failed resource: expected here.
        session.AllowConsoleError(new Regex(@"status of 404 .*/api/invites/no-such-invite-token"));
        var invite = await page.GotoAsync("/invites/no-such-invite-token");
        AssertScriptsLocked(await invite!.HeaderValueAsync("content-security-policy"), "/invites/{token}");
        await Expect(Alert(page)).ToBeVisibleAsync();

        var gateway = _host.BaseAddress.GetLeftPart(UriPartial.Authority);
        var elsewhere = session.RequestUrls
            .Where(u => !u.StartsWith("data:", StringComparison.Ordinal) && !u.StartsWith("blob:", StringComparison.Ordinal))
            .Where(u => !u.StartsWith(gateway + "/", StringComparison.Ordinal))
            .ToList();
        Assert.IsEmpty(elsewhere, "the pages fetched from somewhere other than the gateway:\n" + string.Join("\n", elsewhere));
        Assert.IsTrue(session.RequestUrls.Any(u => u.StartsWith(gateway + "/assets/", StringComparison.Ordinal)), "the app's assets come from /assets/");
        session.AssertNoConsoleErrors();
    }

    /// <summary>The CSP's script sources (script-src, else default-src): present, no 'unsafe-inline', no wildcard or scheme-wide source.</summary>
    private static void AssertScriptsLocked(string? csp, string page)
    {
        Assert.IsFalse(string.IsNullOrWhiteSpace(csp), $"{page}: no Content-Security-Policy header");
        var directives = csp.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => d.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(d => d.Length > 0)
            .GroupBy(d => d[0].ToLowerInvariant())
            .ToDictionary(g => g.Key, g => g.First()[1..]);
        var scripts = directives.GetValueOrDefault("script-src") ?? directives.GetValueOrDefault("default-src");
        Assert.IsNotNull(scripts, $"{page}: the CSP limits no scripts (no script-src or default-src): {csp}");
        Assert.DoesNotContain("'unsafe-inline'", scripts.Select(s => s.ToLowerInvariant()).ToList(), $"{page}: {csp}");
        foreach (var wide in new[] { "*", "http:", "https:", "data:" })
        {
            Assert.DoesNotContain(wide, scripts.ToList(), $"{page}: scripts from anywhere ({wide}): {csp}");
        }
    }

    [TestMethod]
    public async Task PhoneWidth_EveryPage_HasNoSidewaysScroll_AndTheNavIsReachable()
    {
        await using var session = await OpenAsync("phone", width: 390, height: 844);
        var page = session.Page;

        await SignUpAsync(session, "Pat Phone", NewEmail("phone"));
        await AssertNoHorizontalScrollAsync(page, "Overview");
        await session.ScreenshotAsync("overview-phone", "overview-phone");

        // The nav (on the page, or behind a menu button) reaches every page, and none scrolls sideways.
        // Every page is checked before the test fails, so one report names them all.
        var sideways = new List<string>();
        foreach (var name in Pages.Where(p => p != "Projects"))
        {
            await PhoneGoToAsync(page, name);
            if (await SidewaysScrollAsync(page) is { Length: > 0 } problem)
            {
                sideways.Add($"{name}: {problem}");
                await session.ScreenshotAsync(DocsName(name) + "-phone-sideways");
            }
        }

        await PhoneGoToAsync(page, "Projects");

        await Button(page, "New project").ClickAsync();
        await Label(page, "Project name").FillAsync("Pocket project with a rather long name");
        await Label(page, "Daily budget (USD)").FillAsync("5");
        await Label(page, "Monthly budget (USD)").FillAsync("100");
        await Button(page, "Create project").ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog.GetByText(ApiKeyPattern())).ToBeVisibleAsync();
        await AssertNoHorizontalScrollAsync(page, "The key dialog");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Done", Exact = true }).ClickAsync();
        await Expect(Row(Table(page, "Projects"), "Pocket project with a rather long name")).ToHaveCountAsync(1);
        if (await SidewaysScrollAsync(page) is { Length: > 0 } projectsProblem)
        {
            sideways.Add("Projects: " + projectsProblem);
        }

        await session.ScreenshotAsync("projects-phone");
        Assert.IsEmpty(sideways, "pages that scroll sideways at 390 px:\n" + string.Join("\n", sideways));
        session.AssertNoConsoleErrors();
    }

    /// <summary>At phone width: opens the menu when the nav link is hidden behind it, follows the link, waits for the page.</summary>
    private static async Task PhoneGoToAsync(IPage page, string name)
    {
        var link = NavLink(page, name);
        if (!await link.IsVisibleAsync())
        {
            var menu = page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("menu|navigation", RegexOptions.IgnoreCase) });
            await Expect(menu.First).ToBeVisibleAsync();
            await menu.First.ClickAsync();
        }

        await Expect(link).ToBeVisibleAsync();
        await link.ClickAsync();
        await Expect(H1(page, name)).ToBeVisibleAsync();
        await LoadedAsync(page);
    }

    [TestMethod]
    public async Task Keyboard_ReachesSignInAndTheNav_AndEveryFormControlHasALabel()
    {
        await using var session = await OpenAsync();
        var page = session.Page;

        // Sign-in: Tab from the top reaches Email, Password and the "Sign in" button.
        await page.GotoAsync("/");
        await Expect(Heading(page, "Sign in")).ToBeVisibleAsync();
        await session.ScreenshotAsync("sign-in", "sign-in");
        var signInFocus = await TabThroughAsync(page, 15, stopAt: "BUTTON:Sign in");
        CollectionAssert.Contains(signInFocus, "INPUT:Email", "Tab reaches Email: " + string.Join(", ", signInFocus));
        CollectionAssert.Contains(signInFocus, "INPUT:Password", "Tab reaches Password: " + string.Join(", ", signInFocus));
        CollectionAssert.Contains(signInFocus, "BUTTON:Sign in", "Tab reaches the Sign in button: " + string.Join(", ", signInFocus));

        // Signed in: Tab from the top reaches every nav link; Enter follows one.
        await CreateAccountAsync(page, "Kim Keyboard", NewEmail("keyboard"));
        await page.ReloadAsync();
        await Expect(H1(page, "Overview")).ToBeVisibleAsync();
        var shellFocus = await TabThroughAsync(page, 40, stopAt: "A:Settings");
        foreach (var name in Pages)
        {
            CollectionAssert.Contains(shellFocus, "A:" + name, $"Tab reaches the nav link {name}: " + string.Join(", ", shellFocus));
        }

        await NavLink(page, "Projects").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(H1(page, "Projects")).ToBeVisibleAsync();
        await LoadedAsync(page);

        // The project form: every field by its label.
        await Button(page, "New project").ClickAsync();
        foreach (var label in new[] { "Project name", "Daily budget (USD)", "Monthly budget (USD)", "Fallback model", "Alert email" })
        {
            await Expect(Label(page, label)).ToBeVisibleAsync();
        }

        Assert.IsEmpty(await UnlabelledControlsAsync(page), "controls without a label on the Projects form: " + string.Join("\n", await UnlabelledControlsAsync(page)));

        // The credential form: every provider's fields by their labels.
        await GoToAsync(page, "Provider credentials");
        await Button(page, "Add credential").ClickAsync();
        var fields = new Dictionary<string, string[]>
        {
            ["openai"] = ["API key"],
            ["anthropic"] = ["API key"],
            ["gemini"] = ["API key"],
            ["azure_openai"] = ["API key", "Endpoint", "Deployment", "API version"],
            ["openai_compatible"] = ["API key", "Base URL", "Default model"],
            ["aws_bedrock"] = ["Region", "Access key ID", "Secret access key", "Session token"],
            ["google_vertex"] = ["Project ID", "Location", "Default model", "Endpoint URL", "Client email", "Private key", "Private key ID"],
        };
        foreach (var (provider, labels) in fields)
        {
            await Label(page, "Provider").SelectOptionAsync(provider);
            await Expect(Label(page, "Label")).ToBeVisibleAsync();
            foreach (var label in labels)
            {
                await Expect(Label(page, label)).ToBeVisibleAsync();
            }

            var unlabelled = await UnlabelledControlsAsync(page);
            Assert.IsEmpty(unlabelled, $"controls without a label on the credential form ({provider}): " + string.Join("\n", unlabelled));
        }

        await session.ScreenshotAsync("credential-form-vertex");
        session.AssertNoConsoleErrors();
    }

    /// <summary>
    /// Presses Tab up to <paramref name="presses"/> times from the top of the page and lists what got focus, as
    /// <c>TAG:accessible text</c> (a field's label, else its aria-label, else its text); stops after <paramref name="stopAt"/>.
    /// </summary>
    private static async Task<List<string>> TabThroughAsync(IPage page, int presses, string stopAt)
    {
        await page.EvaluateAsync("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }");
        var seen = new List<string>();
        for (var i = 0; i < presses; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            var focused = await page.EvaluateAsync<string>("""
                () => {
                  const e = document.activeElement;
                  if (!e || e === document.body) return "";
                  const label = (e.labels && e.labels[0]?.textContent) || e.getAttribute('aria-label') || e.textContent || '';
                  return e.tagName + ':' + label.trim();
                }
                """);
            seen.Add(focused);
            if (focused == stopAt)
            {
                break;
            }
        }

        return seen;
    }
}
