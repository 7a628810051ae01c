using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Budgets;

/// <summary>
/// Budgets that serve up to the limit and never past it. A call is admitted only with a reservation of its maximum cost
/// that fits beside settled spend and every outstanding reservation — in the project's daily and monthly limits and the
/// workspace's monthly limit — so settled spend never passes a limit as long as no call costs more than it reserved.
/// When the worst case does not fit, a call whose caller set no output cap is sent with a lower cap the remaining budget
/// pays for (at least <see cref="MinimumOutputCap"/> tokens); failing that, the project's fallback model is tried the same
/// way. A call is refused only when no candidate fits even with every in-flight call settled at zero; when the room is
/// merely held by in-flight calls, it waits for them to settle instead.
/// </summary>
public sealed partial class BudgetGate(
    IBudgetLedger ledger,
    IPricingCatalog pricing,
    WorkspaceSettings workspaces,
    IWorkspaceStore workspaceStore,
    IUserStore users,
    IBudgetAlertSender alerts,
    GatewayOptions options,
    TimeProvider time,
    ILogger<BudgetGate> logger,
    Management.AuditRecorder? audit = null) : IBudgetGate
{
    public const decimal FallbackThreshold = 0.8m;
    public const int DefaultOutputCap = 4096;

    /// <summary>
    /// The smallest output cap admission lowers a call to. Below it most answers would be cut off mid-sentence, so the
    /// call goes to the fallback model or is refused instead of being sent to fail.
    /// </summary>
    public const int MinimumOutputCap = 256;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _settled = new(StringComparer.Ordinal);

    public async Task<BudgetPlan> PlanAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        var workspaceLimit = (await workspaces.GetAsync(project.WorkspaceId, cancellationToken))?.MonthlyBudgetUsd;
        return project.DailyBudgetUsd is null && project.MonthlyBudgetUsd is null && workspaceLimit is null
            // No limit to reach and no threshold to fall back at: nothing to read (spend is still counted at settle).
            ? new BudgetPlan { Periods = BudgetPeriods.At(time.GetUtcNow()), Usage = BudgetUsage.Zero }
            : await DescribeAsync(project, workspaceLimit, cancellationToken);
    }

    public async Task<BudgetPlan> DescribeAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        return await DescribeAsync(project, (await workspaces.GetAsync(project.WorkspaceId, cancellationToken))?.MonthlyBudgetUsd, cancellationToken);
    }

    private async Task<BudgetPlan> DescribeAsync(ProjectRecord project, decimal? workspaceLimit, CancellationToken cancellationToken)
    {
        var periods = BudgetPeriods.At(time.GetUtcNow());
        var usage = new Usage(
            await ledger.GetAsync(project.WorkspaceId, project.Id, periods, cancellationToken),
            workspaceLimit is null ? BudgetUsage.Zero : await ledger.GetAsync(project.WorkspaceId, WorkspaceBudget.LedgerId, periods, cancellationToken));
        var limits = Limits(project, workspaceLimit, periods);
        var plan = new BudgetPlan { Periods = periods, Usage = usage.Project, WorkspaceMonthlyBudgetUsd = workspaceLimit, WorkspaceUsage = usage.Workspace, HasLimits = limits.Count > 0 };
        if (limits.FirstOrDefault(l => l.Spent(usage) >= l.Usd) is { } reached)
        {
            return plan with { Rejection = Rejection(reached, usage, requiredUsd: null, heldByCallsInFlight: false) };
        }

        var nearLimit = limits.Any(l => l.Spent(usage) >= l.Usd * FallbackThreshold);
        return plan with
        {
            FallbackModel = nearLimit ? project.FallbackModel : null,
            FallbackProvider = nearLimit && project.FallbackProvider is { } p && ProviderId.TryParse(p, out var provider) ? provider : null,
        };
    }

    public async Task<BudgetAdmission> AdmitAsync(ProjectRecord project, BudgetPlan plan, IReadOnlyList<BudgetCandidate> candidates,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("Admission needs at least one candidate model.", nameof(candidates));
        }

        var limits = Limits(project, plan.WorkspaceMonthlyBudgetUsd, plan.Periods);
        if (limits.Count == 0)
        {
            // Nothing to hold back, nothing to cap: spend is still counted when the call settles.
            return new BudgetAdmission(0, new BudgetReservation(plan.Periods, 0m), null, false, null);
        }

        var costs = candidates.Select(Cost).ToList();
        var deadline = time.GetUtcNow() + options.ProviderTimeout;
        while (true)
        {
            var wait = _settled.GetOrAdd(project.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            Usage seen = new(plan.Usage, plan.WorkspaceUsage);
            for (var i = 0; i < costs.Count; i++)
            {
                var cost = costs[i];
                // The worst case first; once more if the usage read after a refusal shows it fits after all (calls settled
                // meanwhile); else the largest lowered cap the room pays for.
                for (var attempt = 0; attempt < 2; attempt++)
                {
                    var (held, usage) = await TryHoldAsync(project, plan, cost.WorstCaseUsd, cancellationToken);
                    if (held is not null)
                    {
                        return new BudgetAdmission(i, held, cost.LowerableOutput, false, null);
                    }

                    seen = usage;
                    if (limits.Min(l => l.Room(usage, countReserved: true)) < cost.WorstCaseUsd)
                    {
                        break;
                    }
                }

                if (cost.Lowered(limits.Min(l => l.Room(seen, countReserved: true))) is not { } lowered)
                {
                    continue;
                }

                var (heldLowered, afterLowered) = await TryHoldAsync(project, plan, lowered.AmountUsd, cancellationToken);
                if (heldLowered is not null)
                {
                    return new BudgetAdmission(i, heldLowered, lowered.OutputCap, true, null);
                }

                seen = afterLowered;
            }

            // Nothing fits now. Refuse when nothing would fit even if every in-flight call settled at zero; otherwise wait.
            var smallest = costs.Min(c => c.SmallestUsd);
            var binding = limits.MinBy(l => l.Room(seen, countReserved: false))!;
            if (!Fits(binding.Room(seen, countReserved: false), smallest))
            {
                return new BudgetAdmission(0, null, null, false, Rejection(binding, seen, smallest, heldByCallsInFlight: false));
            }

            if (time.GetUtcNow() > deadline)
            {
                var held = limits.MinBy(l => l.Room(seen, countReserved: true))!;
                return new BudgetAdmission(0, null, null, false, Rejection(held, seen, smallest, heldByCallsInFlight: true));
            }

            await Task.WhenAny(wait, Task.Delay(PollInterval, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }

        // With nothing to reserve (an unpriced model), a limit is reached when spend has reached it.
        static bool Fits(decimal room, decimal amount) => amount == 0 ? room > 0 : room >= amount;
    }

    /// <summary>
    /// Holds <paramref name="amount"/> in the workspace's counter (when it has a limit) and then the project's; both or
    /// neither. The workspace's is taken first and given back if the project's refuses or fails, so the two never
    /// overshoot — at worst a concurrent call sees the workspace briefly fuller than it is (it then waits, or is sent
    /// with a lower cap than it could have had).
    /// </summary>
    private async Task<(BudgetReservation? Held, Usage Seen)> TryHoldAsync(ProjectRecord project, BudgetPlan plan, decimal amount, CancellationToken cancellationToken)
    {
        var (workspaceId, periods) = (project.WorkspaceId, plan.Periods);
        if (plan.WorkspaceMonthlyBudgetUsd is not { } workspaceLimit)
        {
            var (reserved, usage) = await ledger.TryReserveAsync(workspaceId, project.Id, periods, amount, project.DailyBudgetUsd, project.MonthlyBudgetUsd, cancellationToken);
            return (reserved ? new BudgetReservation(periods, amount) : null, new Usage(usage, BudgetUsage.Zero));
        }

        var (workspaceReserved, workspaceUsage) = await ledger.TryReserveAsync(workspaceId, WorkspaceBudget.LedgerId, periods, amount, null, workspaceLimit, cancellationToken);
        if (!workspaceReserved)
        {
            return (null, new Usage(await ledger.GetAsync(workspaceId, project.Id, periods, cancellationToken), workspaceUsage));
        }

        bool projectReserved;
        BudgetUsage projectUsage;
        try
        {
            (projectReserved, projectUsage) = await ledger.TryReserveAsync(workspaceId, project.Id, periods, amount, project.DailyBudgetUsd, project.MonthlyBudgetUsd, cancellationToken);
        }
        catch
        {
            // Cancelled or failed between the two holds: the workspace's is given back, never left held.
            await ledger.SettleAsync(workspaceId, WorkspaceBudget.LedgerId, periods, amount, 0m, CancellationToken.None);
            throw;
        }

        if (projectReserved)
        {
            return (new BudgetReservation(periods, amount, IncludesWorkspace: true), new Usage(projectUsage, workspaceUsage));
        }

        await ledger.SettleAsync(workspaceId, WorkspaceBudget.LedgerId, periods, amount, 0m, CancellationToken.None);
        return (null, new Usage(projectUsage, workspaceUsage with { DayReserved = workspaceUsage.DayReserved - amount, MonthReserved = workspaceUsage.MonthReserved - amount }));
    }

    public async Task SettleAsync(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(reservation);
        if (reservation.AmountUsd == 0 && actualCostUsd == 0)
        {
            return; // nothing held, nothing spent: no write
        }

        await ledger.SettleAsync(project.WorkspaceId, project.Id, reservation.Periods, reservation.AmountUsd, actualCostUsd, cancellationToken);
        // The workspace's counter gets every call's spend, and gives back what was held in it.
        if (actualCostUsd != 0 || reservation.IncludesWorkspace)
        {
            await ledger.SettleAsync(project.WorkspaceId, WorkspaceBudget.LedgerId, reservation.Periods, reservation.IncludesWorkspace ? reservation.AmountUsd : 0m,
                actualCostUsd, cancellationToken);
        }

        Settled(project, reservation, actualCostUsd);
    }

    public void Settled(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(reservation);
        if (_settled.TryRemove(project.Id, out var signal))
        {
            signal.TrySetResult();
        }

        if (actualCostUsd > 0 && (project.DailyBudgetUsd is not null || project.MonthlyBudgetUsd is not null || reservation.IncludesWorkspace))
        {
            // Off the request path: a slow or broken mail server never delays or fails a call.
            _ = Task.Run(() => AlertAsync(project, reservation, CancellationToken.None), CancellationToken.None);
        }
    }

    /// <summary>
    /// The most a call can use: its input estimate and its output cap (the caller's, or the one admission sent; else the
    /// model's largest output, else <see cref="DefaultOutputCap"/>). What a reservation holds, and what a call whose usage
    /// is missing or invalid is charged.
    /// </summary>
    public static TokenUsage WorstCase(ModelPrice price, long inputTokens, long? outputCap)
    {
        ArgumentNullException.ThrowIfNull(price);
        return new() { InputTokens = Math.Max(0, inputTokens), OutputTokens = outputCap ?? price.MaxOutput ?? DefaultOutputCap, Reported = true };
    }

    /// <summary>
    /// The output cap a request's options set: <c>max_completion_tokens</c>, <c>max_tokens</c> and the other providers'
    /// names, also inside Gemini's <c>generationConfig</c> and Bedrock's <c>inferenceConfig</c>; whole numbers only.
    /// </summary>
    public static long? OutputCap(JsonObject? options)
    {
        if (options is null)
        {
            return null;
        }

        var nested = (options["generationConfig"] ?? options["generation_config"] ?? options["inferenceConfig"]) as JsonObject;
        foreach (var (holder, name) in new[]
        {
            (options, "max_completion_tokens"), (options, "max_tokens"), (options, "max_output_tokens"), (options, "maxOutputTokens"), (options, "maxTokens"),
            (nested, "maxOutputTokens"), (nested, "max_output_tokens"), (nested, "maxTokens"),
        })
        {
            if (holder?[name] is JsonValue value && value.TryGetValue<decimal>(out var cap) && cap >= 1 && cap == decimal.Truncate(cap) && cap <= long.MaxValue)
            {
                return (long)cap;
            }
        }

        return null;
    }

    private CandidateCost Cost(BudgetCandidate candidate)
    {
        var price = pricing.Find(candidate.Provider, candidate.Model, candidate.PriceOverrides);
        if (price is null)
        {
            return new CandidateCost(null, 0, null, 0m, 0m);
        }

        var worst = WorstCase(price, candidate.InputTokens, candidate.CallerOutputCap);
        var worstUsd = PricingCatalog.Compute(price, worst);
        // A caller's own cap is kept as it is, so its worst case is also its smallest; otherwise the minimum output.
        var smallestUsd = candidate.CallerOutputCap is not null || worst.OutputTokens <= MinimumOutputCap
            ? worstUsd
            : Held(PricingCatalog.Compute(price, worst with { OutputTokens = MinimumOutputCap }));
        return new CandidateCost(price, worst.InputTokens, candidate.CallerOutputCap is null ? worst.OutputTokens : null, worstUsd, smallestUsd);
    }

    /// <summary>What the ledger holds for an amount: rounded up to a whole nano-dollar.</summary>
    private static decimal Held(decimal usd) => Math.Ceiling(usd * 1_000_000_000m) / 1_000_000_000m;

    /// <summary>What one candidate costs: its worst case, the least it can be admitted for, and the lowered cap a room buys.</summary>
    /// <param name="LowerableOutput">
    /// The worst-case output when the caller set no cap: what is sent upstream as the cap (so the reservation really is the
    /// most the call can cost), and what admission may lower. Null when the caller set its own, or the model is unpriced.
    /// </param>
    private sealed record CandidateCost(ModelPrice? Price, long InputTokens, long? LowerableOutput, decimal WorstCaseUsd, decimal SmallestUsd)
    {
        /// <summary>The largest output cap (≥ <see cref="MinimumOutputCap"/>, below the worst case) whose held cost fits <paramref name="room"/>.</summary>
        public (long OutputCap, decimal AmountUsd)? Lowered(decimal room)
        {
            if (Price is null || LowerableOutput is not { } worstOutput || Price.Output <= 0 || worstOutput <= MinimumOutputCap)
            {
                return null;
            }

            var inputUsd = PricingCatalog.Compute(Price, new TokenUsage { InputTokens = InputTokens, Reported = true });
            if ((room - inputUsd) * 1_000_000m >= Price.Output * worstOutput)
            {
                return null; // the worst case fits: nothing to lower (and no division that could overflow)
            }

            var cap = (long)Math.Floor(Math.Max(0m, room - inputUsd) * 1_000_000m / Price.Output);
            // Down to what the ledger's nano-dollar rounding still fits: at most a token or two.
            while (cap >= MinimumOutputCap && Held(Cost(cap)) > room)
            {
                cap--;
            }

            return cap >= MinimumOutputCap ? (cap, Cost(cap)) : null;
        }

        private decimal Cost(long output) => PricingCatalog.Compute(Price!, new TokenUsage { InputTokens = InputTokens, OutputTokens = output, Reported = true });
    }

    /// <summary>A project's and its workspace's counters as admission saw them.</summary>
    private sealed record Usage(BudgetUsage Project, BudgetUsage Workspace);

    /// <summary>One limit a call must fit: the project's daily or monthly, or the workspace's monthly.</summary>
    private sealed record Limit(string Scope, decimal Usd, DateTimeOffset ResetsAt)
    {
        public decimal Spent(Usage usage) => Scope switch
        {
            BudgetScopes.Daily => usage.Project.DaySpent,
            BudgetScopes.Monthly => usage.Project.MonthSpent,
            _ => usage.Workspace.MonthSpent,
        };

        public decimal Reserved(Usage usage) => Scope switch
        {
            BudgetScopes.Daily => usage.Project.DayReserved,
            BudgetScopes.Monthly => usage.Project.MonthReserved,
            _ => usage.Workspace.MonthReserved,
        };

        public decimal Room(Usage usage, bool countReserved) => Usd - Spent(usage) - (countReserved ? Reserved(usage) : 0m);
    }

    private static List<Limit> Limits(ProjectRecord project, decimal? workspaceMonthly, BudgetPeriods periods)
    {
        var limits = new List<Limit>(3);
        if (project.DailyBudgetUsd is { } day)
        {
            limits.Add(new Limit(BudgetScopes.Daily, day, periods.DayResetsAt));
        }

        if (project.MonthlyBudgetUsd is { } month)
        {
            limits.Add(new Limit(BudgetScopes.Monthly, month, periods.MonthResetsAt));
        }

        if (workspaceMonthly is { } workspace)
        {
            limits.Add(new Limit(BudgetScopes.Workspace, workspace, periods.MonthResetsAt));
        }

        return limits;
    }

    /// <summary>
    /// The 429: which limit, what it is, what is spent and what remains. When the remainder is held by calls in flight the
    /// answer says so and asks to retry in a second; otherwise it is retried when the limit resets.
    /// </summary>
    private GatewayError Rejection(Limit limit, Usage usage, decimal? requiredUsd, bool heldByCallsInFlight)
    {
        var spent = limit.Spent(usage);
        var remaining = Math.Max(0m, limit.Usd - spent);
        var owner = limit.Scope == BudgetScopes.Workspace ? "The workspace's monthly" : $"The project's {limit.Scope}";
        var reset = limit.ResetsAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var message = heldByCallsInFlight
            ? $"{owner} budget of {Usd(limit.Usd)} is held by calls in flight ({Usd(remaining)} not yet spent); retry shortly."
            : remaining <= 0 || requiredUsd is null
                ? $"{owner} budget of {Usd(limit.Usd)} is reached; it resets at {reset}."
                : $"{owner} budget of {Usd(limit.Usd)} is reached: {Usd(remaining)} remains, less than the smallest call it could admit ({Usd(requiredUsd.Value)}); it resets at {reset}.";
        var details = new JsonObject
        {
            ["scope"] = limit.Scope,
            ["limitUsd"] = limit.Usd,
            ["spentUsd"] = Math.Round(spent, 6),
            ["remainingUsd"] = Math.Round(remaining, 6),
            ["resetsAt"] = reset,
        };
        if (requiredUsd is { } required)
        {
            details["requiredUsd"] = Math.Round(required, 6);
        }

        return new GatewayError(429, ErrorCodes.BudgetExceeded, message)
        {
            RetryAfterSeconds = heldByCallsInFlight ? 1 : (int)Math.Ceiling(Math.Max(1, (limit.ResetsAt - time.GetUtcNow()).TotalSeconds)),
            Details = details,
        };

        static string Usd(decimal value) => "$" + value.ToString("0.00##", CultureInfo.InvariantCulture);
    }

    private async Task AlertAsync(ProjectRecord project, BudgetReservation reservation, CancellationToken cancellationToken)
    {
        try
        {
            var periods = reservation.Periods;
            if (project.DailyBudgetUsd is not null || project.MonthlyBudgetUsd is not null)
            {
                var usage = await ledger.GetAsync(project.WorkspaceId, project.Id, periods, cancellationToken);
                await AlertScopeAsync(project.WorkspaceId, project.Id, project.Name, [project.AlertEmail], BudgetScopes.Daily, "day:" + periods.Day,
                    project.DailyBudgetUsd, usage.DaySpent, periods.DayResetsAt, cancellationToken);
                await AlertScopeAsync(project.WorkspaceId, project.Id, project.Name, [project.AlertEmail], BudgetScopes.Monthly, "month:" + periods.Month,
                    project.MonthlyBudgetUsd, usage.MonthSpent, periods.MonthResetsAt, cancellationToken);
            }

            if (reservation.IncludesWorkspace && await workspaces.GetAsync(project.WorkspaceId, cancellationToken) is { MonthlyBudgetUsd: { } limit } workspace)
            {
                var usage = await ledger.GetAsync(project.WorkspaceId, WorkspaceBudget.LedgerId, periods, cancellationToken);
                if (usage.MonthSpent >= limit * FallbackThreshold)
                {
                    await AlertScopeAsync(project.WorkspaceId, WorkspaceBudget.LedgerId, workspace.Name, await OwnerEmailsAsync(project.WorkspaceId, cancellationToken),
                        BudgetScopes.Workspace, "month:" + periods.Month, limit, usage.MonthSpent, periods.MonthResetsAt, cancellationToken);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // An alert failure never fails a request.
            Log.AlertFailed(logger, project.Id, ex.GetType().Name);
        }
    }

    /// <summary>
    /// Sends the 100% and 80% alerts of one limit that spend has crossed, each once per period (claimed in the ledger).
    /// A claimed alert that no recipient's server took (it could not be reached, or refused for now) is given back, so a
    /// later call that still finds the threshold crossed sends it; while the server is known unreachable, nothing is
    /// claimed. Each outcome is recorded in the workspace's audit log (<c>budget_alert</c>), where an admin sees it.
    /// </summary>
    private async Task AlertScopeAsync(string workspaceId, string ledgerId, string name, IReadOnlyList<string?> recipients, string scope, string period,
        decimal? limit, decimal spent, DateTimeOffset resetsAt, CancellationToken cancellationToken)
    {
        if (limit is not { } l || l <= 0)
        {
            return;
        }

        foreach (var threshold in new[] { 100, 80 })
        {
            if (spent < l * threshold / 100m || !alerts.IsAvailable
                || !await ledger.TryClaimAlertAsync(workspaceId, ledgerId, period, threshold, cancellationToken))
            {
                continue;
            }

            var outcomes = new List<MailOutcome>();
            foreach (var recipient in recipients.Count == 0 ? [null] : recipients)
            {
                var outcome = await alerts.SendAsync(new BudgetAlert(workspaceId, ledgerId, name, recipient, scope, period, threshold, l, spent, resetsAt), cancellationToken);
                outcomes.Add(outcome);
                Log.AlertSent(logger, ledgerId, scope, threshold, outcome.Delivery);
            }

            var retrying = outcomes.TrueForAll(o => o.Retryable);
            if (retrying)
            {
                await ledger.ReleaseAlertAsync(workspaceId, ledgerId, period, threshold, CancellationToken.None);
            }

            await RecordAlertAsync(workspaceId, ledgerId, scope, period, threshold, outcomes, retrying);
        }
    }

    private Task RecordAlertAsync(string workspaceId, string ledgerId, string scope, string period, int threshold, List<MailOutcome> outcomes, bool retrying)
    {
        if (audit is null)
        {
            return Task.CompletedTask;
        }

        static string Count(List<MailOutcome> all, string delivery) => all.Count(o => o.Delivery == delivery).ToString(CultureInfo.InvariantCulture);
        var delivery = outcomes.Exists(o => o.IsSent) ? AlertDelivery.Sent
            : outcomes.TrueForAll(o => o.Delivery == AlertDelivery.Skipped) ? AlertDelivery.Skipped
            : AlertDelivery.Failed;
        return audit.RecordAsync(Management.AuditActor.System("budget_alerts"), workspaceId, Ports.AuditEvents.BudgetAlert, ledgerId,
            new Dictionary<string, string?>
            {
                ["scope"] = scope,
                ["period"] = period,
                ["thresholdPercent"] = threshold.ToString(CultureInfo.InvariantCulture),
                ["delivery"] = delivery,
                ["sent"] = Count(outcomes, AlertDelivery.Sent),
                ["skipped"] = Count(outcomes, AlertDelivery.Skipped),
                ["failed"] = Count(outcomes, AlertDelivery.Failed),
                ["retrying"] = retrying ? "true" : "false",
            });
    }

    /// <summary>Seed 002: the workspace's billing belongs to its owners, so they get its alerts.</summary>
    private async Task<IReadOnlyList<string?>> OwnerEmailsAsync(string workspaceId, CancellationToken cancellationToken)
    {
        var emails = new List<string?>();
        foreach (var member in await workspaceStore.ListMembersAsync(workspaceId, cancellationToken))
        {
            if (member.Role == WorkspaceRoles.Owner && await users.GetAsync(member.UserId, cancellationToken) is { } user)
            {
                emails.Add(user.Email);
            }
        }

        return emails;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Budget alert for {BudgetId}: {Scope} {Threshold}% ({Delivery})")]
        public static partial void AlertSent(ILogger logger, string budgetId, string scope, int threshold, string delivery);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Budget alert for project {ProjectId} failed: {ErrorType}")]
        public static partial void AlertFailed(ILogger logger, string projectId, string errorType);
    }
}
