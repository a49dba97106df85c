namespace Dotcd.Raft;

/// <summary>
/// An in-memory IRaftStorage (etcd's MemoryStorage): the host appends what a Ready hands it, the
/// node reads. Used by tests and simulations, and as the model a durable storage must match.
/// </summary>
public sealed class MemoryStorage : IRaftStorage
{
    // _entries[0] is a dummy entry holding the index and term of the last snapshot (or 0/0), so
    // Term(FirstIndex() - 1) is always answerable.
    // Layout: [dummy: snapshot index/term][FirstIndex][FirstIndex + 1]...[LastIndex]
    // Invariant: _entries.Count >= 1 and _entries[i].Index == _entries[0].Index + i.
    private List<Entry> _entries = [new Entry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty)];
    private HardState _hardState;
    private Snapshot _snapshot = Snapshot.Empty;

    /// <summary>A storage holding a snapshot at index 0 whose configuration is the given members (etcd tests' withPeers).</summary>
    public static MemoryStorage WithPeers(IReadOnlyList<ulong> voters, IReadOnlyList<ulong>? learners = null)
    {
        var storage = new MemoryStorage();
        var confState = new ConfState { Voters = voters.ToArray(), Learners = learners?.ToArray() ?? [] };
        storage._snapshot = new Snapshot(ReadOnlyMemory<byte>.Empty, new SnapshotMetadata(confState, 0, 0));
        return storage;
    }

    public RaftInitialState InitialState() => new(_hardState, _snapshot.Metadata.ConfState);

    /// <summary>Records the hard state the host persisted from a Ready.</summary>
    public void SetHardState(HardState hs) => _hardState = hs;

    public StorageError TryGetEntries(ulong low, ulong high, ulong maxSizeBytes, out IReadOnlyList<Entry> entries)
    {
        entries = Array.Empty<Entry>();
        ulong offset = _entries[0].Index;
        if (low <= offset) return StorageError.Compacted;
        if (high > LastIndex() + 1)
            throw new RaftInvariantException($"entries' hi({high}) is out of bound lastindex({LastIndex()})");
        if (low > high) throw new RaftInvariantException($"invalid entries range [{low}, {high})");
        // Only the dummy entry: nothing was appended since the last snapshot.
        if (_entries.Count == 1) return StorageError.Unavailable;

        int start = (int)(low - offset);
        int count = EntrySizes.CountWithinLimit(_entries, start, (int)(high - low), maxSizeBytes);
        entries = _entries.GetRange(start, count).ToArray();
        return StorageError.None;
    }

    public StorageError TryGetTerm(ulong index, out ulong term)
    {
        term = 0;
        ulong offset = _entries[0].Index;
        if (index < offset) return StorageError.Compacted;
        if (index - offset >= (ulong)_entries.Count) return StorageError.Unavailable;
        term = _entries[(int)(index - offset)].Term;
        return StorageError.None;
    }

    public ulong LastIndex() => _entries[0].Index + (ulong)_entries.Count - 1;

    public ulong FirstIndex() => _entries[0].Index + 1;

    public StorageError TryGetSnapshot(out Snapshot snapshot)
    {
        snapshot = _snapshot;
        return StorageError.None;
    }

    /// <summary>Replaces the whole log with the snapshot; an older or equal snapshot is refused.</summary>
    public StorageError ApplySnapshot(Snapshot snapshot)
    {
        if (_snapshot.Metadata.Index >= snapshot.Metadata.Index) return StorageError.SnapshotOutOfDate;
        _snapshot = snapshot;
        _entries = [new Entry(snapshot.Metadata.Term, snapshot.Metadata.Index, EntryType.Normal, ReadOnlyMemory<byte>.Empty)];
        return StorageError.None;
    }

    /// <summary>
    /// Makes a snapshot at index (which must be applied by the host) for sending to slow followers;
    /// confState null keeps the previous snapshot's configuration. Does not compact.
    /// </summary>
    public StorageError CreateSnapshot(ulong index, ConfState? confState, ReadOnlyMemory<byte> data, out Snapshot snapshot)
    {
        snapshot = Snapshot.Empty;
        if (index <= _snapshot.Metadata.Index) return StorageError.SnapshotOutOfDate;
        if (index > LastIndex())
            throw new RaftInvariantException($"snapshot {index} is out of bound lastindex({LastIndex()})");
        ulong term = _entries[(int)(index - _entries[0].Index)].Term;
        _snapshot = new Snapshot(data, new SnapshotMetadata(confState ?? _snapshot.Metadata.ConfState, index, term));
        snapshot = _snapshot;
        return StorageError.None;
    }

    /// <summary>Discards entries up to compactIndex; the entry at compactIndex becomes the new dummy.</summary>
    public StorageError Compact(ulong compactIndex)
    {
        ulong offset = _entries[0].Index;
        if (compactIndex <= offset) return StorageError.Compacted;
        if (compactIndex > LastIndex())
            throw new RaftInvariantException($"compact {compactIndex} is out of bound lastindex({LastIndex()})");

        int i = (int)(compactIndex - offset);
        var kept = new List<Entry>(_entries.Count - i) { _entries[i] with { Type = EntryType.Normal, Data = ReadOnlyMemory<byte>.Empty } };
        kept.AddRange(_entries.Skip(i + 1));
        _entries = kept;
        return StorageError.None;
    }

    /// <summary>
    /// Appends entries the host got from a Ready. A tail that conflicts is replaced (the new entries
    /// win); entries already compacted away are skipped; a gap after LastIndex is a bug.
    /// </summary>
    public void Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0) return;
        ulong first = FirstIndex();
        ulong newFirst = entries[0].Index;
        ulong newLast = newFirst + (ulong)entries.Count - 1;
        if (newLast < first) return; // Everything is already covered by the snapshot.

        int skip = first > newFirst ? (int)(first - newFirst) : 0;
        ulong appendAt = newFirst + (ulong)skip;
        ulong offset = appendAt - _entries[0].Index;
        if (offset > (ulong)_entries.Count)
            throw new RaftInvariantException($"missing log entry [last: {LastIndex()}, append at: {appendAt}]");

        if (offset < (ulong)_entries.Count) _entries.RemoveRange((int)offset, _entries.Count - (int)offset);
        for (int k = skip; k < entries.Count; k++) _entries.Add(entries[k]);
    }
}

/// <summary>The size rule shared by storage and log: entries up to a byte limit, but at least one.</summary>
internal static class EntrySizes
{
    public const ulong NoLimit = ulong.MaxValue;

    /// <summary>How many of list[start..start+count) fit in maxSize bytes of Entry.Size (at least one if count > 0).</summary>
    public static int CountWithinLimit(IReadOnlyList<Entry> list, int start, int count, ulong maxSize)
    {
        if (count == 0) return 0;
        ulong size = list[start].Size;
        int limit = 1;
        for (; limit < count; limit++)
        {
            size += list[start + limit].Size;
            if (size > maxSize) break;
        }
        return limit;
    }

    public static ulong PayloadSize(IReadOnlyList<Entry> entries)
    {
        ulong size = 0;
        for (int i = 0; i < entries.Count; i++) size += entries[i].PayloadSize;
        return size;
    }
}
