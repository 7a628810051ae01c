using System.Globalization;

namespace KillToken.Soak;

/// <summary>How much a resource may move between the reference sample and the end before the run counts as growing.</summary>
/// <param name="RssGrowthMb">VmRSS at the end minus VmRSS at the reference.</param>
/// <param name="ThreadDelta">Threads at the end (their floor over the last samples) above the most seen from warm-up to the reference.</param>
/// <param name="HandleDelta">Open handles other than sockets at the end (floor) above the most seen from warm-up to the reference.</param>
/// <param name="SocketDelta">Open sockets at the end (floor) above the most seen from warm-up to the reference: they follow the
/// calls in flight (client connections, and on Cosmos the SDK's connections to the store), so they get more room.</param>
/// <param name="WalMaxMb">The largest the SQLite WAL may get after warm-up (checkpoints keep it bounded).</param>
/// <param name="DataGrowthRatio">The data file's growth per call after the reference, as a multiple of its growth per call before it.</param>
internal sealed record SoakLimits(double RssGrowthMb, int ThreadDelta, int HandleDelta, int SocketDelta, double WalMaxMb, double DataGrowthRatio)
{
    /// <summary>The bench's verdict: a leak of a few KB per call over 30 minutes of 60+ calls/s shows as tens of MB.</summary>
    public static SoakLimits Bench { get; } = new(RssGrowthMb: 48, ThreadDelta: 8, HandleDelta: 16, SocketDelta: 64, WalMaxMb: 64, DataGrowthRatio: 2);
}

/// <summary>
/// The flatness verdict of a soak: samples at the end of warm-up (start), at the reference (5 minutes in, or halfway
/// through a shorter run) and at the end, each resource checked against <see cref="SoakLimits"/> between reference and
/// end — after warm-up, so the JIT, the pools and the first pages of the file are not counted as growth.
/// Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed record SoakFlatness(SoakSample Start, SoakSample Reference, SoakSample End, IReadOnlyList<SoakSample> AfterWarmUp, IReadOnlyList<string> Failures)
{
    public bool Passed => Failures.Count == 0;

    public static SoakFlatness Evaluate(IReadOnlyList<SoakSample> samples, double warmUpSeconds, double referenceSeconds, SoakLimits limits)
    {
        var after = samples.Where(s => s.ElapsedSeconds >= warmUpSeconds).ToList();
        if (after.Count < 3)
        {
            throw new InvalidOperationException($"Only {after.Count} samples after warm-up; the run is too short to judge.");
        }

        var start = after[0];
        var end = after[^1];
        // The reference: 5 minutes in, or halfway between the start and the end of a shorter run.
        var at = Math.Min(referenceSeconds, (start.ElapsedSeconds + end.ElapsedSeconds) / 2);
        var reference = after.Where(s => s != end).MinBy(s => Math.Abs(s.ElapsedSeconds - at))!;
        var early = after.Where(s => s.ElapsedSeconds <= reference.ElapsedSeconds).ToList();
        var failures = new List<string>();
        var inv = CultureInfo.InvariantCulture;

        var rssGrowthMb = (end.RssKb - reference.RssKb) / 1024.0;
        if (rssGrowthMb > limits.RssGrowthMb)
        {
            failures.Add(string.Format(inv, "RSS grew {0:0.0} MB from the reference to the end (limit {1} MB)", rssGrowthMb, limits.RssGrowthMb));
        }

        // Counts are judged by their floor over the last samples (a tenth of the run, at least 3): a leak raises the floor,
        // a burst of calls in flight at the moment of one sample does not.
        var tail = after.TakeLast(Math.Max(3, after.Count / 10)).ToList();
        void Count(string what, Func<SoakSample, int> read, int delta)
        {
            var most = early.Max(read);
            var floor = tail.Min(read);
            if (floor > most + delta)
            {
                failures.Add(string.Format(inv, "{0}: at least {1} over the last {2} samples, at most {3} from warm-up to the reference (limit +{4})",
                    what, floor, tail.Count, most, delta));
            }
        }

        Count("threads", s => s.Threads, limits.ThreadDelta);
        Count("handles other than sockets", s => s.FileHandles, limits.HandleDelta);
        Count("sockets", s => s.Sockets, limits.SocketDelta);

        if (after.Max(s => s.WalBytes) is { } wal && wal / 1048576.0 > limits.WalMaxMb)
        {
            failures.Add(string.Format(inv, "the WAL reached {0:0.0} MB (limit {1} MB)", wal / 1048576.0, limits.WalMaxMb));
        }

        if (start.DataBytes is { } d0 && reference.DataBytes is { } d1 && end.DataBytes is { } d2)
        {
            // The file holds every trace, so it grows with the calls; what must not grow is its size per call. SQLite
            // extends the file in steps, hence the slack of 1 MB on the earlier figure.
            var before = (d1 - d0 + 1048576.0) / Math.Max(1, reference.Calls - start.Calls);
            var later = (double)(d2 - d1) / Math.Max(1, end.Calls - reference.Calls);
            if (later > before * limits.DataGrowthRatio)
            {
                failures.Add(string.Format(inv, "the data file grew {0:0} bytes per call after the reference, {1:0} before (limit ×{2})", later, before, limits.DataGrowthRatio));
            }
        }

        return new SoakFlatness(start, reference, end, after, failures);
    }
}
