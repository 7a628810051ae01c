using System.Net;
using System.Net.Mail;
using KillToken.Core.Budgets;

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

/// <summary>
/// The one place that speaks SMTP: a plain-text mail through the framework's client, used by budget alerts and monthly
/// digests. Answers <c>sent</c>, <c>skipped</c> (no SMTP host, or no address) or <c>failed</c> with the error's type
/// name only (its message may echo the server's reply); never throws for a delivery problem.
/// </summary>
public sealed class SmtpMailer(SmtpOptions options)
{
    public bool IsConfigured => !string.IsNullOrWhiteSpace(options.Host);

    public async Task<(string Delivery, string? ErrorType)> SendAsync(string? to, string subject, string body, CancellationToken cancellationToken = default)
    {
        if (!IsConfigured || string.IsNullOrWhiteSpace(to))
        {
            return (AlertDelivery.Skipped, null);
        }

        try
        {
            using var client = new SmtpClient(options.Host, options.Port) { EnableSsl = options.EnableSsl, DeliveryMethod = SmtpDeliveryMethod.Network };
            if (!string.IsNullOrEmpty(options.User))
            {
                client.Credentials = new NetworkCredential(options.User, options.Password);
            }

            using var message = new MailMessage(options.From, to, OneLine(subject), body);
            await client.SendMailAsync(message, cancellationToken);
            return (AlertDelivery.Sent, null);
        }
        catch (Exception ex) when (ex is SmtpException or InvalidOperationException or FormatException or ArgumentException or IOException)
        {
            return (AlertDelivery.Failed, ex.GetType().Name);
        }
    }

    /// <summary>Subjects hold user-chosen names; a line break in one would make the message invalid.</summary>
    private static string OneLine(string text) => string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
}
