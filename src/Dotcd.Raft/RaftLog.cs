namespace Dotcd.Raft;

/// <summary>
/// The node's whole log: the host's stable storage followed by the unstable tail (etcd's raftLog).
///
///   storage: [dummy/snapshot][FirstIndex ... stable last]
///   unstable:                                            [Offset ... LastIndex]
///   markers:  Applied <= Committed <= LastIndex
/// </summary>
internal sealed class RaftLog
{
    private readonly IRaftStorage _storage;
    private readonly RaftLogSink _log;
    private readonly ulong _maxNextEntriesSize; // Byte cap of the committed entries one Ready hands out.

    // Invariant: Applied <= Committed <= LastIndex(). Committed never regresses: a quorum holds
    // every entry up to it. Applied is the host's last applied index (moved by Advance).
    public ulong Committed { get; private set; }
    public ulong Applied { get; private set; }

    public Unstable Unstable { get; }

    public RaftLog(IRaftStorage storage, RaftLogSink log, ulong maxNextEntriesSize = EntrySizes.NoLimit)
    {
        _storage = storage;
        _log = log;
        _maxNextEntriesSize = maxNextEntriesSize;
        ulong firstIndex = storage.FirstIndex();
        ulong lastIndex = storage.LastIndex();
        Unstable = new Unstable(lastIndex + 1, log);
        // Everything up to the snapshot is committed and applied by definition.
        Committed = firstIndex - 1;
        Applied = firstIndex - 1;
    }

    public override string ToString() =>
        $"committed={Committed}, applied={Applied}, unstable.offset={Unstable.Offset}, len(unstable.Entries)={Unstable.Count}";

    /// <summary>
    /// Appends a leader's entries that follow (index, logTerm) if our log matches there, and
    /// commits up to min(committed, last new index). False (and no change) on a mismatch.
    /// </summary>
    public bool MaybeAppend(ulong index, ulong logTerm, ulong committed, IReadOnlyList<Entry> entries, out ulong lastNewIndex)
    {
        lastNewIndex = 0;
        if (!MatchTerm(index, logTerm)) return false;

        lastNewIndex = index + (ulong)entries.Count;
        ulong conflict = FindConflict(entries);
        if (conflict != 0)
        {
            if (conflict <= Committed)
                throw _log.Panic($"entry {conflict} conflict with committed entry [committed({Committed})]");
            // Only the entries from the first conflict on are new (the rest we already hold).
            int start = (int)(conflict - (index + 1));
            Append(start == 0 ? entries : Tail(entries, start));
        }
        CommitTo(Math.Min(committed, lastNewIndex));
        return true;
    }

    /// <summary>Appends entries after the committed prefix (truncating any conflicting tail); returns the new last index.</summary>
    public ulong Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0) return LastIndex();
        ulong after = entries[0].Index - 1;
        if (after < Committed) throw _log.Panic($"after({after}) is out of range [committed({Committed})]");
        Unstable.TruncateAndAppend(entries);
        return LastIndex();
    }

    /// <summary>
    /// The index of the first entry whose term differs from ours (or that we lack), or 0 when we
    /// hold all of them. Entries must be contiguous.
    /// </summary>
    public ulong FindConflict(IReadOnlyList<Entry> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            Entry e = entries[i];
            if (!MatchTerm(e.Index, e.Term))
            {
                if (e.Index <= LastIndex())
                {
                    _log.Log(RaftLogLevel.Info,
                        $"found conflict at index {e.Index} [existing term: {ZeroTermOnCompacted(e.Index)}, conflicting term: {e.Term}]");
                }
                return e.Index;
            }
        }
        return 0;
    }

    /// <summary>
    /// The fast-backtracking guess of where our log last agrees with another log of which we know
    /// only that it has term at index: the largest i <= index whose term is <= term, or whose term
    /// is unknown (compacted), with that term (0 when unknown). Every entry above i has a larger
    /// term than the other log can hold there, so none of them can match.
    /// </summary>
    public (ulong Index, ulong Term) FindConflictByTerm(ulong index, ulong term)
    {
        for (; index > 0; index--)
        {
            StorageError err = TryGetTerm(index, out ulong ourTerm);
            if (err != StorageError.None) return (index, 0);
            if (ourTerm <= term) return (index, ourTerm);
        }
        return (0, 0);
    }

    /// <summary>A copy of the unstable entries, for a Ready.</summary>
    public IReadOnlyList<Entry> UnstableEntries() =>
        Unstable.Count == 0 ? Array.Empty<Entry>() : Unstable.Slice(Unstable.Offset, Unstable.Offset + (ulong)Unstable.Count);

    /// <summary>Committed entries not yet applied, up to the per-Ready byte cap.</summary>
    public IReadOnlyList<Entry> NextEntries()
    {
        ulong off = Math.Max(Applied + 1, FirstIndex());
        if (Committed + 1 <= off) return Array.Empty<Entry>();
        StorageError err = Slice(off, Committed + 1, _maxNextEntriesSize, out IReadOnlyList<Entry> entries);
        if (err != StorageError.None) throw _log.Panic($"unexpected error when getting unapplied entries ({err})");
        return entries;
    }

    public bool HasNextEntries() => Committed + 1 > Math.Max(Applied + 1, FirstIndex());

    /// <summary>The snapshot to send: the unstable one if any, else the storage's.</summary>
    public StorageError TryGetSnapshot(out Snapshot snapshot)
    {
        if (Unstable.Snapshot is not null)
        {
            snapshot = Unstable.Snapshot;
            return StorageError.None;
        }
        return _storage.TryGetSnapshot(out snapshot);
    }

    public ulong FirstIndex() => Unstable.TryGetFirstIndex(out ulong index) ? index : _storage.FirstIndex();

    public ulong LastIndex() => Unstable.TryGetLastIndex(out ulong index) ? index : _storage.LastIndex();

    public void CommitTo(ulong toCommit)
    {
        // Never decrease the commit index.
        if (Committed >= toCommit) return;
        if (LastIndex() < toCommit)
        {
            throw _log.Panic(
                $"tocommit({toCommit}) is out of range [lastIndex({LastIndex()})]. Was the raft log corrupted, truncated, or lost?");
        }
        Committed = toCommit;
    }

    public void AppliedTo(ulong index)
    {
        if (index == 0) return;
        if (Committed < index || index < Applied)
            throw _log.Panic($"applied({index}) is out of range [prevApplied({Applied}), committed({Committed})]");
        Applied = index;
    }

    public void StableTo(ulong index, ulong term) => Unstable.StableTo(index, term);

    public void StableSnapTo(ulong index) => Unstable.StableSnapTo(index);

    public ulong LastTerm()
    {
        StorageError err = TryGetTerm(LastIndex(), out ulong term);
        if (err != StorageError.None) throw _log.Panic($"unexpected error when getting the last term ({err})");
        return term;
    }

    /// <summary>
    /// The term at index. Indexes outside [FirstIndex-1, LastIndex] answer term 0 without error
    /// (as etcd: "no such entry" never matches a real term); a compacted race answers Compacted.
    /// </summary>
    public StorageError TryGetTerm(ulong index, out ulong term)
    {
        term = 0;
        ulong dummyIndex = FirstIndex() - 1;
        if (index < dummyIndex || index > LastIndex()) return StorageError.None;
        if (Unstable.TryGetTerm(index, out term)) return StorageError.None;

        StorageError err = _storage.TryGetTerm(index, out term);
        if (err is StorageError.None or StorageError.Compacted or StorageError.Unavailable) return err;
        throw _log.Panic($"unexpected error getting term of {index} ({err})");
    }

    /// <summary>The term at index, 0 when compacted.</summary>
    public ulong ZeroTermOnCompacted(ulong index)
    {
        StorageError err = TryGetTerm(index, out ulong term);
        if (err == StorageError.None) return term;
        if (err == StorageError.Compacted) return 0;
        throw _log.Panic($"unexpected error ({err})");
    }

    /// <summary>Entries from index to the end, up to maxSize bytes.</summary>
    public StorageError TryGetEntries(ulong index, ulong maxSize, out IReadOnlyList<Entry> entries)
    {
        if (index > LastIndex())
        {
            entries = Array.Empty<Entry>();
            return StorageError.None;
        }
        return Slice(index, LastIndex() + 1, maxSize, out entries);
    }

    /// <summary>Every entry from FirstIndex on (tests).</summary>
    public IReadOnlyList<Entry> AllEntries()
    {
        while (true)
        {
            StorageError err = TryGetEntries(FirstIndex(), EntrySizes.NoLimit, out IReadOnlyList<Entry> entries);
            if (err == StorageError.None) return entries;
            // A compaction raced us (a concurrent host): read again.
            if (err != StorageError.Compacted) throw _log.Panic($"unexpected error ({err})");
        }
    }

    /// <summary>Whether a candidate's log ending at (lastIndex, term) is at least as up to date as ours (Raft §5.4.1).</summary>
    public bool IsUpToDate(ulong lastIndex, ulong term)
    {
        ulong ourLastTerm = LastTerm();
        return term > ourLastTerm || (term == ourLastTerm && lastIndex >= LastIndex());
    }

    public bool MatchTerm(ulong index, ulong term) =>
        TryGetTerm(index, out ulong t) == StorageError.None && t == term;

    /// <summary>Commits up to maxIndex if that entry is from term (a leader commits only its own term's entries by counting).</summary>
    public bool MaybeCommit(ulong maxIndex, ulong term)
    {
        if (maxIndex > Committed && ZeroTermOnCompacted(maxIndex) == term)
        {
            CommitTo(maxIndex);
            return true;
        }
        return false;
    }

    /// <summary>Replaces the log with a snapshot; the host persists it through the next Ready.</summary>
    public void Restore(Snapshot snapshot)
    {
        _log.Log(RaftLogLevel.Info,
            $"log [{this}] starts to restore snapshot [index: {snapshot.Metadata.Index}, term: {snapshot.Metadata.Term}]");
        Committed = snapshot.Metadata.Index;
        Unstable.Restore(snapshot);
    }

    /// <summary>Entries in [low, high), at most maxSize bytes of Entry.Size but at least one.</summary>
    public StorageError Slice(ulong low, ulong high, ulong maxSize, out IReadOnlyList<Entry> entries)
    {
        entries = Array.Empty<Entry>();
        StorageError bounds = CheckOutOfBounds(low, high);
        if (bounds != StorageError.None) return bounds;
        if (low == high) return StorageError.None;

        var result = new List<Entry>();
        ulong size = 0;
        ulong offset = Unstable.Offset;
        if (low < offset)
        {
            ulong stableHigh = Math.Min(high, offset);
            StorageError err = _storage.TryGetEntries(low, stableHigh, maxSize, out IReadOnlyList<Entry> stored);
            if (err == StorageError.Compacted) return err;
            if (err == StorageError.Unavailable)
                throw _log.Panic($"entries[{low}:{stableHigh}) is unavailable from storage");
            if (err != StorageError.None) throw _log.Panic($"unexpected storage error ({err})");

            // The storage stopped at the size limit: nothing from the unstable tail fits either.
            if ((ulong)stored.Count < stableHigh - low)
            {
                entries = stored;
                return StorageError.None;
            }
            for (int i = 0; i < stored.Count; i++)
            {
                result.Add(stored[i]);
                size += stored[i].Size;
            }
        }
        if (high > offset)
        {
            for (ulong i = Math.Max(low, offset); i < high; i++)
            {
                Entry e = Unstable.EntryAt(i);
                size += e.Size;
                if (result.Count > 0 && size > maxSize) break;
                result.Add(e);
            }
        }
        entries = result;
        return StorageError.None;
    }

    private StorageError CheckOutOfBounds(ulong low, ulong high)
    {
        if (low > high) throw _log.Panic($"invalid slice {low} > {high}");
        ulong first = FirstIndex();
        if (low < first) return StorageError.Compacted;
        ulong last = LastIndex();
        if (high > last + 1) throw _log.Panic($"slice[{low},{high}) out of bound [{first},{last}]");
        return StorageError.None;
    }

    private static Entry[] Tail(IReadOnlyList<Entry> entries, int start)
    {
        var tail = new Entry[entries.Count - start];
        for (int i = 0; i < tail.Length; i++) tail[i] = entries[start + i];
        return tail;
    }
}
