using KillToken.Api.Handlers;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

public static class KillTokenEndpointRouteBuilderExtensions
{
    /// <summary>The self-host's endpoints: the same route table and handlers as the Functions host, one line each.</summary>
    public static IEndpointRouteBuilder MapKillToken(this IEndpointRouteBuilder app)
    {
        var sp = app.ServiceProvider;
        var gateway = sp.GetRequiredService<GatewayHandlers>();
        var credentials = sp.GetRequiredService<CredentialHandlers>();
        var accounts = sp.GetRequiredService<AccountHandlers>();
        var health = sp.GetRequiredService<HealthHandlers>();
        var analytics = sp.GetRequiredService<AnalyticsHandlers>();
        var team = sp.GetRequiredService<TeamHandlers>();

        app.MapGet(Routes.Health, health.Health);
        app.MapGet(Routes.Ready, Handle(health.ReadyAsync));

        app.MapPost(Routes.Chat, Handle(gateway.ChatAsync));
        app.MapGet(Routes.Requests, Handle(gateway.ListRequestsAsync));
        app.MapGet(Routes.Summary, Handle(gateway.SummaryAsync));
        app.MapGet(Routes.RoiReport, Handle(gateway.RoiAsync));
        app.MapGet(Routes.RequestById, (HttpContext c, string requestId) => gateway.GetRequestAsync(c, requestId));
        app.MapGet(Routes.ExportRequestsCsv, Handle(analytics.RequestsCsvAsync));
        app.MapGet(Routes.ExportAnalyticsJson, Handle(analytics.AnalyticsJsonAsync));

        app.MapPost(Routes.OpenAIChatCompletions, Handle(gateway.OpenAIChatCompletionsAsync));
        app.MapGet(Routes.OpenAIModels, Handle(gateway.OpenAIModelsAsync));
        app.MapPost(Routes.AnthropicMessages, Handle(gateway.AnthropicMessagesAsync));
        app.MapPost(Routes.AnthropicV1Messages, Handle(gateway.AnthropicMessagesAsync));
        app.MapPost(Routes.GeminiGenerateContent, (HttpContext c, string model) => gateway.GeminiGenerateContentAsync(c, model));
        app.MapPost(Routes.GeminiStreamGenerateContent, (HttpContext c, string model) => gateway.GeminiStreamGenerateContentAsync(c, model));
        app.MapPost(Routes.ProxyOpenAIChatCompletions, Handle(gateway.OpenAIChatCompletionsAsync));
        app.MapGet(Routes.ProxyOpenAIModels, Handle(gateway.OpenAIModelsAsync));
        app.MapPost(Routes.ProxyAnthropicMessages, Handle(gateway.AnthropicMessagesAsync));
        app.MapPost(Routes.ProxyGeminiGenerateContent, (HttpContext c, string model) => gateway.GeminiGenerateContentAsync(c, model));
        app.MapPost(Routes.ProxyGeminiStreamGenerateContent, (HttpContext c, string model) => gateway.GeminiStreamGenerateContentAsync(c, model));
        app.MapPost(Routes.ProxyGeminiGenerateContentPath, (HttpContext c, string model) => gateway.GeminiGenerateContentAsync(c, model));

        app.MapGet(Routes.Credentials, Handle(credentials.ListByKeyAsync));
        app.MapPost(Routes.Credentials, Handle(credentials.CreateByKeyAsync));
        app.MapGet(Routes.CredentialById, (HttpContext c, string credentialId) => credentials.GetByKeyAsync(c, credentialId));
        app.MapPatch(Routes.CredentialById, (HttpContext c, string credentialId) => credentials.UpdateByKeyAsync(c, credentialId));
        app.MapDelete(Routes.CredentialById, (HttpContext c, string credentialId) => credentials.DeleteByKeyAsync(c, credentialId));
        app.MapPost(Routes.CredentialTest, (HttpContext c, string credentialId) => credentials.TestByKeyAsync(c, credentialId));

        app.MapPost(Routes.SignUp, Handle(accounts.SignUpAsync));
        app.MapPost(Routes.Login, Handle(accounts.LoginAsync));
        app.MapGet(Routes.Me, Handle(accounts.MeAsync));
        app.MapGet(Routes.Workspaces, Handle(accounts.ListWorkspacesAsync));
        app.MapPost(Routes.Workspaces, Handle(accounts.CreateWorkspaceAsync));
        app.MapGet(Routes.WorkspaceById, (HttpContext c, string workspaceId) => accounts.GetWorkspaceAsync(c, workspaceId));
        app.MapPatch(Routes.WorkspaceById, (HttpContext c, string workspaceId) => accounts.UpdateWorkspaceAsync(c, workspaceId));
        app.MapDelete(Routes.WorkspaceById, (HttpContext c, string workspaceId) => accounts.DeleteWorkspaceAsync(c, workspaceId));
        app.MapGet(Routes.WorkspaceProjects, (HttpContext c, string workspaceId) => accounts.ListProjectsAsync(c, workspaceId));
        app.MapPost(Routes.WorkspaceProjects, (HttpContext c, string workspaceId) => accounts.CreateProjectAsync(c, workspaceId));
        app.MapGet(Routes.ProjectById, (HttpContext c, string projectId) => accounts.GetProjectAsync(c, projectId));
        app.MapPatch(Routes.ProjectById, (HttpContext c, string projectId) => accounts.UpdateProjectAsync(c, projectId));
        app.MapPost(Routes.ProjectRegenerateKey, (HttpContext c, string projectId) => accounts.RegenerateKeyAsync(c, projectId));
        app.MapPost(Routes.ProjectDeactivate, (HttpContext c, string projectId) => accounts.DeactivateAsync(c, projectId));
        app.MapPost(Routes.ProjectActivate, (HttpContext c, string projectId) => accounts.ActivateAsync(c, projectId));
        app.MapGet(Routes.WorkspacePricing, (HttpContext c, string workspaceId) => accounts.GetPricingAsync(c, workspaceId));
        app.MapPut(Routes.WorkspacePricing, (HttpContext c, string workspaceId) => accounts.SetPricingAsync(c, workspaceId));
        app.MapGet(Routes.WorkspaceRequests, (HttpContext c, string workspaceId) => accounts.ListWorkspaceRequestsAsync(c, workspaceId));
        app.MapPost(Routes.MonthlyDigestTest, Handle(accounts.TestMonthlyDigestAsync));
        app.MapGet(Routes.AnalyticsOverview, Handle(analytics.OverviewAsync));
        app.MapGet(Routes.AnalyticsTrends, Handle(analytics.TrendsAsync));
        app.MapGet(Routes.AnalyticsProviders, Handle(analytics.ProvidersAsync));
        app.MapGet(Routes.AnalyticsModels, Handle(analytics.ModelsAsync));
        app.MapGet(Routes.AnalyticsProjects, Handle(analytics.ProjectsAsync));
        app.MapGet(Routes.AnalyticsFeatures, Handle(analytics.FeaturesAsync));
        app.MapGet(Routes.AnalyticsExportCsv, Handle(analytics.ExportCsvAsync));
        app.MapGet(Routes.AnalyticsSummary, Handle(analytics.SummaryAsync));
        app.MapGet(Routes.AnalyticsRoi, Handle(analytics.RoiAsync));

        app.MapGet(Routes.WorkspaceCredentials, (HttpContext c, string workspaceId) => credentials.ListBySessionAsync(c, workspaceId));
        app.MapPost(Routes.WorkspaceCredentials, (HttpContext c, string workspaceId) => credentials.CreateBySessionAsync(c, workspaceId));
        app.MapPatch(Routes.WorkspaceCredentialById, (HttpContext c, string workspaceId, string credentialId) => credentials.UpdateBySessionAsync(c, workspaceId, credentialId));
        app.MapDelete(Routes.WorkspaceCredentialById, (HttpContext c, string workspaceId, string credentialId) => credentials.DeleteBySessionAsync(c, workspaceId, credentialId));
        app.MapPost(Routes.WorkspaceCredentialTest, (HttpContext c, string workspaceId, string credentialId) => credentials.TestBySessionAsync(c, workspaceId, credentialId));

        app.MapGet(Routes.WorkspaceMembers, (HttpContext c, string workspaceId) => team.ListMembersAsync(c, workspaceId));
        app.MapPatch(Routes.WorkspaceMemberById, (HttpContext c, string workspaceId, string userId) => team.ChangeRoleAsync(c, workspaceId, userId));
        app.MapDelete(Routes.WorkspaceMemberById, (HttpContext c, string workspaceId, string userId) => team.RemoveMemberAsync(c, workspaceId, userId));
        app.MapGet(Routes.WorkspaceInvites, (HttpContext c, string workspaceId) => team.ListInvitesAsync(c, workspaceId));
        app.MapPost(Routes.WorkspaceInvites, (HttpContext c, string workspaceId) => team.CreateInviteAsync(c, workspaceId));
        app.MapPost(Routes.WorkspaceInviteResend, (HttpContext c, string workspaceId, string inviteId) => team.ResendInviteAsync(c, workspaceId, inviteId));
        app.MapDelete(Routes.WorkspaceInviteById, (HttpContext c, string workspaceId, string inviteId) => team.CancelInviteAsync(c, workspaceId, inviteId));
        app.MapGet(Routes.InviteByToken, (HttpContext c, string token) => team.PreviewInviteAsync(c, token));
        app.MapPost(Routes.InviteAccept, (HttpContext c, string token) => team.AcceptInviteAsync(c, token));
        app.MapGet(Routes.WorkspaceAudit, (HttpContext c, string workspaceId) => team.ListAuditAsync(c, workspaceId));

        app.MapGet(Routes.Dashboard, (HttpContext c, string? home) => DashboardPages.Home(c, home));
        app.MapGet(Routes.InvitePage, (HttpContext c, string token) => DashboardPages.Invite(c, token));
        app.MapGet(Routes.DashboardAsset, (HttpContext c, string file) => DashboardPages.Asset(c, file));
        app.MapGet(Routes.DashboardProject, (HttpContext c, string project) => DashboardPages.Project(c, project));
        app.MapGet(Routes.OpenApiDocument, Handle(ApiReferencePages.OpenApiDocument));
        app.MapGet(Routes.ApiReference, Handle(ApiReferencePages.Reference));
        app.MapGet(Routes.ApiReferenceAsset, (HttpContext c, string file) => ApiReferencePages.Asset(c, file));
        app.MapGet(Routes.LlmsTxt, Handle(ApiReferencePages.LlmsTxt));
        app.MapGet(Routes.LlmsFullTxt, Handle(ApiReferencePages.LlmsFullTxt));
        return app;
    }

    /// <summary>Binds as a route handler (whose IResult is written), not as a bare RequestDelegate.</summary>
    private static Delegate Handle(Func<HttpContext, Task<IResult>> handler) => handler;
}
