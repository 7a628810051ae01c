namespace KillToken.Api.Hosting;

/// <summary>
/// The one route table. Constants, so the Functions host's <c>HttpTrigger(Route = …)</c> attributes and the self-host's
/// endpoint mapping read the same strings. No leading slash: Functions routes are relative to an empty routePrefix.
/// </summary>
public static class Routes
{
    public const string Health = "health";
    public const string Ready = "ready";

    // Gateway (API-key auth)
    public const string Chat = "v1/chat";
    public const string Credentials = "v1/provider-credentials";
    public const string CredentialById = "v1/provider-credentials/{credentialId}";
    public const string CredentialTest = "v1/provider-credentials/{credentialId}/test";
    public const string Requests = "v1/requests";
    public const string RequestById = "v1/requests/{requestId}";
    public const string Summary = "v1/summary";
    public const string RoiReport = "v1/reports/roi";
    public const string ExportRequestsCsv = "v1/exports/requests.csv";
    public const string ExportAnalyticsJson = "v1/exports/analytics.json";

    // Drop-in wrappers for the native SDKs (API-key auth): base URL …/v1/openai, …/v1/anthropic, …/v1/gemini.
    public const string OpenAIChatCompletions = "v1/openai/chat/completions";
    public const string OpenAIModels = "v1/openai/models";
    public const string AnthropicMessages = "v1/anthropic/messages";
    /// <summary>The path the Anthropic SDK builds from <c>baseURL = …/v1/anthropic</c>.</summary>
    public const string AnthropicV1Messages = "v1/anthropic/v1/messages";
    public const string GeminiGenerateContent = "v1/gemini/v1beta/models/{model}:generateContent";
    public const string GeminiStreamGenerateContent = "v1/gemini/v1beta/models/{model}:streamGenerateContent";

    // TokenGuard's proxy paths, so its users change only the base URL.
    public const string ProxyOpenAIChatCompletions = "proxy/openai/v1/chat/completions";
    public const string ProxyOpenAIModels = "proxy/openai/v1/models";
    public const string ProxyAnthropicMessages = "proxy/anthropic/v1/messages";
    public const string ProxyGeminiGenerateContent = "proxy/gemini/v1beta/models/{model}:generateContent";
    public const string ProxyGeminiStreamGenerateContent = "proxy/gemini/v1beta/models/{model}:streamGenerateContent";
    /// <summary>The form TokenGuard's own documentation shows (<c>/models/{model}/generateContent</c>).</summary>
    public const string ProxyGeminiGenerateContentPath = "proxy/gemini/v1beta/models/{model}/generateContent";

    // Dashboard / management API (JWT session)
    public const string SignUp = "api/auth/signup";
    public const string Login = "api/auth/login";
    public const string Me = "api/me";
    public const string Workspaces = "api/workspaces";
    public const string WorkspaceById = "api/workspaces/{workspaceId}";
    public const string WorkspaceProjects = "api/workspaces/{workspaceId}/projects";
    public const string ProjectById = "api/projects/{projectId}";
    public const string ProjectRegenerateKey = "api/projects/{projectId}/regenerate-key";
    public const string ProjectDeactivate = "api/projects/{projectId}/deactivate";
    public const string ProjectActivate = "api/projects/{projectId}/activate";
    public const string WorkspaceCredentials = "api/workspaces/{workspaceId}/provider-credentials";
    public const string WorkspaceCredentialById = "api/workspaces/{workspaceId}/provider-credentials/{credentialId}";
    public const string WorkspaceCredentialTest = "api/workspaces/{workspaceId}/provider-credentials/{credentialId}/test";
    public const string WorkspaceRequests = "api/workspaces/{workspaceId}/requests";
    public const string WorkspacePricing = "api/workspaces/{workspaceId}/pricing";
    // Seed 002's team (session).
    public const string WorkspaceMembers = "api/workspaces/{workspaceId}/members";
    public const string WorkspaceMemberById = "api/workspaces/{workspaceId}/members/{userId}";
    public const string WorkspaceInvites = "api/workspaces/{workspaceId}/invites";
    public const string WorkspaceInviteById = "api/workspaces/{workspaceId}/invites/{inviteId}";
    public const string WorkspaceInviteResend = "api/workspaces/{workspaceId}/invites/{inviteId}/resend";
    /// <summary>The invite link's API: shown without a session, accepted with one.</summary>
    public const string InviteByToken = "api/invites/{token}";
    public const string InviteAccept = "api/invites/{token}/accept";
    public const string WorkspaceAudit = "api/workspaces/{workspaceId}/audit";
    // The dashboard (src/Dashboard): its page at "/", the page an invite link opens (when FRONTEND_URL does not point
    // elsewhere; the same document), and its built script and styles.
    /// <summary>
    /// The site root. The Functions host cannot route an empty template, so the root is one optional token that may only
    /// be empty (<c>maxlength(0)</c>); both hosts match "/" alone with it.
    /// </summary>
    public const string Dashboard = "{home:maxlength(0)?}";
    public const string InvitePage = "invites/{token}";
    public const string DashboardAsset = "assets/{file}";
    /// <summary>The project link of a budget alert mail (<c>{FRONTEND_URL}/projects/{id}</c>): the dashboard opens its project.</summary>
    public const string DashboardProject = "projects/{project}";
    // The API's description, its reference page (Scalar, served from this app: no CDN) and the guide for coding assistants.
    public const string OpenApiDocument = "openapi/v1.json";
    public const string ApiReference = "docs";
    public const string ApiReferenceAsset = "docs/{file}";
    public const string LlmsTxt = "llms.txt";
    /// <summary>The complete integration guide behind llms.txt's short index: every endpoint, header, error code and example.</summary>
    public const string LlmsFullTxt = "llms-full.txt";
    // Seed 002's analytics (session, workspace chosen by ?workspaceId=).
    public const string AnalyticsOverview = "api/analytics/overview";
    public const string AnalyticsTrends = "api/analytics/trends";
    public const string AnalyticsProviders = "api/analytics/providers";
    public const string AnalyticsModels = "api/analytics/models";
    public const string AnalyticsProjects = "api/analytics/projects";
    public const string AnalyticsFeatures = "api/analytics/features";
    public const string AnalyticsExportCsv = "api/analytics/export.csv";
    /// <summary>Seed 000's savings report and ROI for a session (the same reports as /v1/summary and /v1/reports/roi).</summary>
    public const string AnalyticsSummary = "api/analytics/summary";
    public const string AnalyticsRoi = "api/analytics/roi";
    /// <summary>Seed 002's digest preview: the current month of <c>?workspaceId=</c>, mailed to the caller when SMTP is set.</summary>
    public const string MonthlyDigestTest = "api/analytics/monthly-digest/test";
}
