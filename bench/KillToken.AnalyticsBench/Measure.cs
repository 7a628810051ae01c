using System.Diagnostics;
using System.Globalization;
using KillToken.Bench;

namespace KillToken.AnalyticsBench;

internal static class Stats
{
    /// <summary>Nearest-rank percentile of an ascending array.</summary>
    public static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Ms(long fromTimestamp, long toTimestamp) => (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>This process's memory now: managed heap, allocations so far, resident set.</summary>
internal readonly record struct MemorySample(long HeapBytes, long AllocatedBytes, long LastGcHeapBytes, long WorkingSetBytes)
{
    public static MemorySample Take() =>
        new(GC.GetTotalMemory(forceFullCollection: false), GC.GetTotalAllocatedBytes(precise: false), GC.GetGCMemoryInfo().HeapSizeBytes, ReadRssBytes());

    /// <summary><c>VmRSS</c> of <c>/proc/self/status</c> (Environment.WorkingSet on Linux is the same figure, cached less).</summary>
    public static long ReadRssBytes() => ReadStatusKb("VmRSS:") * 1024;

    /// <summary>Peak resident set of the process so far (<c>VmHWM</c>).</summary>
    public static long ReadPeakRssBytes() => ReadStatusKb("VmHWM:") * 1024;

    private static long ReadStatusKb(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return Environment.WorkingSet / 1024;
    }
}

/// <summary>Samples <see cref="MemorySample"/> every 10 ms on its own thread until disposed, keeping the peaks.</summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;

    public MemorySampler(MemorySample baseline)
    {
        Baseline = baseline;
        PeakHeapBytes = baseline.HeapBytes;
        PeakLastGcHeapBytes = baseline.LastGcHeapBytes;
        PeakWorkingSetBytes = baseline.WorkingSetBytes;
        _thread = new Thread(Run) { IsBackground = true, Name = "memory sampler" };
        _thread.Start();
    }

    public MemorySample Baseline { get; }
    public long PeakHeapBytes { get; private set; }
    public long PeakLastGcHeapBytes { get; private set; }
    public long PeakWorkingSetBytes { get; private set; }
    public int Samples { get; private set; }

    private void Run()
    {
        while (!_stop)
        {
            Record(MemorySample.Take());
            Thread.Sleep(10);
        }
    }

    private void Record(MemorySample sample)
    {
        Samples++;
        PeakHeapBytes = Math.Max(PeakHeapBytes, sample.HeapBytes);
        PeakLastGcHeapBytes = Math.Max(PeakLastGcHeapBytes, sample.LastGcHeapBytes);
        PeakWorkingSetBytes = Math.Max(PeakWorkingSetBytes, sample.WorkingSetBytes);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        Record(MemorySample.Take());
    }
}

/// <summary>
/// Counts the records of an RFC 4180 body as it streams by (CRLF outside quotes ends a record), keeping only the first
/// line, so the client holds none of the body.
/// </summary>
internal sealed class CsvCounter
{
    private readonly List<byte> _header = [];
    private bool _inQuotes;
    private bool _lastWasCr;

    public long Records { get; private set; }
    public long Bytes { get; private set; }
    /// <summary>Bytes after the last CRLF (a record without its line end).</summary>
    public long Trailing { get; private set; }
    public string Header => System.Text.Encoding.UTF8.GetString([.. _header]);

    public void Add(ReadOnlySpan<byte> chunk)
    {
        Bytes += chunk.Length;
        foreach (var b in chunk)
        {
            Trailing++;
            if (Records == 0)
            {
                _header.Add(b);
            }

            if (b == (byte)'"')
            {
                _inQuotes = !_inQuotes;
            }
            else if (b == (byte)'\n' && _lastWasCr && !_inQuotes)
            {
                if (Records == 0)
                {
                    _header.RemoveRange(_header.Count - 2, 2);
                }

                Records++;
                Trailing = 0;
            }

            _lastWasCr = b == (byte)'\r';
        }
    }
}

/// <summary>Machine CPU busy and this process's CPU over a phase.</summary>
internal sealed class PhaseCpu
{
    private readonly MachineCpu _machine = MachineCpu.Read();
    private readonly TimeSpan _process = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly long _start = Stopwatch.GetTimestamp();

    public (double MachineBusyPercent, double ProcessCpuPercentOfOneCore) Stop()
    {
        var seconds = Stats.Ms(_start, Stopwatch.GetTimestamp()) / 1000;
        var process = (Process.GetCurrentProcess().TotalProcessorTime - _process).TotalSeconds;
        return (MachineCpu.Read().BusyPercentSince(_machine), seconds <= 0 ? 0 : 100 * process / seconds);
    }
}
