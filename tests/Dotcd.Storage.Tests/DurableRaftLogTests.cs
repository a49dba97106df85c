using Dotcd.Raft;

namespace Dotcd.Storage.Tests;

public sealed class DurableRaftLogTests : IDisposable
{
    private static readonly byte[] s_metadata = "member 1 of cluster 9"u8.ToArray();
    private static readonly ConfState s_voters = new() { Voters = [1, 2, 3] };

    private readonly TempDir _tmp = new();
    private readonly RecordingLog _log = new();

    public void Dispose() => _tmp.Dispose();

    private DurableRaftLogOptions Options(long segmentBytes = 1 << 20, ulong catchUp = 5, Action<TimeSpan>? onFsync = null) => new()
    {
        WalDir = _tmp.Sub("member/wal"),
        SnapDir = _tmp.Sub("member/snap"),
        SnapshotCount = 10,
        CatchUpEntries = catchUp,
        Wal = new WalOptions { SegmentSizeBytes = segmentBytes, Log = _log, PrepareSegmentsInBackground = false, OnFsync = onFsync },
    };

    private static Ready Persist(HardState state, IReadOnlyList<Entry> entries, Snapshot? snapshot = null) => new()
    {
        HardState = state,
        Entries = entries,
        Snapshot = snapshot,
        MustSync = true,
    };

    private static List<Entry> StoredEntries(MemoryStorage storage)
    {
        if (storage.LastIndex() < storage.FirstIndex()) return [];
        Assert.Equal(StorageError.None, storage.TryGetEntries(storage.FirstIndex(), storage.LastIndex() + 1, ulong.MaxValue, out IReadOnlyList<Entry> entries));
        return entries.ToList();
    }

    [Fact]
    public void ARestartRebuildsTheRaftLogFromTheSnapshotAndTheWal()
    {
        DurableRaftLogOptions options = Options();
        Assert.False(DurableRaftLog.Exists(options));
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            log.Save(Persist(new HardState(2, 1, 50), Entries.Range(1, 50, 2)));
            Snapshot? snapshot = log.CreateSnapshot(40, s_voters, "state at 40"u8.ToArray());
            Assert.NotNull(snapshot);
            Assert.Equal(36ul, log.Storage.FirstIndex()); // 5 entries kept below the snapshot for slow followers.
            log.Save(Persist(new HardState(2, 1, 60), Entries.Range(51, 60, 2)));
        }

        Assert.True(DurableRaftLog.Exists(options));
        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.Equal(s_metadata, reopened.Metadata.ToArray());
        Assert.Equal(new HardState(2, 1, 60), reopened.HardState);
        Assert.Equal(40ul, reopened.Snapshot.Metadata.Index);
        Assert.Equal("state at 40"u8.ToArray(), reopened.Snapshot.Data.ToArray());

        MemoryStorage storage = reopened.Storage;
        Assert.Equal(41ul, storage.FirstIndex());
        Assert.Equal(60ul, storage.LastIndex());
        Assert.Equal(StorageError.None, storage.TryGetTerm(40, out ulong term));
        Assert.Equal(2ul, term);
        Entries.AssertEqual(Entries.Range(41, 60, 2), StoredEntries(storage));
        RaftInitialState initial = storage.InitialState();
        Assert.Equal(new HardState(2, 1, 60), initial.HardState);
        Assert.True(s_voters.Equivalent(initial.ConfState));
    }

    [Fact]
    public void EachReadyIsOneFsync()
    {
        int syncs = 0;
        using DurableRaftLog log = DurableRaftLog.Create(Options(onFsync: _ => Interlocked.Increment(ref syncs)), s_metadata);
        syncs = 0;
        log.Save(Persist(new HardState(1, 1, 0), Entries.Range(1, 100, 1)));
        Assert.Equal(1, syncs);
        log.Save(new Ready { HardState = new HardState(1, 1, 100), MustSync = false });
        Assert.Equal(1, syncs);
        Assert.Equal(100ul, log.Storage.LastIndex());
    }

    [Fact]
    public void SnapshotsReleaseWalSegmentsUpToThePreviousSnapshot()
    {
        DurableRaftLogOptions options = Options(segmentBytes: 4096);
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            for (ulong i = 1; i <= 300; i += 10)
            {
                log.Save(Persist(new HardState(1, 1, i + 9), Entries.Range(i, i + 9, 1, dataBytes: 60)));
                if (log.ShouldSnapshot(i + 9) && (i + 9) % 100 == 0) log.CreateSnapshot(i + 9, s_voters, new byte[] { 1 });
            }
            Assert.Equal(300ul, log.Snapshot.Metadata.Index);
            // Replay from the previous snapshot (200) must still be possible: its segment is kept.
            IReadOnlyList<string> segments = log.Wal.SegmentPaths;
            ulong oldestFirst = Convert.ToUInt64(Path.GetFileName(segments[0])[17..33], 16);
            Assert.True(oldestFirst <= 200 && oldestFirst > 100, $"oldest segment starts at {oldestFirst}");
        }

        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.Equal(300ul, reopened.Snapshot.Metadata.Index);
        Assert.Equal(300ul, reopened.Storage.LastIndex());
    }

    [Fact]
    public void ACorruptNewestSnapshotFileRestartsFromThePreviousSnapshot()
    {
        DurableRaftLogOptions options = Options(segmentBytes: 4096);
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            log.Save(Persist(new HardState(1, 1, 100), Entries.Range(1, 100, 1, dataBytes: 60)));
            log.CreateSnapshot(50, s_voters, "fifty"u8.ToArray());
            log.CreateSnapshot(90, s_voters, "ninety"u8.ToArray());
        }
        string newest = Directory.GetFiles(options.SnapDir, "*.snap").Order().Last();
        byte[] bytes = File.ReadAllBytes(newest);
        bytes[^2] ^= 0x40;
        File.WriteAllBytes(newest, bytes);

        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.Equal(50ul, reopened.Snapshot.Metadata.Index);
        Assert.Equal("fifty"u8.ToArray(), reopened.Snapshot.Data.ToArray());
        Entries.AssertEqual(Entries.Range(51, 100, 1, 60), StoredEntries(reopened.Storage));
        Assert.True(_log.Has(StorageLogLevel.Warn, "corrupt"));
    }

    [Fact]
    public void ASnapshotFromTheLeaderReplacesTheLogAcrossARestart()
    {
        DurableRaftLogOptions options = Options();
        var received = new Snapshot("leader state"u8.ToArray(), new SnapshotMetadata(s_voters, 20, 3));
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            log.Save(Persist(new HardState(1, 1, 5), Entries.Range(1, 30, 1)));
            log.Save(Persist(new HardState(3, 0, 20), [], received));
            Assert.Equal(21ul, log.Storage.FirstIndex());
            Assert.Equal(20ul, log.Storage.LastIndex());
        }

        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.Equal(20ul, reopened.Snapshot.Metadata.Index);
        Assert.Equal(21ul, reopened.Storage.FirstIndex());
        Assert.Equal(20ul, reopened.Storage.LastIndex()); // Entries 21..30 of term 1 are stale, not replayed.
        Assert.Equal(new HardState(3, 0, 20), reopened.HardState);
    }

    [Fact]
    public void ASnapshotFileWithoutAWalMarkerIsNotUsed()
    {
        DurableRaftLogOptions options = Options();
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            log.Save(Persist(new HardState(1, 1, 10), Entries.Range(1, 10, 1)));
        }
        // A crash after the file was written and before its WAL marker.
        new SnapshotStore(options.SnapDir).Save(new Snapshot("x"u8.ToArray(), new SnapshotMetadata(s_voters, 8, 1)));

        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.True(reopened.Snapshot.IsEmpty);
        Assert.Equal(1ul, reopened.Storage.FirstIndex());
        Entries.AssertEqual(Entries.Range(1, 10, 1), StoredEntries(reopened.Storage));
    }

    [Fact]
    public void AHardStateBehindAReceivedSnapshotIsRaisedToIt()
    {
        DurableRaftLogOptions options = Options();
        var received = new Snapshot("s"u8.ToArray(), new SnapshotMetadata(s_voters, 20, 4));
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            log.Save(Persist(new HardState(2, 1, 5), Entries.Range(1, 8, 2)));
            // A crash between the snapshot's file and marker and the HardState of the same Ready.
            new SnapshotStore(options.SnapDir).Save(received);
            log.Wal.SaveSnapshot(WalSnapshot.Of(received));
        }

        using DurableRaftLog reopened = DurableRaftLog.Open(options);
        Assert.Equal(20ul, reopened.Snapshot.Metadata.Index);
        Assert.Equal(new HardState(4, 0, 20), reopened.HardState);
        Assert.Equal(20ul, reopened.Storage.LastIndex());
    }

    [Fact]
    public void ShouldSnapshotFollowsSnapshotCount()
    {
        using DurableRaftLog log = DurableRaftLog.Create(Options(), s_metadata);
        log.Save(Persist(new HardState(1, 1, 30), Entries.Range(1, 30, 1)));
        Assert.False(log.ShouldSnapshot(10));
        Assert.True(log.ShouldSnapshot(11));
        log.CreateSnapshot(11, s_voters, ReadOnlyMemory<byte>.Empty);
        Assert.False(log.ShouldSnapshot(21));
        Assert.True(log.ShouldSnapshot(22));
        Assert.Null(log.CreateSnapshot(11, s_voters, ReadOnlyMemory<byte>.Empty)); // Not newer than the last one.
    }

    [Fact]
    public void ARaftNodeRunsOnTheDurableLogAndResumesAfterARestart()
    {
        DurableRaftLogOptions options = Options(segmentBytes: 4096, catchUp: 3);
        var applied = new List<Entry>();
        ulong commit, term;
        using (DurableRaftLog log = DurableRaftLog.Create(options, s_metadata))
        {
            RawNode node = NewNode(log, applied: 0);
            node.Bootstrap([new Peer(1)]);
            Drain(node, log, applied);
            node.Campaign();
            Drain(node, log, applied);
            for (int i = 0; i < 60; i++)
            {
                Assert.Equal(RaftError.None, node.Propose(System.Text.Encoding.UTF8.GetBytes($"put k{i}")));
                Drain(node, log, applied);
                if (log.ShouldSnapshot(applied[^1].Index)) log.CreateSnapshot(applied[^1].Index, node.Status().Config, ReadOnlyMemory<byte>.Empty);
            }
            commit = node.Status().HardState.Commit;
            Assert.Equal(applied[^1].Index, commit);
            Assert.True(log.Snapshot.Metadata.Index > 0);
        }

        using (DurableRaftLog log = DurableRaftLog.Open(options))
        {
            Assert.Equal(commit, log.Storage.LastIndex());
            RawNode node = NewNode(log, applied: commit);
            Assert.Equal(commit, node.Status().HardState.Commit);
            Assert.Equal([1ul], node.Status().Config.Voters);
            node.Campaign();
            Drain(node, log, applied);
            Assert.Equal(StateType.Leader, node.Status().RaftState);
            term = node.Status().Term;
            Assert.Equal(RaftError.None, node.Propose("put after restart"u8.ToArray()));
            Drain(node, log, applied);
        }

        using (DurableRaftLog log = DurableRaftLog.Open(options))
        {
            Assert.Equal(StorageError.None, log.Storage.TryGetEntries(log.Storage.LastIndex(), log.Storage.LastIndex() + 1, ulong.MaxValue, out var last));
            Assert.Equal("put after restart"u8.ToArray(), last[0].Data.ToArray());
            Assert.Equal(term, last[0].Term);
            Assert.Equal(term, log.HardState.Term);
        }
    }

    private static RawNode NewNode(DurableRaftLog log, ulong applied) => new(new RaftConfig
    {
        Id = 1,
        ElectionTick = 10,
        HeartbeatTick = 1,
        Storage = log.Storage,
        Applied = applied,
        Random = new SeededRaftRandom(1),
    });

    private static void Drain(RawNode node, DurableRaftLog log, List<Entry> applied)
    {
        while (node.HasReady())
        {
            Ready ready = node.Ready();
            log.Save(ready);
            Assert.Empty(ready.Messages);
            foreach (Entry entry in ready.CommittedEntries)
            {
                if (entry.Type != EntryType.Normal) node.ApplyConfChange(ConfChangeCodec.Decode(entry.Type, entry.Data.Span));
                applied.Add(entry);
            }
            node.Advance();
        }
    }
}
