using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Analytics;

/// <summary>
/// What one digest run did: mails by outcome, workspaces skipped because earlier runs finished theirs, and mails the
/// server never took (<see cref="MailsRetrying"/>), which the next close of the month's first week sends again.
/// </summary>
public sealed record MonthlyDigestRun(string Month, int Workspaces, int AlreadySent, int WorkspacesFailed, int MailsSent, int MailsSkipped, int MailsFailed,
    int MailsRetrying = 0);

/// <summary>
/// §6: on the 1st, the month that just ended is digested for every live workspace and mailed to each of its owners and
/// admins, one mail per person. Run by <see cref="PeriodCloseJob"/> on the 1st and again by the closes of the following
/// days of <see cref="RetryDays"/>, which send only what earlier runs could not hand to the mail server. One workspace's
/// failure is logged and never stops the others. Logs name workspaces and counts only — never addresses or mail bodies.
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
    /// <summary>The closes of the month's first days that send digests: the 1st's, then retries of what it could not send.</summary>
    public const int RetryDays = 7;

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

        Log.RunDone(logger, month, run.Workspaces, run.AlreadySent, run.WorkspacesFailed, run.MailsSent, run.MailsSkipped, run.MailsFailed, run.MailsRetrying);
        return run;
    }

    private async Task<MonthlyDigestRun> SendAsync(WorkspaceRecord workspace, DateTimeOffset monthStart, MonthlyDigestRun run, CancellationToken cancellationToken)
    {
        // A workspace whose digest is done (every recipient's mail taken by the server or given up) costs one point read.
        var done = $"digest:{BudgetPeriods.At(monthStart).Month}:{workspace.Id}";
        if (await ledger.IsMarkedAsync(done, cancellationToken))
        {
            return run with { AlreadySent = run.AlreadySent + 1 };
        }

        // Everything that only reads comes first, so a store error here leaves the digest unsent and unmarked.
        var digest = await builder.BuildAsync(workspace, monthStart, cancellationToken);
        var recipients = await RecipientsAsync(workspace.Id, cancellationToken);
        var (sent, skipped, failed, retrying, earlier) = (0, 0, 0, 0, 0);
        foreach (var (userId, email) in recipients)
        {
            // At most once per person: the marker is taken before the mail, so a second run (a retried timer, a second
            // instance, a restart on the 1st) sends nothing. It is given back only when the server never took the mail
            // (MailOutcome.Retryable), so the next close retries; a timeout mid-send may have delivered it and is not retried.
            var mark = $"{done}:{userId}";
            if (!await ledger.TryMarkClosedAsync(mark, cancellationToken))
            {
                earlier++;
                continue;
            }

            var outcome = await sender.SendAsync(digest, email, cancellationToken);
            switch (outcome.Delivery)
            {
                case AlertDelivery.Sent: sent++; break;
                case AlertDelivery.Skipped: skipped++; break;
                default: failed++; break;
            }

            if (outcome.Retryable)
            {
                retrying++;
                await ledger.ReleaseMarkAsync(mark, CancellationToken.None);
            }
        }

        if (retrying == 0)
        {
            await ledger.TryMarkClosedAsync(done, cancellationToken);
        }

        if (sent + skipped + failed == 0)
        {
            return earlier > 0 ? run with { AlreadySent = run.AlreadySent + 1 } : run;
        }

        Log.WorkspaceSent(logger, digest.Month, workspace.Id, sent, skipped, failed, retrying);
        if (audit is not null)
        {
            await audit.RecordAsync(Management.AuditActor.System(nameof(MonthlyDigestJob)), workspace.Id, AuditEvents.DigestSent, workspace.Id,
                new Dictionary<string, string?>
                {
                    ["month"] = digest.Month,
                    ["sent"] = sent.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["skipped"] = skipped.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["failed"] = failed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["retrying"] = retrying.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
        }

        return run with
        {
            MailsSent = run.MailsSent + sent, MailsSkipped = run.MailsSkipped + skipped, MailsFailed = run.MailsFailed + failed,
            MailsRetrying = run.MailsRetrying + retrying,
        };
    }

    /// <summary>The workspace's owners and admins, one per distinct email.</summary>
    private async Task<IReadOnlyList<(string UserId, string Email)>> RecipientsAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var recipients = new List<(string UserId, string Email)>();
        foreach (var member in await workspaces.ListMembersAsync(workspaceId, cancellationToken))
        {
            if (WorkspaceRoles.Rank(member.Role) >= WorkspaceRoles.Rank(WorkspaceRoles.Admin)
                && await users.GetAsync(member.UserId, cancellationToken) is { } user
                && !recipients.Exists(r => string.Equals(r.Email, user.Email, StringComparison.OrdinalIgnoreCase)))
            {
                recipients.Add((user.Id, user.Email));
            }
        }

        return recipients;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Monthly digest {Month} for workspace {WorkspaceId}: {Sent} sent, {Skipped} skipped, {Failed} failed ({Retrying} to retry at the next close)")]
        public static partial void WorkspaceSent(ILogger logger, string month, string workspaceId, int sent, int skipped, int failed, int retrying);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Monthly digest {Month} for workspace {WorkspaceId} failed: {ErrorType}; the other workspaces go on")]
        public static partial void WorkspaceFailed(ILogger logger, string month, string workspaceId, string errorType);

        [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Monthly digest {Month}: {Workspaces} workspaces, {AlreadySent} already sent, {WorkspacesFailed} failed; mails {Sent} sent, {Skipped} skipped, {Failed} failed, {Retrying} to retry")]
        public static partial void RunDone(ILogger logger, string month, int workspaces, int alreadySent, int workspacesFailed, int sent, int skipped, int failed, int retrying);
    }
}
