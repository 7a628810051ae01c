using System.Globalization;
using System.Net;
using System.Net.Mail;
using KillToken.Core.Budgets;
using Microsoft.Extensions.Logging;

namespace KillToken.Functions.Notifications;

/// <summary>SMTP settings (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS, SMTP_FROM); without a host, mail is skipped.</summary>
public sealed record SmtpOptions
{
    public string? Host { get; init; }
    public int Port { get; init; } = 587;
    public string? User { get; init; }
    public string? Password { get; init; }
    public string From { get; init; } = "killtoken@localhost";
    /// <summary>STARTTLS when the server offers it; off for plain local relays and tests.</summary>
    public bool EnableSsl { get; init; }

    public override string ToString() => $"smtp {Host}:{Port} (password redacted)";
}

/// <summary>Budget alerts by email through the framework's SMTP client. Failures are reported, never thrown.</summary>
public sealed partial class SmtpAlertSender(SmtpOptions options, ILogger<SmtpAlertSender> logger) : IBudgetAlertSender
{
    public async Task<string> SendAsync(BudgetAlert alert, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(options.Host) || string.IsNullOrWhiteSpace(alert.AlertEmail))
        {
            return AlertDelivery.Skipped;
        }

        var percent = alert.LimitUsd == 0 ? 100 : Math.Round(alert.SpentUsd / alert.LimitUsd * 100m, 1);
        var subject = alert.ThresholdPercent >= 100
            ? $"[KillToken] {alert.ProjectName}: {alert.Scope} budget reached"
            : $"[KillToken] {alert.ProjectName}: {alert.ThresholdPercent}% of the {alert.Scope} budget used";
        var body = string.Create(CultureInfo.InvariantCulture, $"""
            Project: {alert.ProjectName} ({alert.ProjectId})
            Budget: {alert.Scope}, period {alert.Period}
            Threshold: {alert.ThresholdPercent}%
            Spent: ${alert.SpentUsd:0.######} of ${alert.LimitUsd:0.######} ({percent}%)
            Resets at: {alert.ResetsAt:yyyy-MM-ddTHH:mm:ssZ}

            {(alert.ThresholdPercent >= 100 ? "Requests are refused with 429 budget_exceeded until the reset." : "Requests use the fallback model, if one is set, until the reset.")}
            """);

        try
        {
            using var client = new SmtpClient(options.Host, options.Port) { EnableSsl = options.EnableSsl, DeliveryMethod = SmtpDeliveryMethod.Network };
            if (!string.IsNullOrEmpty(options.User))
            {
                client.Credentials = new NetworkCredential(options.User, options.Password);
            }

            using var message = new MailMessage(options.From, alert.AlertEmail, subject, body);
            await client.SendMailAsync(message, cancellationToken);
            return AlertDelivery.Sent;
        }
        catch (Exception ex) when (ex is SmtpException or InvalidOperationException or FormatException or IOException)
        {
            Log.SendFailed(logger, alert.ProjectId, ex.GetType().Name);
            return AlertDelivery.Failed;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Alert mail for project {ProjectId} failed: {ErrorType}")]
        public static partial void SendFailed(ILogger logger, string projectId, string errorType);
    }
}
