namespace KillToken.Bench;

/// <summary>A gateway process under load: what the bench reads of it from <c>/proc/&lt;pid&gt;</c> and its log file.</summary>
internal interface IMeasuredProcess
{
    /// <summary>"killtoken" or "portkey".</summary>
    string Name { get; }
    int Pid { get; }
    bool HasExited { get; }
    string LogPath { get; }

    /// <summary>User + system CPU the process has used so far (utime + stime).</summary>
    TimeSpan CpuTime();

    ProcMemory Memory();

    long LogLines();

    string LogTail(int lines);
}

/// <summary>A log file another process is still writing.</summary>
internal static class LogFile
{
    public static long CountLines(string path)
    {
        long lines = 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }

        return lines;
    }

    public static string Tail(string path, int lines)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var tail = new Queue<string>();
            while (reader.ReadLine() is { } line)
            {
                tail.Enqueue(line);
                if (tail.Count > lines)
                {
                    tail.Dequeue();
                }
            }

            return string.Join('\n', tail);
        }
        catch (IOException ex)
        {
            return $"(no log: {ex.Message})";
        }
    }
}
