namespace Dotcd.Simulation.Checkers;

/// <summary>A broken invariant: which one, what was seen, and when (simulated milliseconds).</summary>
public sealed record Violation(string Invariant, string Details, long Time)
{
    public override string ToString() => $"{Invariant} at {SimTrace.FormatTime(Time).Trim()}s: {Details}";
}

/// <summary>A member's log as a checker sees it: a snapshot point, then contiguous entries.</summary>
/// <remarks>Invariant: Entries[i].Index == SnapshotIndex + 1 + i.</remarks>
public sealed record LogView(ulong NodeId, ulong Commit, ulong SnapshotIndex, ulong SnapshotTerm, IReadOnlyList<Dotcd.Raft.Entry> Entries)
{
    public ulong LastIndex => SnapshotIndex + (ulong)Entries.Count;

    /// <summary>The term at index, when the log knows it (the snapshot point or an entry).</summary>
    public bool TryGetTerm(ulong index, out ulong term)
    {
        term = 0;
        if (index == SnapshotIndex)
        {
            term = SnapshotTerm;
            return true;
        }
        if (index < SnapshotIndex || index > LastIndex) return false;
        term = Entries[(int)(index - SnapshotIndex - 1)].Term;
        return true;
    }

    /// <summary>The entry at index, unless it is the snapshot point or outside the log.</summary>
    public bool TryGetEntry(ulong index, out Dotcd.Raft.Entry entry)
    {
        entry = default;
        if (index <= SnapshotIndex || index > LastIndex) return false;
        entry = Entries[(int)(index - SnapshotIndex - 1)];
        return true;
    }
}
