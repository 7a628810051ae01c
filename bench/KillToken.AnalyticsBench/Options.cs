using System.Globalization;

namespace KillToken.AnalyticsBench;

/// <summary>Command line: <c>--traces 1000000 --iterations 50 --days 365</c>.</summary>
internal sealed record Options
{
    public int Traces { get; init; } = 1_000_000;
    /// <summary>Measured requests per route and range (sequential, after the warm-up).</summary>
    public int Iterations { get; init; } = 50;
    /// <summary>Unmeasured requests per route and range before its measured ones.</summary>
    public int Warmup { get; init; } = 10;
    /// <summary>UTC days the traces are spread over, ending today; also the long range timed.</summary>
    public int Days { get; init; } = 365;
    /// <summary>Appends in flight while seeding.</summary>
    public int Concurrency { get; init; } = 64;
    public int Seed { get; init; } = 42;
    /// <summary>Skip the last phase: every rollup row rebuilt from the traces on a restarted gateway.</summary>
    public bool NoRebuild { get; init; }
    /// <summary>Leave the data folder (SQLite file) behind.</summary>
    public bool KeepData { get; init; }

    public const string Usage = """
        KillToken.AnalyticsBench: the analytics routes and the CSV export of the self-host (embedded SQLite store, in
        this process) on one workspace seeded with N traces spread over the last D UTC days.

          --traces N        traces to seed (default 1000000)
          --iterations N    measured sequential requests per route and range (default 50)
          --warmup N        unmeasured requests per route and range before them (default 10)
          --days D          UTC days the traces cover, ending today, and the long range timed (default 365, at most 366)
          --concurrency N   appends in flight while seeding (default 64)
          --seed N          random seed of the workload (default 42)
          --no-rebuild      skip the last phase (the file's rollups marked as the older shape, the gateway restarted,
                            every row rebuilt from the traces while one trace is appended every 20 ms)
          --keep-data       keep the temp data folder (killtoken.db) afterwards
        """;

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            options = arg switch
            {
                "--traces" or "-n" => options with { Traces = PositiveInt(arg, Next()) },
                "--iterations" or "-i" => options with { Iterations = PositiveInt(arg, Next()) },
                "--warmup" => options with { Warmup = NonNegativeInt(arg, Next()) },
                "--days" or "-d" => options with { Days = PositiveInt(arg, Next()) },
                "--concurrency" or "-c" => options with { Concurrency = PositiveInt(arg, Next()) },
                "--seed" => options with { Seed = NonNegativeInt(arg, Next()) },
                "--keep-data" => options with { KeepData = true },
                "--no-rebuild" => options with { NoRebuild = true },
                _ => throw new ArgumentException($"Unknown argument '{arg}'."),
            };
        }

        if (options.Days > 366)
        {
            throw new ArgumentException("--days may be at most 366 (the longest range a report may cover).");
        }

        return options;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a positive whole number.");

    private static int NonNegativeInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"{name} must be a whole number.");
}
