using System.Globalization;
using KillToken.Core.Budgets;
using KillToken.Core.Gateway;

namespace KillToken.Core.Analytics;

/// <summary>
/// Which traffic a report covers: UTC days <see cref="From"/> to <see cref="To"/> (inclusive, <c>yyyy-MM-dd</c>) and
/// the slices that match every filter given — the provider that served the call, one project, a model name containing
/// <see cref="Model"/> (case-insensitive, as seed 002 says) and one feature tag.
/// </summary>
public sealed record AnalyticsQuery(string From, string To, string? Provider = null, string? ProjectId = null, string? Model = null, string? Feature = null)
{
    /// <summary>The longest range a report may cover, in days.</summary>
    public const int MaxDays = 366;

    /// <summary>The default range: the 30 days up to today.</summary>
    public const int DefaultDays = 30;

    /// <summary>
    /// The query for the given dates, or the 400 that says what is wrong with them. Only the UTC day of each counts;
    /// without <paramref name="from"/> the range starts 29 days before <paramref name="to"/>, which defaults to today.
    /// </summary>
    public static (AnalyticsQuery? Query, GatewayError? Error) Create(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset now,
        string? provider = null, string? projectId = null, string? model = null, string? feature = null)
    {
        var end = DayStart(to ?? now);
        var start = from is { } f ? DayStart(f) : end.AddDays(-(DefaultDays - 1));
        if (start > end)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'from' must not be after 'to'."));
        }

        if ((end - start).TotalDays + 1 > MaxDays)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"The range may cover at most {MaxDays} days; narrow 'from' and 'to'."));
        }

        return (new AnalyticsQuery(Day(start), Day(end), provider?.ToLowerInvariant(), projectId, model, feature), null);
    }

    public bool Matches(RollupCell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return (Provider is null || string.Equals(cell.Provider, Provider, StringComparison.OrdinalIgnoreCase))
            && (ProjectId is null || string.Equals(cell.ProjectId, ProjectId, StringComparison.Ordinal))
            && (Model is null || (cell.Model?.Contains(Model, StringComparison.OrdinalIgnoreCase) ?? false))
            && (Feature is null || string.Equals(cell.Feature, Feature, StringComparison.Ordinal));
    }

    /// <summary>The first instant of <see cref="From"/>.</summary>
    public DateTimeOffset Start => Parse(From);

    /// <summary>The first instant after <see cref="To"/>.</summary>
    public DateTimeOffset End => Parse(To).AddDays(1);

    /// <summary>Every day of the range, in order.</summary>
    public IEnumerable<string> Days()
    {
        for (var day = Start; day < End; day = day.AddDays(1))
        {
            yield return Day(day);
        }
    }

    /// <summary>The same filters over other days (today's or this month's figures of the overview).</summary>
    public AnalyticsQuery Over(string from, string to) => this with { From = from, To = to };

    private static DateTimeOffset DayStart(DateTimeOffset instant) => Parse(BudgetPeriods.At(instant).Day);

    private static string Day(DateTimeOffset dayStart) => dayStart.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string day) =>
        DateTimeOffset.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
