using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KillToken.Tests.Fuzz;

/// <summary>
/// How much a fuzz run does, read once per test process from the environment (documented on <see cref="RouteFuzzTests"/>).
/// One seed drives the whole run; every failure message prints it with the command line that replays the run.
/// </summary>
internal static class FuzzSettings
{
    public const string IterationsVariable = "KILLTOKEN_FUZZ_ITERATIONS";
    public const string SeedVariable = "KILLTOKEN_FUZZ_SEED";
    public const string SecondsVariable = "KILLTOKEN_FUZZ_SECONDS";
    public const string ReportVariable = "KILLTOKEN_FUZZ_REPORT";

    /// <summary>Random cases per test in CI. Above this the sweeps also become exhaustive (every field × every wrong type, …).</summary>
    public const int CiIterations = 40;

    /// <summary>Wall-clock cap of a test's random phase in CI (the deterministic sweep always runs to the end).</summary>
    public static readonly TimeSpan CiRandomPhase = TimeSpan.FromSeconds(3);

    public static int Iterations { get; } = ReadInt(IterationsVariable) is { } n and > 0 ? n : CiIterations;

    /// <summary>True when a run asked for more than CI does: the sweeps then try every combination instead of a seeded sample.</summary>
    public static bool Exhaustive => Iterations > CiIterations;

    /// <summary>
    /// CI's seed: fixed, so a run finds the same cases every time and a red CI always means a change broke something.
    /// New ground is covered on purpose, with <c>KILLTOKEN_FUZZ_SEED=random</c> (or any number) in a long run.
    /// </summary>
    public const int CiSeed = 20261204;

    public static int Seed { get; } = ReadInt(SeedVariable)
        ?? (Environment.GetEnvironmentVariable(SeedVariable) == "random" ? RandomNumberGenerator.GetInt32(1, int.MaxValue) : CiSeed);

    public static TimeSpan RandomPhase { get; } = ReadInt(SecondsVariable) is { } s and > 0
        ? TimeSpan.FromSeconds(s)
        : Exhaustive ? TimeSpan.FromHours(1) : CiRandomPhase;

    /// <summary>Optional file the full failure list is appended to (tab-separated), for whoever fixes them.</summary>
    public static string? ReportPath { get; } = Environment.GetEnvironmentVariable(ReportVariable);

    public static string Replay(string testName) =>
        $"{SeedVariable}={Seed.ToString(CultureInfo.InvariantCulture)} {IterationsVariable}={Iterations.ToString(CultureInfo.InvariantCulture)} " +
        $"dotnet test tests/KillToken.Tests --no-build --filter \"FullyQualifiedName~{testName}\"";

    /// <summary>A generator for one case, derived from the run's seed, the family and the case number only: a case replays alone.</summary>
    public static Random CaseRandom(string family, int index)
    {
        ulong x = (ulong)(uint)Seed;
        foreach (var b in Encoding.UTF8.GetBytes(family))
        {
            x = (x ^ b) * 0x100000001B3UL;
        }

        x ^= (ulong)(uint)index * 0x9E3779B97F4A7C15UL;
        // SplitMix64 finaliser: neighbouring indexes get unrelated streams.
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return new Random((int)(x & 0x7FFFFFFF));
    }

    private static int? ReadInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
}
