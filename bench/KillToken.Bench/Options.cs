using System.Globalization;

namespace KillToken.Bench;

/// <summary>Command line: <c>--concurrency 50 --seconds 15 --warmup-seconds 3</c> and a few knobs for experiments.</summary>
internal sealed record Options
{
    public int Concurrency { get; init; } = 50;
    public double Seconds { get; init; } = 15;
    public double WarmupSeconds { get; init; } = 3;
    /// <summary>Length of the C=1 phases; the same as <see cref="Seconds"/> unless given.</summary>
    public double? SequentialSeconds { get; init; }
    /// <summary>
    /// Offered load of the loaded phases in requests per second, spread evenly over the connections (each sends on a
    /// fixed schedule); null for closed loop (each connection sends its next request as soon as the last one ends).
    /// </summary>
    public double? Rate { get; init; }
    /// <summary>Streamed calls (<c>stream: true</c>): the upstream sends SSE chunks, and time to first byte is measured too.</summary>
    public bool Stream { get; init; }
    /// <summary>Skip the C=1 phases.</summary>
    public bool NoSequential { get; init; }
    /// <summary>Rebuild the gateway even when the Release build exists.</summary>
    public bool Build { get; init; }
    /// <summary>Leave the gateway's data folder (SQLite file, gateway.log) behind for inspection.</summary>
    public bool KeepData { get; init; }
    public string? GatewayDll { get; init; }
    /// <summary>The peer gateway measured beside KillToken; <see cref="PeerChoice.Auto"/> means Portkey when node is on PATH.</summary>
    public PeerChoice Peer { get; init; } = PeerChoice.Auto;
    /// <summary>Interleaved rounds: each round runs direct, KillToken and the peer at every concurrency level.</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>The command line as given, for the results file.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];
    /// <summary>Extra environment for the gateway process (A/B experiments, e.g. Logging__LogLevel__Default=Warning).</summary>
    public List<KeyValuePair<string, string>> GatewayEnvironment { get; } = [];

    public const string Usage = """
        KillToken.Bench: the latency, CPU and memory the gateway adds in front of an instant OpenAI-shaped upstream,
        side by side with Portkey's gateway (the peer), in interleaved rounds.

          --concurrency N          concurrent connections of the loaded phase (default 50)
          --seconds S              measured seconds per phase (default 15)
          --warmup-seconds W       unmeasured warm-up before each phase (default 3)
          --sequential-seconds S   measured seconds of the C=1 phases (default: --seconds)
          --rate R                 loaded phases at a fixed offered rate of R req/s over the N connections
                                   (default: closed loop, as fast as answers come back)
          --stream                 streamed calls (stream: true); also reports time to the first byte
          --no-sequential          skip the C=1 phases
          --gateway-env KEY=VALUE  extra environment for the gateway process (repeatable)
          --gateway-dll PATH       gateway to run (default src/SelfHost/bin/Release/net10.0/KillToken.SelfHost.dll)
          --build                  run `dotnet build src/SelfHost -c Release` first even if the DLL exists
          --keep-data              keep the gateway's temp data folder (SQLite file, gateway.log, portkey.log) afterwards
          --rounds N               interleaved rounds of direct / KillToken / peer per concurrency (default 3)
          --peer portkey|none      the peer gateway (default: portkey when node is on PATH; bench/portkey is installed
                                   with `npm ci` when its node_modules is missing). A run with a peer writes
                                   bench/results/<utc>-gateway-vs-portkey.md
          --soak                   the 30-minute soak instead (its options: --soak --help)
        """;

    public static Options Parse(string[] args)
    {
        var options = new Options { Arguments = [.. args] };
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            switch (arg)
            {
                case "--concurrency" or "-c":
                    options = options with { Concurrency = PositiveInt(arg, Next()) };
                    break;
                case "--seconds" or "-s":
                    options = options with { Seconds = PositiveDouble(arg, Next()) };
                    break;
                case "--warmup-seconds":
                    options = options with { WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) };
                    break;
                case "--sequential-seconds":
                    options = options with { SequentialSeconds = PositiveDouble(arg, Next()) };
                    break;
                case "--rate" or "-r":
                    options = options with { Rate = PositiveDouble(arg, Next()) };
                    break;
                case "--stream":
                    options = options with { Stream = true };
                    break;
                case "--no-sequential":
                    options = options with { NoSequential = true };
                    break;
                case "--keep-data":
                    options = options with { KeepData = true };
                    break;
                case "--build":
                    options = options with { Build = true };
                    break;
                case "--gateway-dll":
                    options = options with { GatewayDll = Next() };
                    break;
                case "--rounds":
                    options = options with { Rounds = PositiveInt(arg, Next()) };
                    break;
                case "--peer":
                    options = options with
                    {
                        Peer = Next() switch
                        {
                            "portkey" => PeerChoice.Portkey,
                            "none" => PeerChoice.None,
                            var other => throw new ArgumentException($"--peer takes portkey or none, not '{other}'."),
                        },
                    };
                    break;
                case "--gateway-env":
                    var pair = Next();
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new ArgumentException("--gateway-env takes KEY=VALUE.");
                    }

                    options.GatewayEnvironment.Add(new(pair[..eq], pair[(eq + 1)..]));
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{arg}'.");
            }
        }

        if (options.WarmupSeconds < 0)
        {
            throw new ArgumentException("--warmup-seconds must be 0 or more.");
        }

        return options;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive whole number.");

    private static double PositiveDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 ? d : throw new ArgumentException($"{name} must be a positive number.");
}

/// <summary>Which peer gateway runs beside KillToken.</summary>
internal enum PeerChoice
{
    /// <summary>Portkey when <c>node</c> is on PATH, else none (with a note).</summary>
    Auto,
    Portkey,
    None,
}
