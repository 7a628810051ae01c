using System.Globalization;

namespace KillToken.Soak;

/// <summary>
/// What the soak reads of the gateway process every few seconds: resident memory (VmRSS, and its peak VmHWM), threads
/// and open file handles (all, and how many of them are sockets) from <c>/proc/&lt;pid&gt;</c>, and on SQLite the data
/// file's and the WAL's sizes.
/// Shared by the soak bench and its CI test (linked source).
/// </summary>
internal sealed record SoakSample(double ElapsedSeconds, long RssKb, long HwmKb, int Threads, int Handles, int Sockets, long? DataBytes, long? WalBytes, int Calls)
{
    /// <summary>Handles that are not sockets: files, pipes, watchers — these must stay flat; sockets follow the load.</summary>
    public int FileHandles => Handles - Sockets;

    /// <param name="databasePath">The SQLite file (its WAL is beside it, <c>-wal</c>); null on Cosmos.</param>
    public static SoakSample Read(int pid, double elapsedSeconds, string? databasePath, int calls)
    {
        var memory = ProcMemory.Read(pid);
        var handles = 0;
        var sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            handles++;
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:", StringComparison.Ordinal))
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the read.
            }
        }

        return new SoakSample(elapsedSeconds, memory.VmRssKb, memory.VmHwmKb, memory.Threads, handles, sockets,
            databasePath is null ? null : Size(databasePath), databasePath is null ? null : Size(databasePath + "-wal"), calls);
    }

    private static long Size(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
