using System.Globalization;
using System.Text;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Api.Hosting;
using Microsoft.Extensions.Logging;

namespace KillToken.Api.Notifications;

/// <summary>
/// Monthly digests by email through <see cref="SmtpMailer"/>: plain text, numbers in the invariant culture. With
/// FRONTEND_URL set (<paramref name="settings"/>), the digest ends with a link to the dashboard, <c>{FRONTEND_URL}/</c>;
/// without it, with no link at all.
/// </summary>
public sealed partial class SmtpDigestSender(SmtpMailer mailer, ILogger<SmtpDigestSender> logger, KillTokenSettings? settings = null) : IMonthlyDigestSender
{
    private readonly FrontendLinks _links = settings?.Frontend ?? FrontendLinks.None;

    public async Task<MailOutcome> SendAsync(MonthlyDigest digest, string recipientEmail, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var (outcome, errorType) = await mailer.SendAsync(recipientEmail, Subject(digest), Body(digest, _links.Dashboard()), cancellationToken);
        if (errorType is not null)
        {
            Log.SendFailed(logger, digest.Month, digest.WorkspaceId, errorType);
        }

        return outcome;
    }

    public static string Subject(MonthlyDigest digest) => $"[KillToken] {digest.WorkspaceName}: monthly digest {digest.Month}";

    /// <param name="digest">The month's numbers.</param>
    /// <param name="dashboardLink">The dashboard's address for the closing line; null leaves the line out.</param>
    public static string Body(MonthlyDigest digest, string? dashboardLink = null)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var text = new StringBuilder();
        void Line(FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append("\r\n");

        Line($"Workspace: {digest.WorkspaceName} ({digest.WorkspaceId})");
        Line($"Month: {digest.Month} ({digest.From} to {digest.To}, UTC)");
        Line($"");
        if (digest.TotalRequests == 0)
        {
            Line($"No requests went through KillToken this month.");
        }

        Line($"Total spend: ${digest.TotalSpendUsd:0.00####}");
        Line($"Total requests: {digest.TotalRequests}");
        Line($"Blocked requests: {digest.BlockedRequests}");
        Line($"Realized savings: ${digest.RealizedSavingsUsd:0.00####}");
        Line($"Top provider: {Leader(digest.TopProvider)}");
        Line($"Top model: {Leader(digest.TopModel)}");
        Line($"Top project: {Leader(digest.TopProject)}");
        Line($"");
        if (digest.BudgetWarnings.Count == 0)
        {
            Line($"Budget warnings: none");
        }
        else
        {
            Line($"Budget warnings:");
            foreach (var warning in digest.BudgetWarnings)
            {
                Line($"- {warning.ProjectName}: {warning.Message}");
            }
        }

        Line($"");
        Line($"Recommended action: {digest.RecommendedAction}");
        if (dashboardLink is not null)
        {
            Line($"");
            Line($"Dashboard: {dashboardLink}");
        }

        return text.ToString();
    }

    private static string Leader(DigestLeader? leader) => leader is null
        ? "none"
        : string.Create(CultureInfo.InvariantCulture, $"{leader.Name} (${leader.CostUsd:0.00####}, {leader.Requests} requests)");

    private static partial class Log
    {
        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Digest mail {Month} for workspace {WorkspaceId} failed: {ErrorType}")]
        public static partial void SendFailed(ILogger logger, string month, string workspaceId, string errorType);
    }
}
