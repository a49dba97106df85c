namespace Dotcd.Raft.Tests.Core;

public sealed class UnstableTests
{
    private static Entry E(ulong index, ulong term) => new(term, index, EntryType.Normal, ReadOnlyMemory<byte>.Empty);

    private static Snapshot Snap(ulong index, ulong term) =>
        new(ReadOnlyMemory<byte>.Empty, new SnapshotMetadata(ConfState.Empty, index, term));

    private static Unstable Make(Entry[] entries, ulong offset, Snapshot? snapshot = null)
    {
        var u = new Unstable(offset, new RaftLogSink(NullRaftLogger.Instance));
        if (snapshot is not null) u.Restore(snapshot);
        Assert.Equal(offset, u.Offset);
        if (entries.Length > 0) u.TruncateAndAppend(entries);
        return u;
    }

    [Fact]
    public void FirstIndexIsKnownOnlyWithASnapshot()
    {
        Assert.False(Make([E(5, 1)], 5).TryGetFirstIndex(out _));
        Assert.False(Make([], 0).TryGetFirstIndex(out _));
        Assert.True(Make([E(5, 1)], 5, Snap(4, 1)).TryGetFirstIndex(out ulong i1));
        Assert.Equal(5UL, i1);
        Assert.True(Make([], 5, Snap(4, 1)).TryGetFirstIndex(out ulong i2));
        Assert.Equal(5UL, i2);
    }

    [Fact]
    public void LastIndexComesFromEntriesThenSnapshot()
    {
        Assert.True(Make([E(5, 1)], 5).TryGetLastIndex(out ulong a));
        Assert.Equal(5UL, a);
        Assert.True(Make([E(5, 1)], 5, Snap(4, 1)).TryGetLastIndex(out ulong b));
        Assert.Equal(5UL, b);
        Assert.True(Make([], 5, Snap(4, 1)).TryGetLastIndex(out ulong c));
        Assert.Equal(4UL, c);
        Assert.False(Make([], 0).TryGetLastIndex(out _));
    }

    [Theory]
    // entries at 5 (term 1), no snapshot
    [InlineData(false, 5UL, true, 1UL)]
    [InlineData(false, 6UL, false, 0UL)]
    [InlineData(false, 4UL, false, 0UL)]
    // entries at 5 (term 1), snapshot at 4 (term 1)
    [InlineData(true, 5UL, true, 1UL)]
    [InlineData(true, 6UL, false, 0UL)]
    [InlineData(true, 4UL, true, 1UL)]
    [InlineData(true, 3UL, false, 0UL)]
    public void TermIsAnsweredForEntriesAndTheSnapshotIndex(bool withSnapshot, ulong index, bool ok, ulong term)
    {
        Unstable u = withSnapshot ? Make([E(5, 1)], 5, Snap(4, 1)) : Make([E(5, 1)], 5);
        Assert.Equal(ok, u.TryGetTerm(index, out ulong got));
        Assert.Equal(term, got);
    }

    [Fact]
    public void RestoreDropsEntriesAndMovesTheOffset()
    {
        Unstable u = Make([E(5, 1)], 5, Snap(4, 1));
        u.Restore(Snap(6, 2));
        Assert.Equal(7UL, u.Offset);
        Assert.Equal(0, u.Count);
        Assert.Equal(6UL, u.Snapshot!.Metadata.Index);
        u.StableSnapTo(5);
        Assert.NotNull(u.Snapshot);
        u.StableSnapTo(6);
        Assert.Null(u.Snapshot);
    }

    public static TheoryData<Entry[], ulong, ulong?, ulong, ulong, ulong, int> StableToCases => new()
    {
        { [], 0, null, 5, 1, 0, 0 },
        { [E(5, 1)], 5, null, 5, 1, 6, 0 },
        { [E(5, 1), E(6, 1)], 5, null, 5, 1, 6, 1 },
        // Term mismatch: the entry was replaced after the Ready was taken.
        { [E(6, 2)], 6, null, 6, 1, 6, 1 },
        // Already stable.
        { [E(5, 1)], 5, null, 4, 1, 5, 1 },
        { [E(5, 1)], 5, null, 4, 2, 5, 1 },
        { [E(5, 1)], 5, 4, 5, 1, 6, 0 },
        { [E(5, 1), E(6, 1)], 5, 4, 5, 1, 6, 1 },
        { [E(6, 2)], 6, 5, 6, 1, 6, 1 },
        // The snapshot's own index is made stable by StableSnapTo, not StableTo.
        { [E(5, 1)], 5, 4, 4, 1, 5, 1 },
        { [E(5, 2)], 5, 4, 4, 1, 5, 1 },
    };

    [Theory, MemberData(nameof(StableToCases))]
    public void StableToDropsOnlyEntriesThatStillMatch(Entry[] entries, ulong offset, ulong? snapIndex, ulong index, ulong term, ulong wantOffset, int wantCount)
    {
        ulong snapTerm = entries.Length > 0 ? entries[0].Term : 1;
        Unstable u = Make(entries, offset, snapIndex is null ? null : Snap(snapIndex.Value, snapTerm));
        u.StableTo(index, term);
        Assert.Equal(wantOffset, u.Offset);
        Assert.Equal(wantCount, u.Count);
    }

    public static TheoryData<Entry[], Entry[], ulong, Entry[]> TruncateCases => new()
    {
        // Append to the end.
        { [E(5, 1)], [E(6, 1), E(7, 1)], 5, [E(5, 1), E(6, 1), E(7, 1)] },
        // Replace all unstable entries.
        { [E(5, 1)], [E(5, 2), E(6, 2)], 5, [E(5, 2), E(6, 2)] },
        { [E(5, 1)], [E(4, 2), E(5, 2), E(6, 2)], 4, [E(4, 2), E(5, 2), E(6, 2)] },
        // Truncate the existing tail and append.
        { [E(5, 1), E(6, 1), E(7, 1)], [E(6, 2)], 5, [E(5, 1), E(6, 2)] },
        { [E(5, 1), E(6, 1), E(7, 1)], [E(7, 2), E(8, 2)], 5, [E(5, 1), E(6, 1), E(7, 2), E(8, 2)] },
    };

    [Theory, MemberData(nameof(TruncateCases))]
    public void TruncateAndAppendKeepsOnlyThePrefixBeforeTheNewEntries(Entry[] entries, Entry[] append, ulong wantOffset, Entry[] want)
    {
        Unstable u = Make(entries, 5);
        u.TruncateAndAppend(append);
        Assert.Equal(wantOffset, u.Offset);
        Assert.Equal(want, u.Entries);
    }

    [Fact]
    public void AppendAfterAGapIsABug()
    {
        Unstable u = Make([E(5, 1)], 5);
        Assert.Throws<RaftInvariantException>(() => u.TruncateAndAppend([E(8, 1)]));
        Assert.Throws<RaftInvariantException>(() => u.Slice(4, 6));
    }
}
