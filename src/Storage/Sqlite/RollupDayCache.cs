using KillToken.Core.Analytics;

namespace KillToken.Storage.Sqlite;

/// <summary>
/// The rollup rows of (workspace, UTC day) pairs already read, so a long report reads from the file only the days that
/// changed since — in practice today. Exact because one process owns the file and only <see cref="SqliteUsageRollups"/>
/// writes rollups: it invalidates every day it writes, after the commit. A read started before that commit carries the
/// generation it saw and is not kept (<see cref="Put"/>), so a stale day can never be cached. Bounded: past
/// <see cref="MaxRows"/> rows it starts again empty.
/// </summary>
internal sealed class RollupDayCache
{
    /// <summary>≈ 35 MB: a year of 270 cells a day, or seven workspaces' years of 40.</summary>
    public const int MaxRows = 100_000;

    private readonly Dictionary<(string Workspace, string Day), RollupRow[]> _days = [];
    private readonly Lock _lock = new();
    private long _generation;
    private int _rows;

    public long Generation
    {
        get
        {
            lock (_lock)
            {
                return _generation;
            }
        }
    }

    public bool TryGet(string workspaceId, string day, out RollupRow[] rows)
    {
        lock (_lock)
        {
            return _days.TryGetValue((workspaceId, day), out rows!);
        }
    }

    /// <summary>Keeps a day's rows read at <paramref name="generation"/>, unless a write has invalidated anything since.</summary>
    public void Put(long generation, string workspaceId, string day, RollupRow[] rows)
    {
        lock (_lock)
        {
            if (generation != _generation)
            {
                return;
            }

            // An empty day still takes an entry: counted as one row.
            var size = Math.Max(1, rows.Length);
            if (_rows + size > MaxRows)
            {
                _days.Clear();
                _rows = 0;
            }

            if (_days.TryAdd((workspaceId, day), rows))
            {
                _rows += size;
            }
        }
    }

    public void Invalidate(IEnumerable<(string Workspace, string Day)> days)
    {
        lock (_lock)
        {
            _generation++;
            foreach (var day in days)
            {
                if (_days.Remove(day, out var rows))
                {
                    _rows -= Math.Max(1, rows.Length);
                }
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _generation++;
            _days.Clear();
            _rows = 0;
        }
    }
}
