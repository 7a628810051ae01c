using KillToken.Soak;

namespace KillToken.Bench;

/// <summary>
/// A gateway process under load: what the bench reads of it from <c>/proc/&lt;pid&gt;</c> and its log file, and how it
/// is stopped (killed with its children, also when the bench itself exits).
/// </summary>
internal abstract class MeasuredProcess
{
    private readonly System.Diagnostics.Process _process;

    protected MeasuredProcess(System.Diagnostics.Process process, string logPath)
    {
        _process = process;
        LogPath = logPath;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill();
    }

    /// <summary>"killtoken" or "portkey".</summary>
    public abstract string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string LogPath { get; }

    /// <summary>User + system CPU the process has used so far (utime + stime).</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public ProcMemory Memory() => ProcMemory.Read(Pid);

    /// <summary>Lines the process has logged so far (stdout and stderr).</summary>
    public long LogLines() => LogFile.CountLines(LogPath);

    public string LogTail(int lines) => LogFile.Tail(LogPath, lines);

    /// <summary>Kills the process and its children and releases it.</summary>
    protected void Stop()
    {
        Kill();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone (or already released).
        }
    }
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

/// <summary>Waits for a process just started to answer 200 on one of its routes, or fails with the tail of its log.</summary>
internal static class Readiness
{
    public static async Task WaitForOkAsync(MeasuredProcess process, Uri baseAddress, string path, string displayName, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{displayName} exited before GET {path} answered:\n{process.LogTail(40)}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
                if (response.StatusCode == System.Net.HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A slow first answer; try again.
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"{displayName} did not answer GET {path} within {timeout.TotalSeconds:0} s:\n{process.LogTail(40)}");
    }
}
