using System.Globalization;
using KillToken.Core.Budgets;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using KillToken.Core.Security;

namespace KillToken.AnalyticsBench;

/// <summary>A model a project calls, with its list prices in USD per 1M tokens (input, output).</summary>
internal sealed record ModelSpec(string Provider, string Model, decimal InputPerM, decimal OutputPerM)
{
    /// <summary>What a billed call costs on average (the workload's token counts are uniform).</summary>
    public decimal AverageCallUsd =>
        ((Workload.MinInput + Workload.MaxInput - 1) / 2m * InputPerM + (Workload.MinOutput + Workload.MaxOutput - 1) / 2m * OutputPerM) / 1_000_000m;
}

/// <summary>A project of the seeded workspace: its share of the traffic, the models and feature tags it uses, its budgets.</summary>
internal sealed record ProjectSpec(string Name, double Share, ModelSpec[] Models, string[] Features, decimal? DailyBudgetUsd, decimal? MonthlyBudgetUsd)
{
    public string Id { get; set; } = "";
}

/// <summary>
/// The seeded workspace's traffic: 5 projects, 3 serving providers, 8 models (each provider's own), 12 feature tags
/// (incl. "(untagged)"); each project uses 2–3 models and 2–4 tags, so the workspace has a fixed set of rollup cells
/// (project × model × tag) per day. Outcomes: ~1% blocked (budget_exceeded, 429, nothing billed), ~2% provider errors
/// (502), ~5% cache hits (free, saved = what the call would have cost), the rest billed at the model's list price.
/// 40% of calls carry one of 20 prompt templates. Trace i is made at an even step through the range, so the
/// traces arrive roughly in time order, as live traffic does.
/// </summary>
internal sealed class Workload
{
    public const double BlockedShare = 0.01;
    public const double ErrorShare = 0.02;
    public const double CacheHitShare = 0.05;
    public const double TemplateShare = 0.40;
    public const int Templates = 20;
    /// <summary>The share of calls that are billed (not blocked, failed or answered from the cache).</summary>
    private const double BilledShare = 1 - BlockedShare - ErrorShare - CacheHitShare;
    public const int MinInput = 150, MaxInput = 4_000, MinOutput = 20, MaxOutput = 1_200;

    private static readonly ModelSpec Gpt4o = new("openai", "gpt-4o", 2.50m, 10.00m);
    private static readonly ModelSpec Gpt4oMini = new("openai", "gpt-4o-mini", 0.15m, 0.60m);
    private static readonly ModelSpec Gpt41 = new("openai", "gpt-4.1", 2.00m, 8.00m);
    private static readonly ModelSpec Sonnet = new("anthropic", "claude-sonnet-4", 3.00m, 15.00m);
    private static readonly ModelSpec Haiku = new("anthropic", "claude-3-5-haiku", 0.80m, 4.00m);
    private static readonly ModelSpec Opus = new("anthropic", "claude-opus-4", 15.00m, 75.00m);
    private static readonly ModelSpec GeminiPro = new("gemini", "gemini-2.5-pro", 1.25m, 10.00m);
    private static readonly ModelSpec GeminiFlash = new("gemini", "gemini-2.5-flash", 0.30m, 2.50m);

    public static readonly string[] AllFeatures =
        ["(untagged)", "chat", "search", "summarize", "classify", "extract", "translate", "support-reply", "code-review", "email-draft", "rag-answer", "agent-tools"];

    /// <summary>
    /// The projects. Budgets are sized from the workload so the budget figures have something to show at any size and
    /// time of day: "Checkout assistant" has a daily limit 10% above what it is expected to have spent by now today and
    /// "Support bot" a monthly limit 10% above its month so far (both at ≈ 91%, at risk); "Search" has generous limits.
    /// </summary>
    public IReadOnlyList<ProjectSpec> Projects { get; }

    private static readonly ProjectSpec[] ProjectTemplates =
    [
        new("Checkout assistant", 0.35, [Gpt4oMini, Gpt4o, Haiku], ["chat", "(untagged)", "support-reply"], null, null),
        new("Support bot", 0.25, [Sonnet, Haiku], ["support-reply", "summarize", "classify", "email-draft"], null, null),
        new("Search", 0.20, [GeminiFlash, Gpt4oMini], ["search", "rag-answer", "extract"], null, null),
        new("Internal tools", 0.12, [Gpt41, Opus, GeminiPro], ["code-review", "agent-tools"], null, null),
        new("Data pipeline", 0.08, [GeminiFlash, Gpt4oMini, Haiku], ["extract", "translate", "classify", "(untagged)"], null, null),
    ];

    private readonly string[] _templates;
    private readonly double[] _cumulativeShare;

    public Workload(string workspaceId, int traces, int days, DateTimeOffset now, int seed)
    {
        WorkspaceId = workspaceId;
        Traces = traces;
        Now = now;
        var todayStart = DateTimeOffset.ParseExact(BudgetPeriods.At(now).Day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        FirstDay = todayStart.AddDays(-(days - 1));
        var perDay = traces / (double)days;
        var todaySoFar = (now - todayStart).TotalDays;
        var monthSoFar = now.Day - 1 + todaySoFar;
        decimal Limit(ProjectSpec p, double days) => Math.Max(0.01m, Math.Round((decimal)(1.1 * days * perDay * p.Share * BilledShare) * p.Models.Average(m => m.AverageCallUsd), 2));
        Projects =
        [
            ProjectTemplates[0] with { DailyBudgetUsd = Limit(ProjectTemplates[0], todaySoFar) },
            ProjectTemplates[1] with { MonthlyBudgetUsd = Limit(ProjectTemplates[1], monthSoFar) },
            ProjectTemplates[2] with { DailyBudgetUsd = Limit(ProjectTemplates[2], 3), MonthlyBudgetUsd = Limit(ProjectTemplates[2], 40) },
            ProjectTemplates[3] with { },
            ProjectTemplates[4] with { },
        ];
        var rng = new Random(seed);
        _templates = [.. Enumerable.Range(0, Templates).Select(_ => "tpl_" + Convert.ToHexStringLower(BitConverter.GetBytes(rng.NextInt64())))];
        var sum = 0.0;
        _cumulativeShare = [.. Projects.Select(p => sum += p.Share)];
    }

    public string WorkspaceId { get; }
    public int Traces { get; }
    public DateTimeOffset Now { get; }
    /// <summary>Midnight UTC of the first day of the range.</summary>
    public DateTimeOffset FirstDay { get; }

    public int Providers => Projects.SelectMany(p => p.Models).Select(m => m.Provider).Distinct().Count();
    public int Models => Projects.SelectMany(p => p.Models).Distinct().Count();
    public int Features => Projects.SelectMany(p => p.Features).Distinct().Count();
    /// <summary>Distinct (project, provider, model, feature) slices: rollup cell rows per day at most.</summary>
    public int Cells => Projects.Sum(p => p.Models.Length * p.Features.Length);

    /// <summary>Trace <paramref name="index"/> of the run, made at its even step through the range, with random content.</summary>
    public (RequestTrace Trace, BudgetSettlement? Settlement) Make(long index, Random rng)
    {
        var span = Now - FirstDay;
        var at = FirstDay + TimeSpan.FromTicks((long)(span.Ticks * ((index + rng.NextDouble()) / Traces)));
        if (at > Now)
        {
            at = Now;
        }

        var pick = rng.NextDouble() * _cumulativeShare[^1];
        var project = Projects[Math.Max(0, Array.FindIndex(_cumulativeShare, c => pick < c))];
        var model = project.Models[rng.Next(project.Models.Length)];
        var feature = project.Features[rng.Next(project.Features.Length)];
        var outcome = rng.NextDouble();
        var input = (long)rng.Next(MinInput, MaxInput);
        var output = (long)rng.Next(MinOutput, MaxOutput);
        var price = ((input * model.InputPerM) + (output * model.OutputPerM)) / 1_000_000m;
        var waste = rng.NextDouble() < 0.3 ? (long)rng.Next(1, (int)(input / 10) + 2) : 0;
        var wasteUsd = waste * model.InputPerM / 1_000_000m;
        var latency = Math.Round(150 + (rng.NextDouble() * rng.NextDouble() * 6_000), 3);
        var overhead = Math.Round(0.5 + (rng.NextDouble() * 4), 3);
        var trace = new RequestTrace
        {
            Id = Ids.New("req"),
            WorkspaceId = WorkspaceId,
            ProjectId = project.Id,
            CreatedAt = at,
            Endpoint = "chat",
            Provider = model.Provider,
            FinalProvider = model.Provider,
            Model = model.Model,
            FinalModel = model.Model,
            OptimizationMode = "measure_only",
            Feature = feature,
            Stream = rng.NextDouble() < 0.3,
            Status = 200,
            InputTokens = input,
            OutputTokens = output,
            TotalTokens = input + output,
            WasteTokens = waste,
            CostUsd = price,
            CostStatus = "priced",
            WasteUsd = wasteUsd,
            PotentialSavedUsd = wasteUsd,
            CacheStatus = "miss",
            Idempotency = "none",
            LatencyMs = latency,
            ProviderLatencyMs = Math.Max(0, latency - overhead),
            OverheadMs = overhead,
            TemplateId = rng.NextDouble() < TemplateShare ? _templates[rng.Next(_templates.Length)] : null,
        };

        if (outcome < BlockedShare)
        {
            trace = trace with
            {
                Status = 429, ErrorCode = "budget_exceeded", InputTokens = 0, OutputTokens = 0, TotalTokens = 0, WasteTokens = 0, CostUsd = 0m,
                CostStatus = "free", WasteUsd = 0m, PotentialSavedUsd = 0m, LatencyMs = overhead, ProviderLatencyMs = 0, Stream = false,
            };
        }
        else if (outcome < BlockedShare + ErrorShare)
        {
            trace = trace with { Status = 502, ErrorCode = "provider_error", OutputTokens = 0, TotalTokens = input, CostUsd = null, CostStatus = "free" };
        }
        else if (outcome < BlockedShare + ErrorShare + CacheHitShare)
        {
            trace = trace with { CacheStatus = "hit", CostUsd = 0m, CostStatus = "free", SavedUsd = price, LatencyMs = overhead, ProviderLatencyMs = 0 };
        }

        // Billed calls of the current month settle their spend with the trace, as the gateway does, so the budget
        // figures (spent today / this month, at-risk projects) have something to show.
        var periods = BudgetPeriods.At(at);
        var settlement = trace.CostUsd is > 0m && periods.Month == BudgetPeriods.At(Now).Month
            ? new BudgetSettlement(project.Id, periods, 0m, trace.CostUsd.Value)
            : null;
        return (trace, settlement);
    }
}
