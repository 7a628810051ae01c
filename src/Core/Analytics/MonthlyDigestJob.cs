using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Analytics;

/// <summary>What one digest run did: mails by outcome, and workspaces skipped because a run already sent theirs.</summary>
public sealed record MonthlyDigestRun(string Month, int Workspaces, int AlreadySent, int WorkspacesFailed, int MailsSent, int MailsSkipped, int MailsFailed);

/// <summary>
/// §6: on the 1st, the month that just ended is digested for every live workspace and mailed to each of its owners and
/// admins, one mail per person. Run by <see cref="PeriodCloseJob"/>. One workspace's failure is logged and never stops
/// the others. Logs name workspaces and counts only — never addresses or mail bodies.
/// </summary>
public sealed partial class MonthlyDigestJob(
    IWorkspaceStore workspaces,
    IUserStore users,
    MonthlyDigestBuilder builder,
    IMonthlyDigestSender sender,
    IBudgetLedger ledger,
    ILogger<MonthlyDigestJob> logger,
    Management.AuditRecorder? audit = null)
{
    /// <summary>Sends the digest of the UTC month before the one <paramref name="now"/> falls in.</summary>
    public async Task<MonthlyDigestRun> SendPreviousMonthAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var thisMonthStart = BudgetPeriods.At(now).MonthResetsAt.AddMonths(-1);
        var previousMonthStart = thisMonthStart.AddMonths(-1);
        var month = BudgetPeriods.At(previousMonthStart).Month;
        var run = new MonthlyDigestRun(month, 0, 0, 0, 0, 0, 0);

        // The one cross-partition read of the job: it runs once a month, not on a request path.
        await foreach (var workspace in workspaces.ListAllAsync(cancellationToken))
        {
            if (workspace.CreatedAt >= thisMonthStart)
            {
                continue; // it did not exist in that month
            }

            run = run with { Workspaces = run.Workspaces + 1 };
            try
            {
                run = await SendAsync(workspace, previousMonthStart, run, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                run = run with { WorkspacesFailed = run.WorkspacesFailed + 1 };
                Log.WorkspaceFailed(logger, month, workspace.Id, ex.GetType().Name);
            }
        }

        Log.RunDone(logger, month, run.Workspaces, run.AlreadySent, run.WorkspacesFailed, run.MailsSent, run.MailsSkipped, run.MailsFailed);
        return run;
    }

    private async Task<MonthlyDigestRun> SendAsync(WorkspaceRecord workspace, DateTimeOffset monthStart, MonthlyDigestRun run, CancellationToken cancellationToken)
    {
        // Everything that only reads comes first, so a store error here leaves the digest unsent and unmarked.
        var digest = await builder.BuildAsync(workspace, monthStart, cancellationToken);
        var recipients = await RecipientsAsync(workspace.Id, cancellationToken);
        if (recipients.Count == 0)
        {
            return run;
        }

        // At-most-once: the per-workspace-per-month marker is taken before the first mail, so a second run (a retried
        // timer, a second instance, a restart on the 1st) sends nothing. A crash or a mail failure after this point is
        // not retried: a digest lost is better than a digest sent twice.
        if (!await ledger.TryMarkClosedAsync($"digest:{digest.Month}:{workspace.Id}", cancellationToken))
        {
            return run with { AlreadySent = run.AlreadySent + 1 };
        }

        var (sent, skipped, failed) = (0, 0, 0);
        foreach (var email in recipients)
        {
            switch (await sender.SendAsync(digest, email, cancellationToken))
            {
                case AlertDelivery.Sent: sent++; break;
                case AlertDelivery.Skipped: skipped++; break;
                default: failed++; break;
            }
        }

        Log.WorkspaceSent(logger, digest.Month, workspace.Id, sent, skipped, failed);
        if (audit is not null)
        {
            await audit.RecordAsync(Management.AuditActor.System(nameof(MonthlyDigestJob)), workspace.Id, AuditEvents.DigestSent, workspace.Id,
                new Dictionary<string, string?>
                {
                    ["month"] = digest.Month,
                    ["sent"] = sent.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["skipped"] = skipped.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["failed"] = failed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
        }

        return run with { MailsSent = run.MailsSent + sent, MailsSkipped = run.MailsSkipped + skipped, MailsFailed = run.MailsFailed + failed };
    }

    /// <summary>The distinct emails of the workspace's owners and admins.</summary>
    private async Task<IReadOnlyList<string>> RecipientsAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var emails = new List<string>();
        foreach (var member in await workspaces.ListMembersAsync(workspaceId, cancellationToken))
        {
            if (WorkspaceRoles.Rank(member.Role) >= WorkspaceRoles.Rank(WorkspaceRoles.Admin)
                && await users.GetAsync(member.UserId, cancellationToken) is { } user
                && !emails.Contains(user.Email, StringComparer.OrdinalIgnoreCase))
            {
                emails.Add(user.Email);
            }
        }

        return emails;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Monthly digest {Month} for workspace {WorkspaceId}: {Sent} sent, {Skipped} skipped, {Failed} failed")]
        public static partial void WorkspaceSent(ILogger logger, string month, string workspaceId, int sent, int skipped, int failed);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Monthly digest {Month} for workspace {WorkspaceId} failed: {ErrorType}; the other workspaces go on")]
        public static partial void WorkspaceFailed(ILogger logger, string month, string workspaceId, string errorType);

        [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Monthly digest {Month}: {Workspaces} workspaces, {AlreadySent} already sent, {WorkspacesFailed} failed; mails {Sent} sent, {Skipped} skipped, {Failed} failed")]
        public static partial void RunDone(ILogger logger, string month, int workspaces, int alreadySent, int workspacesFailed, int sent, int skipped, int failed);
    }
}
