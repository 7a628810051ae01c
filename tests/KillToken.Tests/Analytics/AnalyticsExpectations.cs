using System.Globalization;
using System.Text.Json.Nodes;

namespace KillToken.Tests.Analytics;

/// <summary>A project as the test created it.</summary>
internal sealed record SeededProject(string Id, string Name, decimal? DailyBudgetUsd, decimal? MonthlyBudgetUsd, bool Active = true);

/// <summary>A workspace whose traffic the test sent and recorded: what every analytics answer is checked against.</summary>
internal sealed record SeededWorkspace(string WorkspaceId, string WorkspaceName, IReadOnlyList<SeededProject> Projects, IReadOnlyList<RecordedCall> Calls, DateOnly Today);

/// <summary>
/// The analytics filters of a query, and which recorded calls they select. <see cref="RawFrom"/>/<see cref="RawTo"/> send
/// another spelling of the same days (full timestamps); <see cref="DefaultRange"/> sends no dates at all.
/// </summary>
internal sealed record AnalyticsFilter
{
    public required DateOnly From { get; init; }
    public required DateOnly To { get; init; }
    public string? Provider { get; init; }
    public string? ProjectId { get; init; }
    public string? Model { get; init; }
    public string? Feature { get; init; }
    public string? RawFrom { get; init; }
    public string? RawTo { get; init; }
    public bool DefaultRange { get; init; }

    /// <summary>Provider, project, model or feature: the filters that narrow more than the days.</summary>
    public bool NarrowsBeyondDays => Provider is not null || ProjectId is not null || Model is not null || Feature is not null;

    /// <summary>The query string; <paramref name="workspaceId"/> null for the key routes (the key's workspace).</summary>
    public string Query(string? workspaceId)
    {
        var parts = new List<string>();
        if (workspaceId is not null)
        {
            parts.Add("workspaceId=" + Uri.EscapeDataString(workspaceId));
        }

        if (!DefaultRange)
        {
            parts.Add("from=" + Uri.EscapeDataString(RawFrom ?? Day(From)));
            parts.Add("to=" + Uri.EscapeDataString(RawTo ?? Day(To)));
        }

        Add(parts, "provider", Provider);
        Add(parts, "projectId", ProjectId);
        Add(parts, "model", Model);
        Add(parts, "feature", Feature);
        return string.Join('&', parts);
    }

    /// <summary>The non-day filters (provider, project, model, feature).</summary>
    public bool MatchesBeyondDays(RecordedCall call) =>
        (Provider is null || string.Equals(call.Provider, Provider, StringComparison.OrdinalIgnoreCase))
        && (ProjectId is null || call.ProjectId == ProjectId)
        && (Model is null || call.Model.Contains(Model, StringComparison.OrdinalIgnoreCase))
        && (Feature is null || call.Feature == Feature);

    public bool Matches(RecordedCall call) => call.Day >= From && call.Day <= To && MatchesBeyondDays(call);

    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static void Add(List<string> parts, string name, string? value)
    {
        if (value is not null)
        {
            parts.Add(name + "=" + Uri.EscapeDataString(value));
        }
    }
}

/// <summary>The sums one set of calls adds up to.</summary>
internal sealed record Totals(long Requests, decimal Spend, long InputTokens, long OutputTokens, long Errors, long Blocked, double LatencySum,
    long WasteTokens, long SavedTokens, decimal SavedUsd, long CacheHits)
{
    public long TotalTokens => InputTokens + OutputTokens;
    public double AvgLatencyMs => Requests == 0 ? 0 : LatencySum / Requests;

    public static Totals Of(IEnumerable<RecordedCall> calls)
    {
        var list = calls.ToList();
        return new Totals(
            list.Count,
            list.Sum(c => c.Spend),
            list.Sum(c => c.InputTokens),
            list.Sum(c => c.OutputTokens),
            list.Count(c => c.IsError),
            list.Count(c => c.IsBlocked),
            list.Sum(c => c.LatencyMs),
            list.Sum(c => c.WasteTokens),
            list.Sum(c => c.SavedTokens),
            list.Sum(c => c.SavedUsd),
            list.Count(c => c.IsCacheHit));
    }
}

/// <summary>
/// Checks each analytics answer against numbers computed from the recorded calls. Money within 1e-6 (Cosmos DB keeps
/// nano-dollars), average latencies within 0.5 ms (any rounding to whole ms or finer), rates within 1e-4 (4 decimals),
/// percentages within 0.01 (2 decimals).
/// </summary>
internal static class AnalyticsExpectations
{
    public const decimal MoneyTolerance = 0.000001m;
    public const double LatencyTolerance = 0.5;

    public static void Money(decimal expected, JsonNode? actual, string what)
    {
        Assert.IsNotNull(actual, what + " is missing");
        var value = actual.GetValue<decimal>();
        Assert.IsTrue(Math.Abs(expected - value) <= MoneyTolerance, $"{what}: expected {expected.ToString(CultureInfo.InvariantCulture)}, got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    public static void Count(long expected, JsonNode? actual, string what)
    {
        Assert.IsNotNull(actual, what + " is missing");
        Assert.AreEqual(expected, actual.GetValue<long>(), what);
    }

    public static void Near(double expected, JsonNode? actual, double tolerance, string what)
    {
        Assert.IsNotNull(actual, what + " is missing");
        var value = actual.GetValue<double>();
        Assert.IsTrue(Math.Abs(expected - value) <= tolerance + 1e-9, $"{what}: expected {expected.ToString(CultureInfo.InvariantCulture)} (±{tolerance.ToString(CultureInfo.InvariantCulture)}), got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    public static string Text(JsonNode? node, string what)
    {
        Assert.IsNotNull(node, what + " is missing");
        return node.GetValue<string>();
    }

    /// <summary><c>workspaceId</c>, <c>from</c>, <c>to</c> and the echoed <c>filters</c> every aggregate answer carries.</summary>
    public static void Envelope(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Assert.AreEqual(ws.WorkspaceId, Text(body["workspaceId"], "workspaceId"));
        Assert.AreEqual(AnalyticsFilter.Day(filter.From), Text(body["from"], "from"));
        Assert.AreEqual(AnalyticsFilter.Day(filter.To), Text(body["to"], "to"));
        var filters = body["filters"];
        Assert.IsNotNull(filters, "filters is missing");
        Assert.IsTrue(filters.AsObject().ContainsKey("provider") && filters.AsObject().ContainsKey("projectId")
            && filters.AsObject().ContainsKey("model") && filters.AsObject().ContainsKey("feature"), "filters has all four names: " + filters.ToJsonString());
        Echo(filter.Provider, filters["provider"], "filters.provider", ignoreCase: true);
        Echo(filter.ProjectId, filters["projectId"], "filters.projectId", ignoreCase: false);
        Echo(filter.Model, filters["model"], "filters.model", ignoreCase: true);
        Echo(filter.Feature, filters["feature"], "filters.feature", ignoreCase: false);
    }

    private static void Echo(string? given, JsonNode? echoed, string what, bool ignoreCase)
    {
        if (given is null)
        {
            Assert.IsNull(echoed, what + " is null when not given");
            return;
        }

        Assert.IsNotNull(echoed, what + " echoes the filter");
        Assert.IsTrue(string.Equals(given, echoed.GetValue<string>(), ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal), $"{what}: {echoed}");
    }

    /// <summary>A range's totals object (overview's <c>range</c>, analytics.json's <c>totals</c>): every count and sum.</summary>
    public static void RangeTotals(Totals expected, JsonNode? actual, string what)
    {
        Assert.IsNotNull(actual, what + " is missing");
        Count(expected.Requests, actual["requests"], what + ".requests");
        Money(expected.Spend, actual["spendUsd"], what + ".spendUsd");
        Count(expected.InputTokens, actual["inputTokens"], what + ".inputTokens");
        Count(expected.OutputTokens, actual["outputTokens"], what + ".outputTokens");
        Count(expected.TotalTokens, actual["totalTokens"], what + ".totalTokens");
        Count(expected.Errors, actual["errors"], what + ".errors");
        Count(expected.Blocked, actual["blockedRequests"], what + ".blockedRequests");
        Money(expected.SavedUsd, actual["savedUsd"], what + ".savedUsd");
        Count(expected.CacheHits, actual["cacheHits"], what + ".cacheHits");
    }

    public static void CheckOverview(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        var inRange = ws.Calls.Where(filter.Matches).ToList();

        var today = Totals.Of(ws.Calls.Where(c => c.Day == ws.Today && filter.MatchesBeyondDays(c)));
        Assert.AreEqual(AnalyticsFilter.Day(ws.Today), Text(body["today"]?["date"], "today.date"));
        Count(today.Requests, body["today"]!["requests"], "today.requests");
        Money(today.Spend, body["today"]!["spendUsd"], "today.spendUsd");

        var monthStart = new DateOnly(ws.Today.Year, ws.Today.Month, 1);
        var month = Totals.Of(ws.Calls.Where(c => c.Day >= monthStart && c.Day <= ws.Today && filter.MatchesBeyondDays(c)));
        Assert.AreEqual(ws.Today.ToString("yyyy-MM", CultureInfo.InvariantCulture), Text(body["month"]?["month"], "month.month"));
        Count(month.Requests, body["month"]!["requests"], "month.requests");
        Money(month.Spend, body["month"]!["spendUsd"], "month.spendUsd");

        var range = Totals.Of(inRange);
        RangeTotals(range, body["range"], "range");
        Count(range.Blocked, body["blockedRequests"], "blockedRequests");

        var providers = inRange.GroupBy(c => c.Provider).Select(g => (Key: g.Key, Model: (string?)null, Totals: Totals.Of(g))).ToList();
        Top(providers, body["topProvider"], "topProvider");
        var models = inRange.GroupBy(c => (c.Provider, c.Model)).Select(g => (Key: g.Key.Provider, Model: (string?)g.Key.Model, Totals: Totals.Of(g))).ToList();
        Top(models, body["topModel"], "topModel");

        var risk = body["budgetRisk"];
        Assert.IsNotNull(risk, "budgetRisk is missing");
        if (!filter.NarrowsBeyondDays)
        {
            BudgetRisk(risk.AsArray(), ws);
        }
    }

    /// <summary>The top row by spend, then requests; any of rows that tie on both is accepted.</summary>
    private static void Top(List<(string Key, string? Model, Totals Totals)> rows, JsonNode? actual, string what)
    {
        if (rows.Count == 0)
        {
            Assert.IsNull(actual, what + " is null when the range has no request");
            return;
        }

        Assert.IsNotNull(actual, what + " is missing");
        var best = rows.OrderByDescending(r => r.Totals.Spend).ThenByDescending(r => r.Totals.Requests).First();
        var tied = rows.Where(r => r.Totals.Spend == best.Totals.Spend && r.Totals.Requests == best.Totals.Requests).ToList();
        var provider = Text(actual["provider"], what + ".provider");
        var model = best.Model is null ? null : Text(actual["model"], what + ".model");
        var match = tied.FirstOrDefault(r => r.Key == provider && r.Model == model);
        Assert.IsNotNull(match.Key, $"{what}: expected {best.Key}/{best.Model}, got {actual.ToJsonString()}");
        Money(match.Totals.Spend, actual["spendUsd"], what + ".spendUsd");
        Count(match.Totals.Requests, actual["requests"], what + ".requests");
    }

    /// <summary>Every project limit whose current period is at 80% or more, from the day's and month's settled spend.</summary>
    public static void BudgetRisk(JsonArray actual, SeededWorkspace ws)
    {
        var monthStart = new DateOnly(ws.Today.Year, ws.Today.Month, 1);
        var expected = new List<(string ProjectId, string Name, string Scope, decimal Limit, decimal Spent)>();
        foreach (var project in ws.Projects)
        {
            var todaySpent = ws.Calls.Where(c => c.ProjectId == project.Id && c.Day == ws.Today).Sum(c => c.Spend);
            var monthSpent = ws.Calls.Where(c => c.ProjectId == project.Id && c.Day >= monthStart && c.Day <= ws.Today).Sum(c => c.Spend);
            if (project.DailyBudgetUsd is { } daily && todaySpent >= daily * 0.8m)
            {
                expected.Add((project.Id, project.Name, "daily", daily, todaySpent));
            }

            if (project.MonthlyBudgetUsd is { } monthly && monthSpent >= monthly * 0.8m)
            {
                expected.Add((project.Id, project.Name, "monthly", monthly, monthSpent));
            }
        }

        var rows = actual.Select(r => r!.AsObject()).ToList();
        CollectionAssert.AreEquivalent(
            expected.Select(e => e.ProjectId + "/" + e.Scope).ToList(),
            rows.Select(r => Text(r["projectId"], "budgetRisk.projectId") + "/" + Text(r["scope"], "budgetRisk.scope")).ToList(),
            "budgetRisk: " + actual.ToJsonString());
        foreach (var e in expected)
        {
            var row = rows.Single(r => r["projectId"]!.GetValue<string>() == e.ProjectId && r["scope"]!.GetValue<string>() == e.Scope);
            Assert.AreEqual(e.Name, Text(row["name"], "budgetRisk.name"));
            Money(e.Limit, row["limitUsd"], $"budgetRisk[{e.Name}/{e.Scope}].limitUsd");
            Money(e.Spent, row["spentUsd"], $"budgetRisk[{e.Name}/{e.Scope}].spentUsd");
            Near((double)(e.Spent / e.Limit * 100m), row["usedPercent"], 0.05, $"budgetRisk[{e.Name}/{e.Scope}].usedPercent");
        }
    }

    public static void CheckTrends(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        var days = body["days"]!.AsArray();
        Assert.AreEqual(filter.To.DayNumber - filter.From.DayNumber + 1, days.Count, "one row per day, zero days included");
        for (var i = 0; i < days.Count; i++)
        {
            var day = filter.From.AddDays(i);
            DayRow(days[i]!.AsObject(), Totals.Of(ws.Calls.Where(c => c.Day == day && filter.MatchesBeyondDays(c))), AnalyticsFilter.Day(day));
        }
    }

    public static void DayRow(JsonObject row, Totals expected, string day)
    {
        Assert.AreEqual(day, Text(row["date"], "days.date"), "days ascending");
        Count(expected.Requests, row["requests"], day + ".requests");
        Money(expected.Spend, row["spendUsd"], day + ".spendUsd");
        Count(expected.InputTokens, row["inputTokens"], day + ".inputTokens");
        Count(expected.OutputTokens, row["outputTokens"], day + ".outputTokens");
        Count(expected.TotalTokens, row["totalTokens"], day + ".totalTokens");
        Count(expected.Blocked, row["blockedRequests"], day + ".blockedRequests");
        Count(expected.Errors, row["errors"], day + ".errors");
    }

    public static void CheckProviders(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        ProviderRows(body["providers"]!.AsArray(), ws.Calls.Where(filter.Matches).ToList());
    }

    public static void ProviderRows(JsonArray rows, List<RecordedCall> calls)
    {
        var expected = calls.GroupBy(c => c.Provider).ToDictionary(g => g.Key, g => Totals.Of(g), StringComparer.Ordinal);
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), rows.Select(r => Text(r!["provider"], "provider")).ToList(), rows.ToJsonString());
        NonIncreasing(rows, "spendUsd", "providers by spend desc");
        foreach (var row in rows.Select(r => r!.AsObject()))
        {
            var name = row["provider"]!.GetValue<string>();
            var t = expected[name];
            Count(t.Requests, row["requests"], name + ".requests");
            Money(t.Spend, row["spendUsd"], name + ".spendUsd");
            Count(t.InputTokens, row["inputTokens"], name + ".inputTokens");
            Count(t.OutputTokens, row["outputTokens"], name + ".outputTokens");
            Count(t.TotalTokens, row["totalTokens"], name + ".totalTokens");
            Near(t.AvgLatencyMs, row["avgLatencyMs"], LatencyTolerance, name + ".avgLatencyMs");
            Count(t.Errors, row["errors"], name + ".errors");
            Near(Math.Round((double)t.Errors / t.Requests, 4), row["errorRate"], 0.0001, name + ".errorRate");
            Count(t.Blocked, row["blockedRequests"], name + ".blockedRequests");
        }
    }

    public static void CheckModels(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        ModelRows(body["models"]!.AsArray(), ws.Calls.Where(filter.Matches).ToList());
    }

    /// <summary>The top 20 (provider, model) by spend, then requests, then model name — in exactly that order.</summary>
    public static void ModelRows(JsonArray rows, List<RecordedCall> calls)
    {
        var expected = calls.GroupBy(c => (c.Provider, c.Model))
            .Select(g => (g.Key.Provider, g.Key.Model, Totals: Totals.Of(g)))
            .OrderByDescending(m => m.Totals.Spend).ThenByDescending(m => m.Totals.Requests)
            .ThenBy(m => m.Model, StringComparer.Ordinal).ThenBy(m => m.Provider, StringComparer.Ordinal)
            .Take(20).ToList();
        CollectionAssert.AreEqual(
            expected.Select(m => m.Provider + "/" + m.Model).ToList(),
            rows.Select(r => Text(r!["provider"], "provider") + "/" + Text(r!["model"], "model")).ToList(),
            "models: top 20 by spend desc, then requests desc, then model");
        for (var i = 0; i < expected.Count; i++)
        {
            var (provider, model, t) = expected[i];
            var row = rows[i]!.AsObject();
            var what = provider + "/" + model;
            Count(t.Requests, row["requests"], what + ".requests");
            Money(t.Spend, row["spendUsd"], what + ".spendUsd");
            Money(t.Spend / t.Requests, row["avgCostPerRequestUsd"], what + ".avgCostPerRequestUsd");
            Near(t.AvgLatencyMs, row["avgLatencyMs"], LatencyTolerance, what + ".avgLatencyMs");
            Count(t.InputTokens, row["inputTokens"], what + ".inputTokens");
            Count(t.OutputTokens, row["outputTokens"], what + ".outputTokens");
            Count(t.TotalTokens, row["totalTokens"], what + ".totalTokens");
        }
    }

    public static void CheckProjects(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        ProjectRows(body["projects"]!.AsArray(), ws, filter);
    }

    /// <summary>
    /// Every project (only the filtered one with projectId), zero rows included. Requests, spend and blocked follow the
    /// range and filters; the spend of today and this month and the utilisation are the projects' settled spend (no filter);
    /// lastUsedAt is the newest call in the range (checked when only the days narrow).
    /// </summary>
    public static void ProjectRows(JsonArray rows, SeededWorkspace ws, AnalyticsFilter filter)
    {
        var projects = ws.Projects.Where(p => filter.ProjectId is null || p.Id == filter.ProjectId).ToList();
        CollectionAssert.AreEquivalent(projects.Select(p => p.Id).ToList(), rows.Select(r => Text(r!["projectId"], "projectId")).ToList(), rows.ToJsonString());
        var monthStart = new DateOnly(ws.Today.Year, ws.Today.Month, 1);
        foreach (var project in projects)
        {
            var row = rows.Single(r => r!["projectId"]!.GetValue<string>() == project.Id)!.AsObject();
            var name = project.Name;
            var mine = ws.Calls.Where(c => c.ProjectId == project.Id).ToList();
            var t = Totals.Of(mine.Where(filter.Matches));
            Assert.AreEqual(project.Name, Text(row["name"], "name"));
            Assert.AreEqual(project.Active, row["active"]!.GetValue<bool>(), name + ".active");
            Count(t.Requests, row["requests"], name + ".requests");
            Money(t.Spend, row["spendUsd"], name + ".spendUsd");
            Count(t.Blocked, row["blockedRequests"], name + ".blockedRequests");
            Limit(project.DailyBudgetUsd, row, "dailyBudgetUsd");
            Limit(project.MonthlyBudgetUsd, row, "monthlyBudgetUsd");

            var spentToday = mine.Where(c => c.Day == ws.Today).Sum(c => c.Spend);
            var spentMonth = mine.Where(c => c.Day >= monthStart && c.Day <= ws.Today).Sum(c => c.Spend);
            Utilisation(project.DailyBudgetUsd, spentToday, row, "dailyUtilizationPercent");
            Utilisation(project.MonthlyBudgetUsd, spentMonth, row, "monthlyUtilizationPercent");
            if (!filter.NarrowsBeyondDays)
            {
                Money(spentToday, row["spentTodayUsd"], name + ".spentTodayUsd");
                Money(spentMonth, row["spentThisMonthUsd"], name + ".spentThisMonthUsd");
                var newest = mine.Where(filter.Matches).Select(c => (DateTimeOffset?)c.CreatedAt).Max();
                Assert.IsTrue(row.ContainsKey("lastUsedAt"), name + ".lastUsedAt is always present");
                if (newest is null)
                {
                    Assert.IsNull(row["lastUsedAt"], name + ".lastUsedAt is null without a call in the range");
                }
                else
                {
                    var at = DateTimeOffset.Parse(Text(row["lastUsedAt"], name + ".lastUsedAt"), CultureInfo.InvariantCulture);
                    Assert.IsTrue((at - newest.Value).Duration() < TimeSpan.FromSeconds(1), $"{name}.lastUsedAt: expected {newest:O}, got {at:O}");
                }
            }
        }
    }

    private static void Limit(decimal? expected, JsonObject row, string field)
    {
        Assert.IsTrue(row.ContainsKey(field), field + " is always present");
        if (expected is null)
        {
            Assert.IsNull(row[field], field + " is null without a limit");
        }
        else
        {
            Money(expected.Value, row[field], field);
        }
    }

    private static void Utilisation(decimal? limit, decimal spent, JsonObject row, string field)
    {
        Assert.IsTrue(row.ContainsKey(field), field + " is always present");
        if (limit is null)
        {
            Assert.IsNull(row[field], field + " is null without a limit");
        }
        else
        {
            Near((double)Math.Round(spent / limit.Value * 100m, 2), row[field], 0.01, row["name"] + "." + field);
        }
    }

    public static void CheckFeatures(JsonObject body, SeededWorkspace ws, AnalyticsFilter filter)
    {
        Envelope(body, ws, filter);
        FeatureRows(body["features"]!.AsArray(), ws.Calls.Where(filter.Matches).ToList());
    }

    public static void FeatureRows(JsonArray rows, List<RecordedCall> calls)
    {
        var expected = calls.GroupBy(c => c.Feature).ToDictionary(g => g.Key, g => Totals.Of(g), StringComparer.Ordinal);
        CollectionAssert.AreEquivalent(expected.Keys.ToList(), rows.Select(r => Text(r!["feature"], "feature")).ToList(), rows.ToJsonString());
        NonIncreasing(rows, "costUsd", "features by cost desc");
        foreach (var row in rows.Select(r => r!.AsObject()))
        {
            var feature = row["feature"]!.GetValue<string>();
            var t = expected[feature];
            Count(t.Requests, row["requests"], feature + ".requests");
            Money(t.Spend, row["costUsd"], feature + ".costUsd");
            Count(t.WasteTokens, row["wasteTokens"], feature + ".wasteTokens");
            Count(t.SavedTokens, row["savedTokens"], feature + ".savedTokens");
            Money(t.SavedUsd, row["savedUsd"], feature + ".savedUsd");
            Count(t.CacheHits, row["cacheHits"], feature + ".cacheHits");
            Near(Math.Round((double)t.CacheHits / t.Requests, 4), row["cacheHitRate"], 0.0001, feature + ".cacheHitRate");
        }
    }

    private static void NonIncreasing(JsonArray rows, string field, string what)
    {
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.IsTrue(rows[i - 1]![field]!.GetValue<decimal>() >= rows[i]![field]!.GetValue<decimal>(), what + ": " + rows.ToJsonString());
        }
    }
}
