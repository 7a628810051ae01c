namespace KillToken.Testing.FunctionsHost;

/// <summary>Lines from the worker (stdout, stderr, RpcLog) and the host's own notes, in arrival order; safe from any thread.</summary>
internal sealed class OutputLog
{
    private readonly List<string> _lines = [];
    private readonly Lock _lock = new();

    public void Add(string line)
    {
        lock (_lock)
        {
            _lines.Add(line);
        }
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (_lock)
        {
            return [.. _lines];
        }
    }

    /// <summary>The last lines, for an exception message.</summary>
    public string Tail(int count)
    {
        lock (_lock)
        {
            return string.Join(Environment.NewLine, _lines.Skip(Math.Max(0, _lines.Count - count)));
        }
    }
}
