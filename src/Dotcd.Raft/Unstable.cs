namespace Dotcd.Raft;

/// <summary>
/// The tail of the log the host has not yet persisted: an optional incoming snapshot and the
/// entries after it (etcd's unstable). Ready hands them out; Advance marks them stable.
/// </summary>
internal sealed class Unstable(ulong offset, RaftLogSink log)
{
    // Invariant: _entries[i].Index == Offset + i. When Snapshot is set, Offset == Snapshot index + 1.
    private readonly List<Entry> _entries = [];

    /// <summary>The index of the first unstable entry (one past the stable log).</summary>
    public ulong Offset { get; private set; } = offset;

    /// <summary>An incoming snapshot not yet persisted by the host; null when none.</summary>
    public Snapshot? Snapshot { get; private set; }

    public int Count => _entries.Count;

    public IReadOnlyList<Entry> Entries => _entries;

    /// <summary>The first index when a snapshot is pending (the log then starts after it).</summary>
    public bool TryGetFirstIndex(out ulong index)
    {
        index = Snapshot is null ? 0 : Snapshot.Metadata.Index + 1;
        return Snapshot is not null;
    }

    public bool TryGetLastIndex(out ulong index)
    {
        if (_entries.Count > 0)
        {
            index = Offset + (ulong)_entries.Count - 1;
            return true;
        }
        index = Snapshot?.Metadata.Index ?? 0;
        return Snapshot is not null;
    }

    public bool TryGetTerm(ulong index, out ulong term)
    {
        term = 0;
        if (index < Offset)
        {
            if (Snapshot is not null && Snapshot.Metadata.Index == index)
            {
                term = Snapshot.Metadata.Term;
                return true;
            }
            return false;
        }
        if (!TryGetLastIndex(out ulong last) || index > last) return false;
        term = _entries[(int)(index - Offset)].Term;
        return true;
    }

    /// <summary>The entry at index; the caller has checked Offset <= index <= last.</summary>
    public Entry EntryAt(ulong index) => _entries[(int)(index - Offset)];

    /// <summary>Entries up to (index, term) reached stable storage. A mismatching term means they were replaced meanwhile.</summary>
    public void StableTo(ulong index, ulong term)
    {
        if (!TryGetTerm(index, out ulong t)) return;
        // Only entries (not the snapshot's index) can become stable here, and only if not overwritten since.
        if (t == term && index >= Offset)
        {
            _entries.RemoveRange(0, (int)(index + 1 - Offset));
            Offset = index + 1;
            if (_entries.Count == 0 && _entries.Capacity > 1024) _entries.Capacity = 16;
        }
    }

    public void StableSnapTo(ulong index)
    {
        if (Snapshot is not null && Snapshot.Metadata.Index == index) Snapshot = null;
    }

    public void Restore(Snapshot snapshot)
    {
        Offset = snapshot.Metadata.Index + 1;
        _entries.Clear();
        Snapshot = snapshot;
    }

    /// <summary>Appends entries, first dropping any unstable entries at or after the first new index.</summary>
    public void TruncateAndAppend(IReadOnlyList<Entry> entries)
    {
        ulong after = entries[0].Index;
        if (after == Offset + (ulong)_entries.Count)
        {
            // Directly after the current tail.
            _entries.AddRange(entries);
        }
        else if (after <= Offset)
        {
            // Replaces every unstable entry; the stable log below is truncated too (by the host, on append).
            log.Log(RaftLogLevel.Info, $"replace the unstable entries from index {after}");
            Offset = after;
            _entries.Clear();
            _entries.AddRange(entries);
        }
        else
        {
            // Keeps [Offset, after) and replaces the rest.
            CheckOutOfBounds(Offset, after);
            log.Log(RaftLogLevel.Info, $"truncate the unstable entries before index {after}");
            _entries.RemoveRange((int)(after - Offset), _entries.Count - (int)(after - Offset));
            _entries.AddRange(entries);
        }
    }

    /// <summary>A copy of the entries in [low, high).</summary>
    public Entry[] Slice(ulong low, ulong high)
    {
        CheckOutOfBounds(low, high);
        return _entries.GetRange((int)(low - Offset), (int)(high - low)).ToArray();
    }

    private void CheckOutOfBounds(ulong low, ulong high)
    {
        if (low > high) throw log.Panic($"invalid unstable.slice {low} > {high}");
        ulong upper = Offset + (ulong)_entries.Count;
        if (low < Offset || high > upper) throw log.Panic($"unstable.slice[{low},{high}) out of bound [{Offset},{upper}]");
    }
}
