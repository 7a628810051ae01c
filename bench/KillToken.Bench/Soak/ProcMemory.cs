using System.Globalization;

namespace KillToken.Soak;

/// <summary>Memory of a process as the kernel reports it in <c>/proc/&lt;pid&gt;/status</c> (kB).</summary>
internal sealed record ProcMemory(long VmRssKb, long VmHwmKb, int Threads)
{
    public static ProcMemory Read(int pid)
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

        return new ProcMemory(rss, hwm, threads);
    }

    private static long Kb(string line) =>
        long.Parse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
}
