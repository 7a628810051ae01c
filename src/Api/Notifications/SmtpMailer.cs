using KillToken.Core.Budgets;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace KillToken.Api.Notifications;

/// <summary>How the connection to the SMTP server is protected (SMTP_SECURE).</summary>
public enum SmtpSecurity
{
    /// <summary><c>starttls</c> (default): plain connect, then STARTTLS is required; a server that does not offer it fails.</summary>
    StartTls,

    /// <summary><c>tls</c>: TLS from the first byte (implicit TLS, usually port 465).</summary>
    Tls,

    /// <summary><c>none</c>: clear text, credentials included; only when the operator sets it explicitly.</summary>
    None,
}

/// <summary>
/// SMTP settings (SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS, SMTP_FROM, SMTP_SECURE, SMTP_TIMEOUT_SECONDS, SMTP_CA_FILE);
/// without a host, mail is skipped.
/// </summary>
public sealed record SmtpOptions
{
    public string? Host { get; init; }
    public int Port { get; init; } = 587;
    public string? User { get; init; }
    public string? Password { get; init; }
    public string From { get; init; } = "killtoken@localhost";
    public SmtpSecurity Security { get; init; } = SmtpSecurity.StartTls;
    /// <summary>One bound for connect, TLS, AUTH and sending together, so no request or close job waits on a dead server.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A PEM file of CA certificates trusted in addition to the system roots (a private relay's CA).</summary>
    public string? CaFile { get; init; }

    public override string ToString() => $"smtp {Host}:{Port} {Security} (password redacted)";
}

/// <summary>
/// The one place that speaks SMTP: a plain-text mail through MailKit, used by budget alerts, monthly digests and invites.
/// Answers a <see cref="MailOutcome"/> — <c>sent</c>, <c>skipped</c> (no SMTP host, or no address) or <c>failed</c>,
/// retryable when the server never took the message — with the error's type name only (its message may echo the
/// server's reply); never throws for a delivery problem. Only the caller's own cancellation propagates; running out of
/// <see cref="SmtpOptions.Timeout"/> is a <c>failed</c> with <c>TimeoutException</c>. After a failure to reach the
/// server, <see cref="IsAvailable"/> is false for one timeout's length, so callers that can wait do not pile up on a dead
/// server.
/// </summary>
public sealed class SmtpMailer
{
    private readonly SmtpOptions _options;
    private readonly SmtpServerCertificateTrust? _extraTrust;
    private readonly TimeProvider _time;
    private long _unreachableUntil;

    public SmtpMailer(SmtpOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        _extraTrust = options.CaFile is null ? null : SmtpServerCertificateTrust.FromPemFile(options.CaFile, options.Timeout);
    }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(_options.Host);

    /// <summary>False for one <see cref="SmtpOptions.Timeout"/> after the server could not be reached.</summary>
    public bool IsAvailable => _time.GetUtcNow().UtcTicks >= Interlocked.Read(ref _unreachableUntil);

    public async Task<(MailOutcome Outcome, string? ErrorType)> SendAsync(string? to, string subject, string body, CancellationToken cancellationToken = default)
    {
        var host = _options.Host;
        if (string.IsNullOrWhiteSpace(host) || string.IsNullOrWhiteSpace(to))
        {
            return (MailOutcome.Skipped, null);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.Timeout);
        // Until the message goes out, a failure leaves nothing at the server: sending again is safe.
        var handedOver = false;
        try
        {
            using var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse(_options.From));
            message.To.Add(MailboxAddress.Parse(to));
            message.Subject = OneLine(subject);
            message.Body = new TextPart("plain") { Text = body };

            using var client = new SmtpClient
            {
                // Per read/write; the linked token above bounds the whole exchange.
                Timeout = (int)_options.Timeout.TotalMilliseconds,
                ServerCertificateValidationCallback = _extraTrust is null ? null : _extraTrust.Validate,
            };
            await client.ConnectAsync(host, _options.Port, SocketOptions(_options.Security), deadline.Token);
            if (!string.IsNullOrEmpty(_options.User))
            {
                // Reached only over TLS unless the operator chose SMTP_SECURE=none: StartTls fails before this line
                // when the server does not offer STARTTLS.
                await client.AuthenticateAsync(_options.User, _options.Password ?? string.Empty, deadline.Token);
            }

            handedOver = true;
            await client.SendAsync(message, deadline.Token);
            try
            {
                await client.DisconnectAsync(quit: true, deadline.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The server accepted the message; a failed QUIT does not make it unsent.
            }

            return (MailOutcome.Sent, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(nameof(TimeoutException), retryable: !handedOver);
        }
        catch (SmtpCommandException ex) when ((int)ex.StatusCode is >= 400 and < 500)
        {
            // A 4xx reply (mailbox busy, greylisted, too many connections): the server refused the message for now.
            return Failed(ex.GetType().Name, retryable: true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Anything the network, TLS, the server or MimeKit's address parser throws is a delivery problem. Only the
            // type name leaves: messages can carry the server's reply text.
            return Failed(ex.GetType().Name, retryable: !handedOver && ex is not FormatException and not ParseException);
        }
    }

    private (MailOutcome, string) Failed(string errorType, bool retryable)
    {
        if (retryable)
        {
            Interlocked.Exchange(ref _unreachableUntil, (_time.GetUtcNow() + _options.Timeout).UtcTicks);
        }

        return (new MailOutcome(AlertDelivery.Failed, retryable), errorType);
    }

    private static SecureSocketOptions SocketOptions(SmtpSecurity security) => security switch
    {
        SmtpSecurity.Tls => SecureSocketOptions.SslOnConnect,
        SmtpSecurity.None => SecureSocketOptions.None,
        _ => SecureSocketOptions.StartTls, // required, never StartTlsWhenAvailable: no silent fall-back to clear text
    };

    /// <summary>Subjects hold user-chosen names; a line break in one would make the message invalid.</summary>
    private static string OneLine(string text) => string.Concat(text.Select(c => char.IsControl(c) ? ' ' : c));
}
