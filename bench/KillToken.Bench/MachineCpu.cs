using System.Globalization;

namespace KillToken.Bench;

/// <summary>Whole-machine CPU counters from the first line of <c>/proc/stat</c>.</summary>
internal readonly record struct MachineCpu(long Busy, long Total)
{
    public static MachineCpu Read()
    {
        var first = File.ReadLines("/proc/stat").First();
        var fields = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal
        var idle = fields[3] + fields[4];
        var total = fields.Sum();
        return new MachineCpu(total - idle, total);
    }

    public double BusyPercentSince(MachineCpu before) =>
        Total == before.Total ? 0 : 100.0 * (Busy - before.Busy) / (Total - before.Total);
}
