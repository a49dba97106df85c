namespace Dotcd.Raft.Tests.Core;

public sealed class RaftLogTests
{
    private static Entry E(ulong index, ulong term) => new(term, index, EntryType.Normal, ReadOnlyMemory<byte>.Empty);

    private static Snapshot Snap(ulong index, ulong term) =>
        new(ReadOnlyMemory<byte>.Empty, new SnapshotMetadata(ConfState.Empty, index, term));

    private static RaftLog NewLog(IRaftStorage storage, ulong maxNextEntries = ulong.MaxValue) =>
        new(storage, new RaftLogSink(NullRaftLogger.Instance), maxNextEntries);

    private static RaftLog LogWith(params Entry[] entries)
    {
        RaftLog log = NewLog(new MemoryStorage());
        log.Append(entries);
        return log;
    }

    private static IReadOnlyList<Entry> Slice(RaftLog log, ulong lo, ulong hi, ulong max = ulong.MaxValue)
    {
        Assert.Equal(StorageError.None, log.Slice(lo, hi, max, out var ents));
        return ents;
    }

    public static TheoryData<Entry[], ulong> ConflictCases => new()
    {
        { [], 0 },
        { [E(1, 1), E(2, 2), E(3, 3)], 0 },
        { [E(2, 2), E(3, 3)], 0 },
        { [E(3, 3)], 0 },
        // No conflict, but new entries: the first new one.
        { [E(1, 1), E(2, 2), E(3, 3), E(4, 4), E(5, 4)], 4 },
        { [E(2, 2), E(3, 3), E(4, 4), E(5, 4)], 4 },
        { [E(3, 3), E(4, 4), E(5, 4)], 4 },
        { [E(4, 4), E(5, 4)], 4 },
        // Conflicts with existing entries.
        { [E(1, 4), E(2, 4)], 1 },
        { [E(2, 1), E(3, 4), E(4, 4)], 2 },
        { [E(3, 1), E(4, 2), E(5, 4), E(6, 4)], 3 },
    };

    [Theory, MemberData(nameof(ConflictCases))]
    public void FindConflictReturnsTheFirstEntryWeDoNotHold(Entry[] entries, ulong want)
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2), E(3, 3));
        Assert.Equal(want, log.FindConflict(entries));
    }

    [Theory]
    // Our log: 1/1 2/1 3/1 4/2 5/2 6/4 7/4
    [InlineData(7UL, 3UL, 5UL, 2UL)]  // skip the term-4 tail: the other log's term 3 is below it
    [InlineData(7UL, 4UL, 7UL, 4UL)]  // same term: may match here
    [InlineData(5UL, 1UL, 3UL, 1UL)]  // skip every term-2 entry at once
    [InlineData(3UL, 1UL, 3UL, 1UL)]
    [InlineData(7UL, 0UL, 0UL, 0UL)]  // nothing can match but the start
    [InlineData(9UL, 9UL, 9UL, 0UL)]  // beyond our log: term 0 (unknown) is <= anything
    public void FindConflictByTermSkipsEntriesOfLaterTerms(ulong index, ulong term, ulong wantIndex, ulong wantTerm)
    {
        RaftLog log = LogWith(E(1, 1), E(2, 1), E(3, 1), E(4, 2), E(5, 2), E(6, 4), E(7, 4));
        Assert.Equal((wantIndex, wantTerm), log.FindConflictByTerm(index, term));
    }

    [Fact]
    public void FindConflictByTermStopsAtTheCompactedBoundary()
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(10, 3));
        storage.Append([E(11, 5), E(12, 5)]);
        RaftLog log = NewLog(storage);
        // The snapshot's index has a known term (3 <= 4): a possible match.
        Assert.Equal((10UL, 3UL), log.FindConflictByTerm(12, 4));
        // Below the snapshot nothing is known: term 0.
        Assert.Equal((9UL, 0UL), log.FindConflictByTerm(9, 4));
    }

    [Theory]
    [InlineData(2UL, 4UL, true)]
    [InlineData(3UL, 4UL, true)]
    [InlineData(4UL, 4UL, true)]
    [InlineData(2UL, 2UL, false)]
    [InlineData(3UL, 2UL, false)]
    [InlineData(4UL, 2UL, false)]
    [InlineData(2UL, 3UL, false)]
    [InlineData(3UL, 3UL, true)]
    [InlineData(4UL, 3UL, true)]
    public void IsUpToDateComparesLastTermThenLastIndex(ulong lastIndex, ulong term, bool want)
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2), E(3, 3));
        Assert.Equal(want, log.IsUpToDate(lastIndex, term));
    }

    public static TheoryData<Entry[], ulong, Entry[], ulong> AppendCases => new()
    {
        { [], 2, [E(1, 1), E(2, 2)], 3 },
        { [E(3, 2)], 3, [E(1, 1), E(2, 2), E(3, 2)], 3 },
        // Conflicts with index 1: the unstable tail starts there now.
        { [E(1, 2)], 1, [E(1, 2)], 1 },
        { [E(2, 3), E(3, 3)], 3, [E(1, 1), E(2, 3), E(3, 3)], 2 },
    };

    [Theory, MemberData(nameof(AppendCases))]
    public void AppendTruncatesAConflictingStableTail(Entry[] entries, ulong wantLast, Entry[] want, ulong wantOffset)
    {
        var storage = new MemoryStorage();
        storage.Append([E(1, 1), E(2, 2)]);
        RaftLog log = NewLog(storage);
        Assert.Equal(wantLast, log.Append(entries));
        Assert.Equal(StorageError.None, log.TryGetEntries(1, ulong.MaxValue, out var got));
        Assert.Equal(want, got);
        Assert.Equal(wantOffset, log.Unstable.Offset);
    }

    [Fact]
    public void AppendBelowTheCommitIndexIsABug()
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2));
        log.CommitTo(2);
        Assert.Throws<RaftInvariantException>(() => log.Append([E(2, 3)]));
    }

    // Columns: logTerm, index, committed, entries -> lastNewIndex, appended, commit, throws.
    public static TheoryData<ulong, ulong, ulong, Entry[], ulong, bool, ulong, bool> MaybeAppendCases => new()
    {
        // No match: different term, or index beyond the log.
        { 2, 3, 3, [E(4, 4)], 0, false, 1, false },
        { 3, 4, 3, [E(5, 4)], 0, false, 1, false },
        // Match with the last entry.
        { 3, 3, 3, [], 3, true, 3, false },
        { 3, 3, 4, [], 3, true, 3, false },   // never commit past the last new entry
        { 3, 3, 2, [], 3, true, 2, false },
        { 3, 3, 0, [], 3, true, 1, false },   // never decrease the commit index
        { 0, 0, 3, [], 0, true, 1, false },
        { 3, 3, 3, [E(4, 4)], 4, true, 3, false },
        { 3, 3, 4, [E(4, 4)], 4, true, 4, false },
        { 3, 3, 5, [E(4, 4)], 4, true, 4, false },
        { 3, 3, 5, [E(4, 4), E(5, 4)], 5, true, 5, false },
        // Match in the middle: a conflicting tail is replaced.
        { 2, 2, 3, [E(3, 4)], 3, true, 3, false },
        { 1, 1, 3, [E(2, 4)], 2, true, 2, false },
        { 0, 0, 3, [E(1, 4)], 1, true, 1, true },  // conflicts with a committed entry
        { 1, 1, 3, [E(2, 4), E(3, 4)], 3, true, 3, false },
    };

    [Theory, MemberData(nameof(MaybeAppendCases))]
    public void MaybeAppendAcceptsOnlyAfterAMatchingEntry(
        ulong logTerm, ulong index, ulong committed, Entry[] entries, ulong wantLast, bool wantAppend, ulong wantCommit, bool wantThrow)
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2), E(3, 3));
        log.CommitTo(1);
        if (wantThrow)
        {
            Assert.Throws<RaftInvariantException>(() => log.MaybeAppend(index, logTerm, committed, entries, out _));
            return;
        }
        bool appended = log.MaybeAppend(index, logTerm, committed, entries, out ulong last);
        Assert.Equal(wantAppend, appended);
        Assert.Equal(wantLast, last);
        Assert.Equal(wantCommit, log.Committed);
        if (appended && entries.Length > 0)
            Assert.Equal(entries, Slice(log, log.LastIndex() - (ulong)entries.Length + 1, log.LastIndex() + 1));
    }

    [Fact]
    public void CompactingStorageUnderTheLogKeepsTermsAndTheUnstableTail()
    {
        var storage = new MemoryStorage();
        for (ulong i = 1; i <= 750; i++) storage.Append([E(i, i)]);
        RaftLog log = NewLog(storage);
        for (ulong i = 750; i < 1000; i++) log.Append([E(i + 1, i + 1)]);
        Assert.True(log.MaybeCommit(1000, 1000));
        log.AppliedTo(log.Committed);

        storage.Compact(500);
        Assert.Equal(1000UL, log.LastIndex());
        for (ulong j = 500; j <= log.LastIndex(); j++)
        {
            Assert.Equal(StorageError.None, log.TryGetTerm(j, out ulong t));
            Assert.Equal(j, t);
            Assert.True(log.MatchTerm(j, j));
        }
        IReadOnlyList<Entry> unstable = log.UnstableEntries();
        Assert.Equal(250, unstable.Count);
        Assert.Equal(751UL, unstable[0].Index);

        log.Append([E(1001, 1001)]);
        Assert.Equal(1001UL, log.LastIndex());
        Assert.Equal(StorageError.None, log.TryGetEntries(1001, ulong.MaxValue, out var last));
        Assert.Single(last);
    }

    [Theory]
    [InlineData(0UL, true)]
    [InlineData(3UL, true)]
    [InlineData(4UL, true)]
    [InlineData(5UL, false)]
    public void HasNextEntriesWhenCommittedIsPastApplied(ulong applied, bool want)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(3, 1));
        RaftLog log = NewLog(storage);
        log.Append([E(4, 1), E(5, 1), E(6, 1)]);
        log.MaybeCommit(5, 1);
        log.AppliedTo(applied);
        Assert.Equal(want, log.HasNextEntries());
    }

    [Theory]
    [InlineData(0UL, 4UL, 2)]
    [InlineData(3UL, 4UL, 2)]
    [InlineData(4UL, 5UL, 1)]
    [InlineData(5UL, 0UL, 0)]
    public void NextEntriesAreTheCommittedUnappliedOnes(ulong applied, ulong wantFirst, int wantCount)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(3, 1));
        RaftLog log = NewLog(storage);
        log.Append([E(4, 1), E(5, 1), E(6, 1)]);
        log.MaybeCommit(5, 1);
        log.AppliedTo(applied);
        IReadOnlyList<Entry> next = log.NextEntries();
        Assert.Equal(wantCount, next.Count);
        if (wantCount > 0) Assert.Equal(wantFirst, next[0].Index);
    }

    [Fact]
    public void NextEntriesAreCappedByMaxCommittedSizePerReady()
    {
        var storage = new MemoryStorage();
        ulong size = E(1, 1).Size;
        storage.Append([E(1, 1), E(2, 1), E(3, 1)]);
        RaftLog log = NewLog(storage, maxNextEntries: 2 * size);
        log.Append([E(4, 1), E(5, 1)]);
        log.CommitTo(5);
        Assert.Equal([E(1, 1), E(2, 1)], log.NextEntries());
        log.AppliedTo(2);
        Assert.Equal([E(3, 1), E(4, 1)], log.NextEntries());
        log.AppliedTo(4);
        Assert.Equal([E(5, 1)], log.NextEntries());
    }

    [Theory]
    [InlineData(3UL, new ulong[0])]
    [InlineData(1UL, new ulong[] { 1, 2 })]
    public void UnstableEntriesAreThoseNotYetInStorage(ulong unstableFrom, ulong[] wantIndexes)
    {
        Entry[] previous = [E(1, 1), E(2, 2)];
        var storage = new MemoryStorage();
        storage.Append(previous[..(int)(unstableFrom - 1)]);
        RaftLog log = NewLog(storage);
        log.Append(previous[(int)(unstableFrom - 1)..]);
        IReadOnlyList<Entry> ents = log.UnstableEntries();
        if (ents.Count > 0) log.StableTo(ents[^1].Index, ents[^1].Term);
        Assert.Equal(wantIndexes, ents.Select(e => e.Index));
        Assert.Equal(3UL, log.Unstable.Offset);
    }

    [Fact]
    public void CommitToNeverDecreasesAndNeverPassesTheLastIndex()
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2), E(3, 3));
        log.CommitTo(2);
        log.CommitTo(3);
        Assert.Equal(3UL, log.Committed);
        log.CommitTo(1);
        Assert.Equal(3UL, log.Committed);
        Assert.Throws<RaftInvariantException>(() => log.CommitTo(4));
    }

    [Fact]
    public void AppliedToMustStayBetweenAppliedAndCommitted()
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2), E(3, 3));
        log.CommitTo(2);
        log.AppliedTo(1);
        Assert.Throws<RaftInvariantException>(() => log.AppliedTo(3));
        log.AppliedTo(2);
        Assert.Throws<RaftInvariantException>(() => log.AppliedTo(1));
    }

    [Theory]
    [InlineData(1UL, 1UL, 2UL)]
    [InlineData(2UL, 2UL, 3UL)]
    [InlineData(2UL, 1UL, 1UL)] // bad term
    [InlineData(3UL, 1UL, 1UL)] // bad index
    public void StableToMovesTheUnstableOffset(ulong index, ulong term, ulong wantOffset)
    {
        RaftLog log = LogWith(E(1, 1), E(2, 2));
        log.StableTo(index, term);
        Assert.Equal(wantOffset, log.Unstable.Offset);
    }

    [Theory]
    [InlineData(6UL, 2UL, false, 6UL)]
    [InlineData(5UL, 2UL, false, 6UL)]
    [InlineData(4UL, 2UL, false, 6UL)]
    [InlineData(6UL, 3UL, false, 6UL)]
    [InlineData(6UL, 2UL, true, 7UL)]
    [InlineData(5UL, 2UL, true, 6UL)]
    [InlineData(4UL, 2UL, true, 6UL)]
    [InlineData(6UL, 3UL, true, 6UL)]
    [InlineData(5UL, 3UL, true, 6UL)]
    public void StableToAfterASnapshotMovesOnlyPastMatchingEntries(ulong index, ulong term, bool withEntry, ulong wantOffset)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(5, 2));
        RaftLog log = NewLog(storage);
        if (withEntry) log.Append([E(6, 2)]);
        log.StableTo(index, term);
        Assert.Equal(wantOffset, log.Unstable.Offset);
    }

    [Fact]
    public void CompactionLeavesTheRestOfTheLogReadable()
    {
        var storage = new MemoryStorage();
        for (ulong i = 1; i <= 1000; i++) storage.Append([E(i, 0)]);
        RaftLog log = NewLog(storage);
        log.MaybeCommit(1000, 0);
        log.AppliedTo(log.Committed);

        (ulong Compact, int Left)[] steps = [(300, 700), (500, 500), (800, 200), (900, 100)];
        foreach (var (compact, left) in steps)
        {
            Assert.Equal(StorageError.None, storage.Compact(compact));
            Assert.Equal(left, log.AllEntries().Count);
        }
        Assert.Equal(StorageError.Compacted, storage.Compact(299));
        Assert.Throws<RaftInvariantException>(() => storage.Compact(1001));
    }

    [Fact]
    public void ALogOverASnapshotStartsAfterIt()
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(1000, 1000));
        RaftLog log = NewLog(storage);
        Assert.Empty(log.AllEntries());
        Assert.Equal(1001UL, log.FirstIndex());
        Assert.Equal(1000UL, log.Committed);
        Assert.Equal(1000UL, log.Applied);
        Assert.Equal(1001UL, log.Unstable.Offset);
        Assert.Equal(StorageError.None, log.TryGetTerm(1000, out ulong t));
        Assert.Equal(1000UL, t);
    }

    [Fact]
    public void SliceBoundsAreCheckedAgainstTheLog()
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(100, 0));
        RaftLog log = NewLog(storage);
        for (ulong i = 1; i <= 100; i++) log.Append([E(100 + i, 0)]);

        Assert.Equal(StorageError.Compacted, log.Slice(99, 102, ulong.MaxValue, out _));
        Assert.Equal(StorageError.Compacted, log.Slice(100, 102, ulong.MaxValue, out _));
        Assert.Empty(Slice(log, 101, 101));
        Assert.Empty(Slice(log, 150, 150));
        Assert.Empty(Slice(log, 201, 201));
        Assert.Throws<RaftInvariantException>(() => log.Slice(201, 202, ulong.MaxValue, out _));
        Assert.Throws<RaftInvariantException>(() => log.Slice(202, 202, ulong.MaxValue, out _));
        Assert.Throws<RaftInvariantException>(() => log.Slice(150, 149, ulong.MaxValue, out _));
    }

    [Theory]
    [InlineData(99UL, 0UL)]
    [InlineData(100UL, 1UL)]
    [InlineData(150UL, 50UL)]
    [InlineData(199UL, 99UL)]
    [InlineData(200UL, 0UL)]
    public void TermIsZeroOutsideTheLog(ulong index, ulong want)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(100, 1));
        RaftLog log = NewLog(storage);
        for (ulong i = 1; i < 100; i++) log.Append([E(100 + i, i)]);
        Assert.Equal(StorageError.None, log.TryGetTerm(index, out ulong t));
        Assert.Equal(want, t);
    }

    [Theory]
    [InlineData(100UL, 0UL)] // the storage's snapshot is behind the unstable one
    [InlineData(101UL, 0UL)] // the gap between them
    [InlineData(104UL, 0UL)]
    [InlineData(105UL, 1UL)] // the unstable snapshot's index
    public void TermWithAnUnstableSnapshotComesFromIt(ulong index, ulong want)
    {
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(100, 1));
        RaftLog log = NewLog(storage);
        log.Restore(Snap(105, 1));
        Assert.Equal(StorageError.None, log.TryGetTerm(index, out ulong t));
        Assert.Equal(want, t);
    }

    [Fact]
    public void SliceSpansStorageAndUnstableWithinTheSizeLimit()
    {
        // Storage holds 101..149 after a snapshot at 100; 150..199 are unstable.
        var storage = new MemoryStorage();
        storage.ApplySnapshot(Snap(100, 0));
        for (ulong i = 101; i < 150; i++) storage.Append([E(i, i)]);
        RaftLog log = NewLog(storage);
        for (ulong i = 150; i < 200; i++) log.Append([E(i, i)]);
        ulong size = E(150, 150).Size;

        Assert.Equal([E(149, 149), E(150, 150)], Slice(log, 149, 151));
        Assert.Equal([E(150, 150)], Slice(log, 150, 151));
        Assert.Equal([E(199, 199)], Slice(log, 199, 200));
        Assert.Throws<RaftInvariantException>(() => log.Slice(200, 201, ulong.MaxValue, out _));

        Assert.Equal([E(149, 149)], Slice(log, 149, 151, 0));
        Assert.Equal([E(149, 149)], Slice(log, 149, 151, size + 1));
        Assert.Equal([E(148, 148)], Slice(log, 148, 151, size + 1));
        Assert.Equal([E(149, 149), E(150, 150)], Slice(log, 149, 151, size * 2));
        Assert.Equal([E(149, 149), E(150, 150), E(151, 151)], Slice(log, 149, 152, size * 3));
        Assert.Equal([E(150, 150)], Slice(log, 150, 152, size));
        Assert.Equal([E(150, 150), E(151, 151)], Slice(log, 150, 152, size * 2));
    }

    [Fact]
    public void RestoreMakesTheSnapshotTheCommittedStart()
    {
        RaftLog log = LogWith(E(1, 1), E(2, 1));
        log.Restore(Snap(10, 3));
        Assert.Equal(10UL, log.Committed);
        Assert.Equal(11UL, log.FirstIndex());
        Assert.Equal(10UL, log.LastIndex());
        Assert.Equal(3UL, log.LastTerm());
        Assert.Equal(StorageError.None, log.TryGetSnapshot(out Snapshot s));
        Assert.Equal(10UL, s.Metadata.Index);
        Assert.Empty(log.NextEntries());
        Assert.True(log.MatchTerm(10, 3));
    }
}
