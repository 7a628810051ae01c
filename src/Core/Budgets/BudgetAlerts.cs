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

/// <summary>Delivers alerts (SMTP); answers sent, skipped (no SMTP or no address) or failed. Never throws.</summary>
public interface IBudgetAlertSender
{
    Task<string> SendAsync(BudgetAlert alert, CancellationToken cancellationToken = default);
}
