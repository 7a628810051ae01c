using System.Globalization;

namespace KillToken.Soak;

/// <summary>
/// What the soak reads of the gateway process every few seconds: resident memory (VmRSS, and its peak VmHWM), threads
/// and open file handles from <c>/proc/&lt;pid&gt;</c>, and on SQLite the data file's and the WAL's sizes.
/// Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed record SoakSample(double ElapsedSeconds, long RssKb, long HwmKb, int Threads, int Handles, long? DataBytes, long? WalBytes, int Calls)
{
    /// <param name="databasePath">The SQLite file (its WAL is beside it, <c>-wal</c>); null on Cosmos.</param>
    public static SoakSample Read(int pid, double elapsedSeconds, string? databasePath, int calls)
    {
        long rss = 0, hwm = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kb(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                hwm = Kb(line);
            }
            else if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        var handles = Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;
        return new SoakSample(elapsedSeconds, rss, hwm, threads, handles,
            databasePath is null ? null : Size(databasePath), databasePath is null ? null : Size(databasePath + "-wal"), calls);
    }

    private static long Size(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static long Kb(string line) =>
        long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
}
