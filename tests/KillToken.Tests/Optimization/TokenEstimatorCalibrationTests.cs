using System.Globalization;
using System.Text;
using KillToken.Core.Optimization;
using Microsoft.ML.Tokenizers;

namespace KillToken.Tests.Optimization;

/// <summary>
/// Issue 11, item 2: a reservation is only a call's maximum cost if its input estimate does not under-count. The
/// estimator against the real tokenizers on texts of every kind the gateway carries (Optimization/Fixtures): never more
/// than <see cref="TokenEstimator.StatedUnderCountMargin"/> below the larger of the o200k and cl100k counts, and not
/// wildly above it either (over-counting is safe for budgets but inflates waste figures).
/// </summary>
[TestClass]
public sealed class TokenEstimatorCalibrationTests
{
    /// <summary>The most any fixture may be over-counted, against the larger of the two real counts.</summary>
    private const double OverCountCeiling = 0.35;

    /// <summary>English, code and JSON are most of the traffic: their over-count is held tighter.</summary>
    private const double TightOverCountCeiling = 0.20;

    private static readonly string[] TightClasses = ["english", "code-csharp", "code-python", "code-js", "code-other", "json-pretty", "json-minified"];

    /// <summary>The kinds of text issue 11 names; each needs at least two fixtures.</summary>
    private static readonly string[] RequiredClasses =
        ["english", "german", "chinese", "japanese", "korean", "arabic", "emoji", "code-csharp", "code-python", "code-js", "json-pretty", "json-minified", "base64", "mixed"];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void FixtureCounts_AreTheRealTokenizersCounts()
    {
        var o200k = TiktokenTokenizer.CreateForEncoding("o200k_base");
        var cl100k = TiktokenTokenizer.CreateForEncoding("cl100k_base");
        var drifted = TokenFixtures.All
            .Select(f => (f.Name, f.O200k, f.Cl100k, RealO200k: o200k.CountTokens(f.Text), RealCl100k: cl100k.CountTokens(f.Text)))
            .Where(f => f.O200k != f.RealO200k || f.Cl100k != f.RealCl100k)
            .Select(f => $"{f.Name}: checked in o200k {f.O200k} / cl100k {f.Cl100k}, tokenizer says {f.RealO200k} / {f.RealCl100k}")
            .ToList();

        Assert.IsEmpty(drifted, string.Join("\n", drifted));
        Assert.AreEqual(TokenFixtures.All.Count, TokenFixtures.All.Select(f => f.Name).Distinct().Count(), "fixture names are unique");
        foreach (var required in RequiredClasses)
        {
            Assert.IsGreaterThanOrEqualTo(2, TokenFixtures.All.Count(f => f.Class == required), $"at least two '{required}' fixtures");
        }
    }

    [TestMethod]
    public void Estimate_NeverUnderCountsByMoreThanTheStatedMargin()
    {
        WriteTable();
        var under = TokenFixtures.All
            .Select(f => (Fixture: f, Estimate: TokenEstimator.EstimateText(f.Text)))
            .Where(x => x.Estimate < (1 - TokenEstimator.StatedUnderCountMargin) * x.Fixture.Reference)
            .Select(x => $"{x.Fixture.Name}: estimate {x.Estimate}, o200k {x.Fixture.O200k}, cl100k {x.Fixture.Cl100k} ({Error(x.Estimate, x.Fixture.Reference)})")
            .ToList();

        Assert.IsEmpty(under, $"under-counted by more than {TokenEstimator.StatedUnderCountMargin:P0}:\n" + string.Join("\n", under));
    }

    [TestMethod]
    public void Estimate_OverCountIsBounded()
    {
        var over = TokenFixtures.All
            .Select(f => (Fixture: f, Estimate: TokenEstimator.EstimateText(f.Text), Ceiling: TightClasses.Contains(f.Class) ? TightOverCountCeiling : OverCountCeiling))
            .Where(x => x.Estimate > (1 + x.Ceiling) * x.Fixture.Reference)
            .Select(x => $"{x.Fixture.Name}: estimate {x.Estimate}, o200k {x.Fixture.O200k}, cl100k {x.Fixture.Cl100k} ({Error(x.Estimate, x.Fixture.Reference)}, ceiling +{x.Ceiling:P0})")
            .ToList();

        Assert.IsEmpty(over, "over-counted past the ceiling:\n" + string.Join("\n", over));
    }

    /// <summary>Per class: the range of estimate / o200k and estimate / max(o200k, cl100k) — the README's table.</summary>
    private void WriteTable()
    {
        var table = new StringBuilder("class | fixtures | estimate vs o200k | estimate vs max(o200k, cl100k)\n");
        foreach (var group in TokenFixtures.All.GroupBy(f => f.Class))
        {
            var vsO200k = group.Select(f => Ratio(TokenEstimator.EstimateText(f.Text), f.O200k)).ToList();
            var vsMax = group.Select(f => Ratio(TokenEstimator.EstimateText(f.Text), f.Reference)).ToList();
            table.Append(CultureInfo.InvariantCulture, $"{group.Key} | {group.Count()} | {Percent(vsO200k.Min())} … {Percent(vsO200k.Max())} | {Percent(vsMax.Min())} … {Percent(vsMax.Max())}\n");
        }

        TestContext.WriteLine(table.ToString());

        static double Ratio(long estimate, int reference) => (double)estimate / reference;
    }

    private static string Error(long estimate, int reference) => Percent((double)estimate / reference);

    private static string Percent(double ratio) => (ratio - 1).ToString("+0%;-0%;0%", CultureInfo.InvariantCulture);
}
