namespace Dotcd.Raft.Tests.Core;

public sealed class MemoryStorageTests
{
    private static Entry E(ulong index, ulong term) => new(term, index, EntryType.Normal, ReadOnlyMemory<byte>.Empty);

    private static Snapshot Snap(ulong index, ulong term, ConfState? cs = null) =>
        new(ReadOnlyMemory<byte>.Empty, new SnapshotMetadata(cs ?? ConfState.Empty, index, term));

    // The storage etcd's tests start from: compacted at 3/3, holding 4/4 and 5/5.
    private static MemoryStorage Compacted345()
    {
        var s = new MemoryStorage();
        Assert.Equal(StorageError.None, s.ApplySnapshot(Snap(3, 3)));
        s.Append([E(4, 4), E(5, 5)]);
        return s;
    }

    private static List<Entry> All(MemoryStorage s)
    {
        if (s.FirstIndex() > s.LastIndex()) return [];
        Assert.Equal(StorageError.None, s.TryGetEntries(s.FirstIndex(), s.LastIndex() + 1, ulong.MaxValue, out var ents));
        return ents.ToList();
    }

    [Theory]
    [InlineData(2UL, StorageError.Compacted, 0UL)]
    [InlineData(3UL, StorageError.None, 3UL)]
    [InlineData(4UL, StorageError.None, 4UL)]
    [InlineData(5UL, StorageError.None, 5UL)]
    [InlineData(6UL, StorageError.Unavailable, 0UL)]
    public void TermAnswersFromTheSnapshotIndexToTheLastIndex(ulong index, StorageError error, ulong term)
    {
        var s = Compacted345();
        Assert.Equal(error, s.TryGetTerm(index, out ulong got));
        Assert.Equal(term, got);
    }

    [Fact]
    public void EntriesAreLimitedBySizeButAlwaysAtLeastOne()
    {
        var s = Compacted345();
        s.Append([E(6, 6)]);
        ulong size = E(4, 4).Size;

        Assert.Equal(StorageError.Compacted, s.TryGetEntries(2, 6, ulong.MaxValue, out _));
        Assert.Equal(StorageError.Compacted, s.TryGetEntries(3, 4, ulong.MaxValue, out _));
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 5, ulong.MaxValue, out var e1));
        Assert.Equal([E(4, 4)], e1);
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 7, ulong.MaxValue, out var e3));
        Assert.Equal([E(4, 4), E(5, 5), E(6, 6)], e3);
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 7, 0, out var e0));
        Assert.Equal([E(4, 4)], e0);
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 7, 2 * size, out var e2));
        Assert.Equal([E(4, 4), E(5, 5)], e2);
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 7, 3 * size - 1, out var e2b));
        Assert.Equal([E(4, 4), E(5, 5)], e2b);
        Assert.Equal(StorageError.None, s.TryGetEntries(4, 7, 3 * size, out var eAll));
        Assert.Equal(3, eAll.Count);
        Assert.Throws<RaftInvariantException>(() => s.TryGetEntries(4, 8, ulong.MaxValue, out _));
    }

    [Fact]
    public void EmptyStorageHasTheDummyEntryOnly()
    {
        var s = new MemoryStorage();
        Assert.Equal(1UL, s.FirstIndex());
        Assert.Equal(0UL, s.LastIndex());
        Assert.Equal(StorageError.None, s.TryGetTerm(0, out ulong t));
        Assert.Equal(0UL, t);
        Assert.Equal(StorageError.Unavailable, s.TryGetEntries(1, 1, ulong.MaxValue, out _));
        Assert.Equal(HardState.Empty, s.InitialState().HardState);
    }

    [Fact]
    public void LastAndFirstIndexFollowAppendAndCompact()
    {
        var s = Compacted345();
        Assert.Equal(5UL, s.LastIndex());
        Assert.Equal(4UL, s.FirstIndex());
        s.Append([E(6, 5)]);
        Assert.Equal(6UL, s.LastIndex());
        Assert.Equal(StorageError.None, s.Compact(4));
        Assert.Equal(5UL, s.FirstIndex());
        Assert.Equal(StorageError.None, s.TryGetTerm(4, out ulong t));
        Assert.Equal(4UL, t);
    }

    [Theory]
    [InlineData(2UL, StorageError.Compacted, 4UL)]
    [InlineData(3UL, StorageError.Compacted, 4UL)]
    [InlineData(4UL, StorageError.None, 5UL)]
    [InlineData(5UL, StorageError.None, 6UL)]
    public void CompactKeepsTheCompactedEntryAsTheNewDummy(ulong index, StorageError error, ulong firstIndex)
    {
        var s = Compacted345();
        Assert.Equal(error, s.Compact(index));
        Assert.Equal(firstIndex, s.FirstIndex());
        Assert.Equal(5UL, s.LastIndex());
        Assert.Equal(StorageError.None, s.TryGetTerm(firstIndex - 1, out ulong t));
        Assert.Equal(firstIndex - 1, t);
    }

    [Fact]
    public void CompactBeyondTheLastIndexIsABug()
    {
        var s = Compacted345();
        Assert.Throws<RaftInvariantException>(() => s.Compact(6));
    }

    [Fact]
    public void CreateSnapshotRecordsIndexTermAndConfiguration()
    {
        var cs = new ConfState { Voters = [1, 2, 3] };
        var s = Compacted345();
        Assert.Equal(StorageError.None, s.CreateSnapshot(4, cs, "data"u8.ToArray(), out Snapshot snap));
        Assert.Equal(4UL, snap.Metadata.Index);
        Assert.Equal(4UL, snap.Metadata.Term);
        Assert.True(cs.Equivalent(snap.Metadata.ConfState));
        Assert.Equal("data"u8.ToArray(), snap.Data.ToArray());
        Assert.Equal(StorageError.SnapshotOutOfDate, s.CreateSnapshot(4, cs, default, out _));
        // Without a ConfState the previous one is kept.
        Assert.Equal(StorageError.None, s.CreateSnapshot(5, null, default, out Snapshot snap5));
        Assert.True(cs.Equivalent(snap5.Metadata.ConfState));
        Assert.Equal(StorageError.None, s.TryGetSnapshot(out Snapshot current));
        Assert.Equal(5UL, current.Metadata.Index);
        // Making a snapshot does not compact.
        Assert.Equal(4UL, s.FirstIndex());
    }

    public static TheoryData<Entry[], Entry[]> AppendCases => new()
    {
        // Entirely compacted away: ignored.
        { [E(1, 1), E(2, 2)], [E(4, 4), E(5, 5)] },
        { [E(3, 3), E(4, 4), E(5, 5)], [E(4, 4), E(5, 5)] },
        { [E(3, 3), E(4, 6), E(5, 6)], [E(4, 6), E(5, 6)] },
        { [E(3, 3), E(4, 4), E(5, 5), E(6, 5)], [E(4, 4), E(5, 5), E(6, 5)] },
        // The compacted head of the new entries is skipped, the conflicting tail replaced.
        { [E(2, 3), E(3, 3), E(4, 5)], [E(4, 5)] },
        { [E(4, 5)], [E(4, 5)] },
        { [E(6, 5)], [E(4, 4), E(5, 5), E(6, 5)] },
    };

    [Theory, MemberData(nameof(AppendCases))]
    public void AppendSkipsCompactedEntriesAndReplacesAConflictingTail(Entry[] entries, Entry[] want)
    {
        var s = Compacted345();
        s.Append(entries);
        Assert.Equal(want, All(s));
    }

    [Fact]
    public void AppendWithAGapIsABug()
    {
        var s = Compacted345();
        Assert.Throws<RaftInvariantException>(() => s.Append([E(7, 5)]));
    }

    [Fact]
    public void ApplySnapshotReplacesTheLogAndRefusesOlderSnapshots()
    {
        var cs = new ConfState { Voters = [1, 2, 3] };
        var s = new MemoryStorage();
        s.Append([E(1, 1), E(2, 1)]);
        Assert.Equal(StorageError.None, s.ApplySnapshot(Snap(4, 4, cs)));
        Assert.Equal(5UL, s.FirstIndex());
        Assert.Equal(4UL, s.LastIndex());
        Assert.True(cs.Equivalent(s.InitialState().ConfState));
        Assert.Equal(StorageError.SnapshotOutOfDate, s.ApplySnapshot(Snap(3, 3, cs)));
    }

    [Fact]
    public void WithPeersStartsFromTheirConfiguration()
    {
        var s = MemoryStorage.WithPeers([1, 2], [3]);
        RaftInitialState init = s.InitialState();
        Assert.Equal([1UL, 2UL], init.ConfState.Voters);
        Assert.Equal([3UL], init.ConfState.Learners);
        Assert.Equal(1UL, s.FirstIndex());
        Assert.Equal(0UL, s.LastIndex());
    }

    [Fact]
    public void ReturnedEntriesDoNotChangeWhenTheStorageDoes()
    {
        var s = new MemoryStorage();
        s.Append([E(1, 1), E(2, 1)]);
        Assert.Equal(StorageError.None, s.TryGetEntries(1, 3, ulong.MaxValue, out var before));
        s.Append([E(2, 2)]);
        Assert.Equal([E(1, 1), E(2, 1)], before);
    }
}
