using System.Globalization;
using System.Text;
using KillToken.Core.Budgets;
using KillToken.Core.Management;
using Microsoft.Extensions.Logging;

namespace KillToken.Api.Notifications;

/// <summary>
/// Invite emails (seed 002): plain text with the invite link, sent off the request path so a slow or dead SMTP server
/// never delays the inviter. Without SMTP nothing is sent and the inviter shares the link the API returned.
/// </summary>
public sealed partial class SmtpInviteSender(SmtpMailer mailer, ILogger<SmtpInviteSender> logger)
{
    public const string Queued = "queued";

    /// <summary>Starts sending and answers <c>queued</c>, or <c>skipped</c> without SMTP. The outcome is logged, never the link.</summary>
    public string Queue(IssuedInvite invite, string link)
    {
        ArgumentNullException.ThrowIfNull(invite);
        if (!mailer.IsConfigured)
        {
            return AlertDelivery.Skipped;
        }

        var (subject, body) = (Subject(invite), Body(invite, link));
        _ = Task.Run(async () =>
        {
            var (outcome, errorType) = await mailer.SendAsync(invite.Record.Email, subject, body, CancellationToken.None);
            if (errorType is not null)
            {
                LogSendFailed(logger, invite.Record.Id, invite.Record.WorkspaceId, errorType);
            }
            else
            {
                LogSent(logger, invite.Record.Id, outcome.Delivery);
            }
        });
        return Queued;
    }

    public static string Subject(IssuedInvite invite) => $"[KillToken] You are invited to {invite.Workspace.Name}";

    public static string Body(IssuedInvite invite, string link)
    {
        ArgumentNullException.ThrowIfNull(invite);
        var inviter = invite.View.InvitedBy is { } by ? (string.IsNullOrWhiteSpace(by.Name) ? by.Email : $"{by.Name} ({by.Email})") : "A workspace admin";
        var text = new StringBuilder();
        void Line(FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        Line($"{inviter} invited you to the KillToken workspace \"{invite.Workspace.Name}\" as {invite.Record.Role}.");
        Line($"");
        Line($"Open this link to accept, signing in (or creating an account) with {invite.Record.Email}:");
        Line($"{link}");
        Line($"");
        Line($"The invite expires on {invite.Record.ExpiresAt:yyyy-MM-dd HH:mm} UTC. If you did not expect it, ignore this email.");
        return text.ToString();
    }

    [LoggerMessage(EventId = 4401, Level = LogLevel.Warning, Message = "The email of invite {InviteId} (workspace {WorkspaceId}) was not sent ({ErrorType})")]
    private static partial void LogSendFailed(ILogger logger, string inviteId, string workspaceId, string errorType);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Information, Message = "The email of invite {InviteId}: {Delivery}")]
    private static partial void LogSent(ILogger logger, string inviteId, string delivery);
}
