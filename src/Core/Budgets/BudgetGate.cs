using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Optimization;
using KillToken.Core.Pricing;
using KillToken.Core.Providers;
using Microsoft.Extensions.Logging;

namespace KillToken.Core.Budgets;

/// <summary>
/// Budgets that hold under concurrency. Guarantee: a call is admitted only with a reservation of its maximum cost
/// that fits beside settled spend and every outstanding reservation, so settled spend never passes a limit as long
/// as no call costs more than it reserved. A call is refused only when settled spend alone leaves no room for its
/// reservation; when the room is merely held by in-flight calls, it waits for them to settle instead.
/// </summary>
public sealed partial class BudgetGate(
    IBudgetLedger ledger,
    IPricingCatalog pricing,
    WorkspacePricing workspacePricing,
    IBudgetAlertSender alerts,
    GatewayOptions options,
    TimeProvider time,
    ILogger<BudgetGate> logger) : IBudgetGate
{
    public const decimal FallbackThreshold = 0.8m;
    public const int DefaultOutputCap = 4096;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _settled = new(StringComparer.Ordinal);

    public Task<BudgetPlan> PlanAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        return project.DailyBudgetUsd is null && project.MonthlyBudgetUsd is null
            // No limit to reach and no threshold to fall back at: nothing to read (spend is still counted at settle).
            ? Task.FromResult(new BudgetPlan { Periods = BudgetPeriods.At(time.GetUtcNow()), Usage = BudgetUsage.Zero })
            : DescribeAsync(project, cancellationToken);
    }

    public async Task<BudgetPlan> DescribeAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        var periods = BudgetPeriods.At(time.GetUtcNow());
        var usage = await ledger.GetAsync(project.WorkspaceId, project.Id, periods, cancellationToken);
        var exceeded = Exceeded(project, usage, periods, 0m, countReserved: false);
        if (exceeded is not null)
        {
            return new BudgetPlan { Periods = periods, Usage = usage, Rejection = exceeded };
        }

        var nearLimit = (project.DailyBudgetUsd is { } day && usage.DaySpent >= day * FallbackThreshold)
            || (project.MonthlyBudgetUsd is { } month && usage.MonthSpent >= month * FallbackThreshold);
        return new BudgetPlan
        {
            Periods = periods,
            Usage = usage,
            FallbackModel = nearLimit ? project.FallbackModel : null,
            FallbackProvider = nearLimit && project.FallbackProvider is { } p && ProviderId.TryParse(p, out var provider) ? provider : null,
        };
    }

    public async Task<(BudgetReservation? Reservation, GatewayError? Rejection)> ReserveAsync(ProjectRecord project, BudgetPlan plan, ProviderId provider, string model,
        long inputTokens, JsonObject? providerOptions, CancellationToken cancellationToken = default)
    {
        if (project.DailyBudgetUsd is null && project.MonthlyBudgetUsd is null)
        {
            // Nothing to hold back: spend is still counted when the call settles.
            return (new BudgetReservation(plan.Periods, 0m), null);
        }

        var amount = MaximumCost(provider, model, inputTokens, providerOptions, await workspacePricing.GetAsync(project.WorkspaceId, cancellationToken));
        var deadline = time.GetUtcNow() + options.ProviderTimeout;
        while (true)
        {
            var wait = _settled.GetOrAdd(project.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            var (reserved, usage) = await ledger.TryReserveAsync(project.WorkspaceId, project.Id, plan.Periods, amount,
                project.DailyBudgetUsd, project.MonthlyBudgetUsd, cancellationToken);
            if (reserved)
            {
                return (new BudgetReservation(plan.Periods, amount), null);
            }

            // No room even if every in-flight call settled at zero: refuse. Otherwise wait for them.
            var refusal = Exceeded(project, usage, plan.Periods, amount, countReserved: false);
            if (refusal is not null || time.GetUtcNow() > deadline)
            {
                return (null, refusal ?? Exceeded(project, usage, plan.Periods, amount, countReserved: true));
            }

            await Task.WhenAny(wait, Task.Delay(PollInterval, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public async Task SettleAsync(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd, CancellationToken cancellationToken = default)
    {
        if (reservation.AmountUsd == 0 && actualCostUsd == 0)
        {
            return; // nothing held, nothing spent: no write
        }

        await ledger.SettleAsync(project.WorkspaceId, project.Id, reservation.Periods, reservation.AmountUsd, actualCostUsd, cancellationToken);
        Settled(project, reservation, actualCostUsd);
    }

    public void Settled(ProjectRecord project, BudgetReservation reservation, decimal actualCostUsd)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (_settled.TryRemove(project.Id, out var signal))
        {
            signal.TrySetResult();
        }

        if (actualCostUsd > 0 && (project.DailyBudgetUsd is not null || project.MonthlyBudgetUsd is not null))
        {
            // Off the request path: a slow or broken mail server never delays or fails a call.
            _ = Task.Run(() => AlertAsync(project, reservation.Periods, CancellationToken.None), CancellationToken.None);
        }
    }

    /// <summary>Input estimate plus the output cap, at the model's prices; 0 for an unpriced model (it cannot be held).</summary>
    public decimal MaximumCost(ProviderId provider, string model, long inputTokens, JsonObject? providerOptions,
        IReadOnlyList<ModelPrice>? priceOverrides = null)
    {
        var price = pricing.Find(provider, model, priceOverrides);
        if (price is null)
        {
            return 0m;
        }

        return PricingCatalog.Compute(price, WorstCase(price, inputTokens, providerOptions));
    }

    /// <summary>
    /// The most a call can use: its input estimate and its output cap (<c>max_tokens</c> and its aliases, else the model's
    /// largest output, else <see cref="DefaultOutputCap"/>). What a reservation holds, and what a call whose usage is
    /// missing or invalid is charged.
    /// </summary>
    public static TokenUsage WorstCase(ModelPrice price, long inputTokens, JsonObject? providerOptions)
    {
        ArgumentNullException.ThrowIfNull(price);
        var output = OutputCap(providerOptions) ?? price.MaxOutput ?? DefaultOutputCap;
        return new TokenUsage { InputTokens = Math.Max(0, inputTokens), OutputTokens = output, Reported = true };
    }

    private static long? OutputCap(JsonObject? options)
    {
        foreach (var name in new[] { "max_completion_tokens", "max_tokens", "max_output_tokens", "maxOutputTokens", "maxTokens" })
        {
            if (options?[name] is JsonValue value && value.TryGetValue<long>(out var cap) && cap > 0)
            {
                return cap;
            }
        }

        return null;
    }

    private GatewayError? Exceeded(ProjectRecord project, BudgetUsage usage, BudgetPeriods periods, decimal amount, bool countReserved)
    {
        if (project.DailyBudgetUsd is { } day && Over(usage.DaySpent + (countReserved ? usage.DayReserved : 0) + amount, day, amount))
        {
            return Rejection("daily", day, usage.DaySpent, periods.DayResetsAt);
        }

        if (project.MonthlyBudgetUsd is { } month && Over(usage.MonthSpent + (countReserved ? usage.MonthReserved : 0) + amount, month, amount))
        {
            return Rejection("monthly", month, usage.MonthSpent, periods.MonthResetsAt);
        }

        return null;

        // With nothing to reserve, the limit is reached when spend has reached it; otherwise when the reservation would pass it.
        static bool Over(decimal total, decimal limit, decimal amount) => amount == 0 ? total >= limit : total > limit;
    }

    private GatewayError Rejection(string scope, decimal limit, decimal spent, DateTimeOffset resetsAt)
    {
        var retryAfter = (int)Math.Ceiling(Math.Max(1, (resetsAt - time.GetUtcNow()).TotalSeconds));
        return new GatewayError(429, ErrorCodes.BudgetExceeded,
            $"The project's {scope} budget of ${limit.ToString("0.00##", CultureInfo.InvariantCulture)} is reached; it resets at {resetsAt:yyyy-MM-ddTHH:mm:ssZ}.")
        {
            RetryAfterSeconds = retryAfter,
            Details = new JsonObject
            {
                ["scope"] = scope,
                ["limitUsd"] = limit,
                ["spentUsd"] = Math.Round(spent, 6),
                ["resetsAt"] = resetsAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            },
        };
    }

    private async Task AlertAsync(ProjectRecord project, BudgetPeriods periods, CancellationToken cancellationToken)
    {
        try
        {
            var usage = await ledger.GetAsync(project.WorkspaceId, project.Id, periods, cancellationToken);
            var scopes = new List<(string Scope, string Period, decimal? Limit, decimal Spent, DateTimeOffset ResetsAt)>
            {
                ("daily", "day:" + periods.Day, project.DailyBudgetUsd, usage.DaySpent, periods.DayResetsAt),
                ("monthly", "month:" + periods.Month, project.MonthlyBudgetUsd, usage.MonthSpent, periods.MonthResetsAt),
            };
            foreach (var (scope, period, limit, spent, resetsAt) in scopes)
            {
                if (limit is not { } l || l <= 0)
                {
                    continue;
                }

                foreach (var threshold in new[] { 100, 80 })
                {
                    if (spent >= l * threshold / 100m && await ledger.TryClaimAlertAsync(project.WorkspaceId, project.Id, period, threshold, cancellationToken))
                    {
                        var delivery = await alerts.SendAsync(new BudgetAlert(project.WorkspaceId, project.Id, project.Name, project.AlertEmail,
                            scope, period, threshold, l, spent, resetsAt), cancellationToken);
                        Log.AlertSent(logger, project.Id, scope, threshold, delivery);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // An alert failure never fails a request.
            Log.AlertFailed(logger, project.Id, ex.GetType().Name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Budget alert for project {ProjectId}: {Scope} {Threshold}% ({Delivery})")]
        public static partial void AlertSent(ILogger logger, string projectId, string scope, int threshold, string delivery);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Budget alert for project {ProjectId} failed: {ErrorType}")]
        public static partial void AlertFailed(ILogger logger, string projectId, string errorType);
    }
}
