using System.Text;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// The last lines a member wrote to stdout and stderr, for failure messages. Bounded so a
/// chatty member under a long test cannot grow the test host's memory.
/// </summary>
public sealed class OutputLog
{
    private const int MaxLines = 3000;

    private readonly Lock _lock = new();
    private readonly Queue<string> _lines = new(); // Invariant: Count <= MaxLines; the oldest go first.
    private long _dropped;                         // Lines dropped from the front; _dropped + Count = lines ever added.

    /// <summary>A position to search from later: "what did the process write since here".</summary>
    public long Mark
    {
        get
        {
            lock (_lock)
            {
                return _dropped + _lines.Count;
            }
        }
    }

    public void Add(string line)
    {
        lock (_lock)
        {
            if (_lines.Count == MaxLines)
            {
                _lines.Dequeue();
                _dropped++;
            }

            _lines.Enqueue(line);
        }
    }

    /// <summary>Whether a line added at or after <paramref name="mark"/> contains the text (case-insensitive).</summary>
    public bool ContainsSince(long mark, string text)
    {
        lock (_lock)
        {
            int skip = (int)Math.Max(0, mark - _dropped);
            return _lines.Skip(skip).Any(line => line.Contains(text, StringComparison.OrdinalIgnoreCase));
        }
    }

    /// <summary>The last <paramref name="lines"/> lines, oldest first.</summary>
    public string Tail(int lines = 60)
    {
        lock (_lock)
        {
            var text = new StringBuilder();
            int skip = Math.Max(0, _lines.Count - lines);
            if (skip > 0 || _dropped > 0)
            {
                text.Append("... (").Append(skip + _dropped).Append(" earlier lines)\n");
            }

            foreach (string line in _lines.Skip(skip))
            {
                text.Append(line).Append('\n');
            }

            return text.ToString();
        }
    }

    public override string ToString() => Tail(MaxLines);
}
