using System.Text;

namespace Dotcd.Simulation;

/// <summary>
/// Every event of a run feeds a 64-bit FNV-1a hash, so two runs of one seed can be compared
/// cheaply (the replay test). With Verbose set, the events are also written out as lines: that is
/// the trace a failing seed is replayed with (--seed S).
/// </summary>
public sealed class SimTrace
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    private readonly TextWriter? _writer;
    private ulong _hash = FnvOffset;

    public SimTrace(TextWriter? verboseWriter) => _writer = verboseWriter;

    /// <summary>True when lines are written; callers format details only then.</summary>
    public bool Verbose => _writer is not null;

    /// <summary>The hash of everything recorded so far.</summary>
    public ulong Hash => _hash;

    public long Events { get; private set; }

    public void Record(long time, TraceKind kind, ulong a = 0, ulong b = 0, ulong c = 0, ulong d = 0)
    {
        Events++;
        Mix((ulong)time);
        Mix((ulong)kind);
        Mix(a);
        Mix(b);
        Mix(c);
        Mix(d);
    }

    /// <summary>Mixes bytes (an entry's data, a read's value) into the hash.</summary>
    public void RecordBytes(ReadOnlySpan<byte> bytes)
    {
        foreach (byte x in bytes)
        {
            _hash = (_hash ^ x) * FnvPrime;
        }
    }

    public void Line(long time, string text)
    {
        if (_writer is null) return;
        var sb = new StringBuilder(text.Length + 16);
        sb.Append(FormatTime(time)).Append(' ').Append(text);
        _writer.WriteLine(sb.ToString());
    }

    /// <summary>Simulated milliseconds as seconds with three decimals.</summary>
    public static string FormatTime(long time) => $"{time / 1000,5}.{time % 1000:D3}";

    private void Mix(ulong value)
    {
        for (int i = 0; i < 8; i++)
        {
            _hash = (_hash ^ (byte)value) * FnvPrime;
            value >>= 8;
        }
    }
}

/// <summary>What a trace record stands for; the numbers are part of the hash, so only append.</summary>
public enum TraceKind : ulong
{
    Tick = 1,
    Send = 2,
    Drop = 3,
    Deliver = 4,
    Duplicate = 5,
    Ready = 6,
    Apply = 7,
    ApplySnapshot = 8,
    CreateSnapshot = 9,
    Crash = 10,
    Restart = 11,
    Stop = 12,
    Partition = 13,
    Heal = 14,
    ClientCall = 15,
    ClientReturn = 16,
    ClientTimeout = 17,
    Propose = 18,
    ReadIndex = 19,
    ReadServed = 20,
    ConfChangePropose = 21,
    ConfChangeApply = 22,
    Role = 23,
    Sync = 24,
    NetworkMode = 25,
    Probe = 26,
    ReportSnapshot = 27,
    ReportUnreachable = 28,
    Start = 29,
}
