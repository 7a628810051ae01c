using System.Globalization;
using KillToken.Core.Budgets;
using KillToken.Api.Hosting;
using Microsoft.Extensions.Logging;

namespace KillToken.Api.Notifications;

/// <summary>
/// Budget alerts by email through <see cref="SmtpMailer"/>. Failures are reported, never thrown. With FRONTEND_URL set
/// (<paramref name="settings"/>), the mail ends with a link to the project's page, <c>{FRONTEND_URL}/projects/{projectId}</c>;
/// without it, with no link at all.
/// </summary>
public sealed partial class SmtpAlertSender(SmtpMailer mailer, ILogger<SmtpAlertSender> logger, KillTokenSettings? settings = null) : IBudgetAlertSender
{
    private readonly FrontendLinks _links = settings?.Frontend ?? FrontendLinks.None;

    public bool IsAvailable => mailer.IsAvailable;

    public async Task<MailOutcome> SendAsync(BudgetAlert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var percent = alert.LimitUsd == 0 ? 100 : Math.Round(alert.SpentUsd / alert.LimitUsd * 100m, 1);
        // A workspace limit (seed 002's billing) covers every project of the workspace and goes to its owners.
        var workspace = alert.Scope == BudgetScopes.Workspace;
        var what = workspace ? $"workspace {alert.ProjectName}" : alert.ProjectName;
        var budget = workspace ? "monthly workspace" : alert.Scope;
        var subject = alert.ThresholdPercent >= 100
            ? $"[KillToken] {what}: {budget} budget reached"
            : $"[KillToken] {what}: {alert.ThresholdPercent}% of the {budget} budget used";
        var whose = workspace ? "Every project's requests" : "Requests";
        var body = string.Create(CultureInfo.InvariantCulture, $"""
            {(workspace ? $"Workspace: {alert.ProjectName} ({alert.WorkspaceId}), all its projects" : $"Project: {alert.ProjectName} ({alert.ProjectId})")}
            Budget: {budget}, period {alert.Period}
            Threshold: {alert.ThresholdPercent}%
            Spent: ${alert.SpentUsd:0.######} of ${alert.LimitUsd:0.######} ({percent}%)
            Resets at: {alert.ResetsAt:yyyy-MM-ddTHH:mm:ssZ}

            {(alert.ThresholdPercent >= 100 ? $"{whose} are refused with 429 budget_exceeded until the reset." : $"{whose} use the fallback model, if one is set, until the reset.")}
            """);
        var link = workspace ? _links.Dashboard() : string.IsNullOrWhiteSpace(alert.ProjectId) ? null : _links.Project(alert.ProjectId);
        if (link is not null)
        {
            body += workspace ? $"\n\nOpen the dashboard: {link}" : $"\n\nOpen the project in the dashboard: {link}";
        }

        var (outcome, errorType) = await mailer.SendAsync(alert.AlertEmail, subject, body, cancellationToken);
        if (errorType is not null)
        {
            Log.SendFailed(logger, alert.ProjectId, errorType);
        }

        return outcome;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Alert mail for project {ProjectId} failed: {ErrorType}")]
        public static partial void SendFailed(ILogger logger, string projectId, string errorType);
    }
}
