namespace KillToken.Core.Budgets;

/// <summary>One threshold crossing: sent once per scope, threshold and period to the project's alert email.</summary>
public sealed record BudgetAlert(
    string WorkspaceId, string ProjectId, string ProjectName, string? AlertEmail, string Scope, string Period,
    int ThresholdPercent, decimal LimitUsd, decimal SpentUsd, DateTimeOffset ResetsAt);

public static class AlertDelivery
{
    public const string Sent = "sent";
    public const string Skipped = "skipped";
    public const string Failed = "failed";
}

/// <summary>
/// What one mail came to: <see cref="Delivery"/> is <c>sent</c>, <c>skipped</c> or <c>failed</c>; a failure is
/// <see cref="Retryable"/> when the server never took the message (no connection, TLS or sign-in failed, or it refused
/// with a 4xx reply), so sending it again cannot make a second copy. A timeout or a cut connection while the message was
/// being sent is not: it may have arrived.
/// </summary>
public readonly record struct MailOutcome(string Delivery, bool Retryable = false)
{
    public static MailOutcome Sent { get; } = new(AlertDelivery.Sent);
    public static MailOutcome Skipped { get; } = new(AlertDelivery.Skipped);
    public bool IsSent => Delivery == AlertDelivery.Sent;
}

/// <summary>Delivers alerts (SMTP); answers sent, skipped (no SMTP or no address) or failed. Never throws.</summary>
public interface IBudgetAlertSender
{
    Task<MailOutcome> SendAsync(BudgetAlert alert, CancellationToken cancellationToken = default);

    /// <summary>
    /// False for a short while after the mail server could not be reached: a caller holds its mail back (and tries again
    /// later) rather than claiming an alert it cannot send.
    /// </summary>
    bool IsAvailable => true;
}
