using KillToken.Api.Hosting;
using KillToken.Core.Analytics;
using KillToken.Core.Domain;
using KillToken.Core.Management;
using KillToken.Core.Ports;
using KillToken.Core.Providers;
using R = KillToken.Api.Hosting.Routes;

namespace KillToken.Api.OpenApi;

/// <summary>Who may call an operation: nobody in particular, a project key, or a dashboard session.</summary>
public enum ApiAuth
{
    None,
    ProjectKey,
    Session,
}

/// <summary>One operation of the API as the document describes it: route, method, auth, bodies and query parameters.</summary>
public sealed record ApiOperation(string Method, string Route, string Id, string Tag, ApiAuth Auth, string Summary)
{
    public Type? Request { get; init; }
    public string RequestContentType { get; init; } = "application/json";
    public Type? Response { get; init; }
    public int Status { get; init; } = 200;
    public string ResponseContentType { get; init; } = "application/json";
    /// <summary>Further success answers, e.g. a streamed chat's text/event-stream.</summary>
    public IReadOnlyList<string> AlsoProduces { get; init; } = [];
    public IReadOnlyList<string> Query { get; init; } = [];
    /// <summary>The error statuses beyond those every operation of its auth can answer.</summary>
    public IReadOnlyList<int> Errors { get; init; } = [];
}

/// <summary>
/// The API description's source: every route of <see cref="Routes"/> with each method it answers. A test holds it to
/// both hosts' route tables, so a route added without a line here fails the build's tests.
/// </summary>
public static class ApiCatalog
{
    private const string Gateway = "Gateway";
    private const string Wrappers = "Native SDK wrappers";
    private const string Reports = "Traces and reports";
    private const string Credentials = "Provider credentials";
    private const string Accounts = "Accounts and workspaces";
    private const string Projects = "Projects";
    private const string Team = "Team";
    private const string Analytics = "Analytics";
    private const string Service = "Service";
    private const string Pages = "Web pages";

    private static readonly string[] TraceFilters = ["provider", "model", "mode", "cacheStatus", "feature", "project", "from", "to"];
    private static readonly string[] TracePaging = [.. TraceFilters, "limit", "cursor"];
    private static readonly string[] Period = ["from", "to"];
    private static readonly string[] AnalyticsFilters = ["workspaceId", "from", "to", "provider", "projectId", "model"];
    /// <summary>The analytics export's filters: the rollups are not kept per mode or cache status, so those two are refused.</summary>
    private static readonly string[] AnalyticsExportFilters = ["provider", "model", "feature", "projectId", "from", "to"];
    private static readonly string[] WholeWorkspace = ["workspaceId", "from", "to"];

    public static IReadOnlyList<ApiOperation> Operations { get; } =
    [
        new("GET", R.Health, "health", Service, ApiAuth.None, "Liveness: answers without touching the store.") { Response = typeof(HealthBody) },
        new("GET", R.Ready, "ready", Service, ApiAuth.None, "Readiness: store, vault, cache and auth configuration (503 when one fails; no secrets).") { Response = typeof(ReadyBody), Errors = [503] },

        new("POST", R.Chat, "chat", Gateway, ApiAuth.ProjectKey, "One model call through the gateway: budgets, optimization, cache, idempotency, fallback.")
        {
            Request = typeof(ChatRequestBody), Response = typeof(ChatResponseBody), AlsoProduces = ["text/event-stream"], Errors = [409, 413, 415, 429, 502, 504],
        },
        Wrapper("POST", R.OpenAIChatCompletions, "openaiChatCompletions", "OpenAI Chat Completions (baseURL = …/v1/openai); x-killtoken-provider selects another provider."),
        new("GET", R.OpenAIModels, "openaiModels", Wrappers, ApiAuth.ProjectKey, "OpenAI's model list, for SDKs that ask for it.") { Response = typeof(OpenAIModelListBody) },
        Wrapper("POST", R.AnthropicMessages, "anthropicMessages", "Anthropic Messages."),
        Wrapper("POST", R.AnthropicV1Messages, "anthropicV1Messages", "Anthropic Messages at the path the Anthropic SDK builds from baseURL = …/v1/anthropic."),
        Wrapper("POST", R.GeminiGenerateContent, "geminiGenerateContent", "Gemini generateContent."),
        Wrapper("POST", R.GeminiStreamGenerateContent, "geminiStreamGenerateContent", "Gemini streamGenerateContent (?alt=sse for server-sent events)."),
        Wrapper("POST", R.ProxyOpenAIChatCompletions, "proxyOpenaiChatCompletions", "TokenGuard's OpenAI path (a refused call is 429 BUDGET_EXCEEDED)."),
        new("GET", R.ProxyOpenAIModels, "proxyOpenaiModels", Wrappers, ApiAuth.ProjectKey, "TokenGuard's OpenAI model list path.") { Response = typeof(OpenAIModelListBody) },
        Wrapper("POST", R.ProxyAnthropicMessages, "proxyAnthropicMessages", "TokenGuard's Anthropic path."),
        Wrapper("POST", R.ProxyGeminiGenerateContent, "proxyGeminiGenerateContent", "TokenGuard's Gemini path."),
        Wrapper("POST", R.ProxyGeminiStreamGenerateContent, "proxyGeminiStreamGenerateContent", "TokenGuard's Gemini streaming path."),
        Wrapper("POST", R.ProxyGeminiGenerateContentPath, "proxyGeminiGenerateContentPath", "TokenGuard's documented Gemini path (/models/{model}/generateContent)."),

        new("GET", R.Requests, "listRequests", Reports, ApiAuth.ProjectKey, "The project workspace's request traces, newest first, a page at a time.") { Response = typeof(PageBody<RequestTrace>), Query = TracePaging },
        new("GET", R.RequestById, "getRequest", Reports, ApiAuth.ProjectKey, "One request trace.") { Response = typeof(RequestTrace), Errors = [404] },
        new("GET", R.Summary, "summary", Reports, ApiAuth.ProjectKey, "Totals, cost, savings, cache hit rate, top templates and savings by feature.") { Response = typeof(SummaryReport), Query = Period },
        new("GET", R.RoiReport, "roi", Reports, ApiAuth.ProjectKey, "Estimated, verified, potential and cache savings.") { Response = typeof(RoiReport), Query = Period },
        new("GET", R.ExportRequestsCsv, "exportRequestsCsv", Reports, ApiAuth.ProjectKey, "The traces as CSV with fixed, privacy-safe columns.") { Response = typeof(string), ResponseContentType = "text/csv", Query = TraceFilters },
        new("GET", R.ExportAnalyticsJson, "exportAnalyticsJson", Reports, ApiAuth.ProjectKey, "The analytics reports as one JSON document.") { Response = typeof(AnalyticsExport), Query = AnalyticsExportFilters },

        new("GET", R.Credentials, "listCredentials", Credentials, ApiAuth.ProjectKey, "The workspace's provider credentials (secrets never shown, only keyPreview).") { Response = typeof(ListBody<CredentialView>) },
        new("POST", R.Credentials, "createCredential", Credentials, ApiAuth.ProjectKey, "Add a provider credential (key scope credentials:write).") { Request = typeof(CredentialBody), Response = typeof(CredentialView), Status = 201, Errors = [409] },
        new("GET", R.CredentialById, "getCredential", Credentials, ApiAuth.ProjectKey, "One provider credential.") { Response = typeof(CredentialView), Errors = [404] },
        new("PATCH", R.CredentialById, "updateCredential", Credentials, ApiAuth.ProjectKey, "Relabel, rotate, disable or enable a credential.") { Request = typeof(CredentialUpdateBody), Response = typeof(CredentialView), Errors = [404] },
        new("DELETE", R.CredentialById, "deleteCredential", Credentials, ApiAuth.ProjectKey, "Delete a credential and its secrets.") { Status = 204, Errors = [404] },
        new("POST", R.CredentialTest, "testCredential", Credentials, ApiAuth.ProjectKey, "The cheapest real call the provider allows, with this credential.") { Response = typeof(CredentialTestResult), Errors = [404] },

        new("POST", R.SignUp, "signUp", Accounts, ApiAuth.None, "Create an account and its first workspace (role owner).") { Request = typeof(SignUpBody), Response = typeof(SignUpResponseBody), Status = 201, Errors = [409, 429] },
        new("POST", R.Login, "login", Accounts, ApiAuth.None, "Sign in: a session token.") { Request = typeof(LoginBody), Response = typeof(LoginResponseBody), Errors = [401, 429] },
        new("GET", R.Me, "me", Accounts, ApiAuth.Session, "The signed-in user and their workspaces.") { Response = typeof(MeResponseBody) },
        new("GET", R.Workspaces, "listWorkspaces", Accounts, ApiAuth.Session, "The caller's workspaces with their role.") { Response = typeof(ListBody<WorkspaceView>) },
        new("POST", R.Workspaces, "createWorkspace", Accounts, ApiAuth.Session, "Create a workspace (the caller is its owner).") { Request = typeof(WorkspaceBody), Response = typeof(WorkspaceView), Status = 201 },
        new("GET", R.WorkspaceById, "getWorkspace", Accounts, ApiAuth.Session, "One workspace with the month's spend against its budget.") { Response = typeof(WorkspaceView), Errors = [404] },
        new("PATCH", R.WorkspaceById, "updateWorkspace", Accounts, ApiAuth.Session, "Rename (admin+) or set the monthly budget (owner).") { Request = typeof(WorkspaceUpdateBody), Response = typeof(WorkspaceView), Errors = [404] },
        new("DELETE", R.WorkspaceById, "deleteWorkspace", Accounts, ApiAuth.Session, "Soft-delete a workspace (owner; the exact name confirms).") { Request = typeof(WorkspaceDeleteBody), Status = 204, Errors = [404, 409] },
        new("GET", R.WorkspacePricing, "getPricing", Accounts, ApiAuth.Session, "The workspace's negotiated prices.") { Response = typeof(PricingBody), Errors = [404] },
        new("PUT", R.WorkspacePricing, "setPricing", Accounts, ApiAuth.Session, "Replace the negotiated prices (admin+).") { Request = typeof(PricingBody), Response = typeof(PricingBody), Errors = [404] },
        new("GET", R.WorkspaceRequests, "listWorkspaceRequests", Accounts, ApiAuth.Session, "The workspace's request traces (filters and paging as /v1/requests).") { Response = typeof(PageBody<RequestTrace>), Query = TracePaging, Errors = [404] },

        new("GET", R.WorkspaceProjects, "listProjects", Projects, ApiAuth.Session, "The workspace's projects with their spend.") { Response = typeof(ListBody<ProjectView>), Errors = [404] },
        new("POST", R.WorkspaceProjects, "createProject", Projects, ApiAuth.Session, "Create a project: the only answer that shows its key.") { Request = typeof(ProjectBody), Response = typeof(ProjectWithKeyBody), Status = 201, Errors = [404] },
        new("GET", R.ProjectById, "getProject", Projects, ApiAuth.Session, "One project with its spend against its limits.") { Response = typeof(ProjectView), Errors = [404] },
        new("PATCH", R.ProjectById, "updateProject", Projects, ApiAuth.Session, "Change name, budgets, fallback model or alert email.") { Request = typeof(ProjectBody), Response = typeof(ProjectView), Errors = [404] },
        new("POST", R.ProjectRegenerateKey, "regenerateProjectKey", Projects, ApiAuth.Session, "A new key; the old one fails on the next request.") { Response = typeof(ProjectWithKeyBody), Errors = [404] },
        new("POST", R.ProjectDeactivate, "deactivateProject", Projects, ApiAuth.Session, "Deactivate: the key fails on the next request.") { Response = typeof(ProjectView), Errors = [404] },
        new("POST", R.ProjectActivate, "activateProject", Projects, ApiAuth.Session, "Activate again.") { Response = typeof(ProjectView), Errors = [404] },

        new("GET", R.WorkspaceCredentials, "listWorkspaceCredentials", Credentials, ApiAuth.Session, "Provider credentials (as /v1/provider-credentials).") { Response = typeof(ListBody<CredentialView>), Errors = [404] },
        new("POST", R.WorkspaceCredentials, "createWorkspaceCredential", Credentials, ApiAuth.Session, "Add a provider credential (admin+).") { Request = typeof(CredentialBody), Response = typeof(CredentialView), Status = 201, Errors = [404, 409] },
        new("PATCH", R.WorkspaceCredentialById, "updateWorkspaceCredential", Credentials, ApiAuth.Session, "Relabel, rotate, disable or enable (admin+).") { Request = typeof(CredentialUpdateBody), Response = typeof(CredentialView), Errors = [404] },
        new("DELETE", R.WorkspaceCredentialById, "deleteWorkspaceCredential", Credentials, ApiAuth.Session, "Delete a credential (admin+).") { Status = 204, Errors = [404] },
        new("POST", R.WorkspaceCredentialTest, "testWorkspaceCredential", Credentials, ApiAuth.Session, "Test a credential with the cheapest real call.") { Response = typeof(CredentialTestResult), Errors = [404] },

        new("GET", R.WorkspaceMembers, "listMembers", Team, ApiAuth.Session, "The workspace's members and roles.") { Response = typeof(ListBody<MemberView>), Errors = [404] },
        new("PATCH", R.WorkspaceMemberById, "changeMemberRole", Team, ApiAuth.Session, "Change a member's role (the permission matrix of seed 002).") { Request = typeof(MemberRoleBody), Response = typeof(MemberView), Errors = [404, 409] },
        new("DELETE", R.WorkspaceMemberById, "removeMember", Team, ApiAuth.Session, "Remove a member, or leave.") { Status = 204, Errors = [404, 409] },
        new("GET", R.WorkspaceInvites, "listInvites", Team, ApiAuth.Session, "Pending invites (admin+).") { Response = typeof(ListBody<InviteView>), Errors = [404] },
        new("POST", R.WorkspaceInvites, "createInvite", Team, ApiAuth.Session, "Invite by email; the link expires in 7 days.") { Request = typeof(InviteBody), Response = typeof(InviteCreatedBody), Status = 201, Errors = [404, 409] },
        new("POST", R.WorkspaceInviteResend, "resendInvite", Team, ApiAuth.Session, "A new link and expiry for a pending invite.") { Response = typeof(InviteCreatedBody), Errors = [404, 409] },
        new("DELETE", R.WorkspaceInviteById, "cancelInvite", Team, ApiAuth.Session, "Cancel a pending invite.") { Status = 204, Errors = [404] },
        new("GET", R.InviteByToken, "previewInvite", Team, ApiAuth.None, "What an invite link offers (no session needed).") { Response = typeof(InvitePreview), Errors = [404, 409] },
        new("POST", R.InviteAccept, "acceptInvite", Team, ApiAuth.Session, "Accept with the invited email's account.") { Response = typeof(InviteAcceptedBody), Errors = [403, 404, 409] },
        new("GET", R.WorkspaceAudit, "listAudit", Team, ApiAuth.Session, "The audit log, newest first (admin+).") { Response = typeof(PageBody<AuditEvent>), Query = ["event", "limit", "cursor"], Errors = [404] },

        new("GET", R.AnalyticsOverview, "analyticsOverview", Analytics, ApiAuth.Session, "Spend, requests and the top model over a period.") { Response = typeof(OverviewReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsTrends, "analyticsTrends", Analytics, ApiAuth.Session, "Requests, tokens and spend per day.") { Response = typeof(TrendsReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsProviders, "analyticsProviders", Analytics, ApiAuth.Session, "By provider.") { Response = typeof(ProvidersReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsModels, "analyticsModels", Analytics, ApiAuth.Session, "By model.") { Response = typeof(ModelsReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsProjects, "analyticsProjects", Analytics, ApiAuth.Session, "By project.") { Response = typeof(ProjectsReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsFeatures, "analyticsFeatures", Analytics, ApiAuth.Session, "Savings by feature.") { Response = typeof(FeaturesReport), Query = AnalyticsFilters },
        new("GET", R.AnalyticsExportCsv, "analyticsExportCsv", Analytics, ApiAuth.Session, "Up to 10,000 trace rows as CSV with seed 002's columns.") { Response = typeof(string), ResponseContentType = "text/csv", Query = AnalyticsFilters },
        new("GET", R.AnalyticsSummary, "analyticsSummary", Analytics, ApiAuth.Session, "The savings report of /v1/summary for a session (whole workspace).") { Response = typeof(SummaryReport), Query = WholeWorkspace },
        new("GET", R.AnalyticsRoi, "analyticsRoi", Analytics, ApiAuth.Session, "The ROI report of /v1/reports/roi for a session (whole workspace).") { Response = typeof(RoiReport), Query = WholeWorkspace },
        new("POST", R.MonthlyDigestTest, "testMonthlyDigest", Analytics, ApiAuth.Session, "The current month's digest, mailed to the caller when SMTP is set (admin+).") { Response = typeof(MonthlyDigest), Query = ["workspaceId"] },

        Page(R.Dashboard, "dashboard", "The dashboard."),
        Page(R.InvitePage, "invitePage", "The page an invite link opens."),
        Page(R.DashboardProject, "dashboardProject", "The dashboard, opened on a project (the link of a budget alert)."),
        new("GET", R.DashboardAsset, "dashboardAsset", Pages, ApiAuth.None, "The dashboard's script, styles and icon.") { Response = typeof(string), ResponseContentType = "application/octet-stream", Errors = [404] },
        Page(R.ApiReference, "apiReference", "This API's reference page."),
        new("GET", R.ApiReferenceAsset, "apiReferenceAsset", Pages, ApiAuth.None, "The reference page's script.") { Response = typeof(string), ResponseContentType = "text/javascript", Errors = [404] },
        new("GET", R.OpenApiDocument, "openApiDocument", Pages, ApiAuth.None, "This document (OpenAPI 3.1).") { Response = typeof(string) },
        new("GET", R.LlmsTxt, "llmsTxt", Pages, ApiAuth.None, "How a coding assistant integrates with this gateway: a short index (plain markdown).") { Response = typeof(string), ResponseContentType = "text/markdown" },
        new("GET", R.LlmsFullTxt, "llmsFullTxt", Pages, ApiAuth.None, "The complete integration guide for a coding assistant: every endpoint, header, error code and example (plain markdown).") { Response = typeof(string), ResponseContentType = "text/markdown" },
    ];

    private static ApiOperation Wrapper(string method, string route, string id, string summary) =>
        new(method, route, id, Wrappers, ApiAuth.ProjectKey, summary)
        {
            Request = typeof(NativeWireBody), Response = typeof(NativeWireBody), AlsoProduces = ["text/event-stream"], Errors = [413, 415, 429, 502, 504],
        };

    private static ApiOperation Page(string route, string id, string summary) =>
        new("GET", route, id, Pages, ApiAuth.None, summary) { Response = typeof(string), ResponseContentType = "text/html" };
}
