using Dotcd.Raft;

namespace Dotcd.Storage.Tests;

public sealed class WalTests : IDisposable
{
    private static readonly byte[] s_metadata = "node=1 cluster=2"u8.ToArray();

    private readonly TempDir _tmp = new();
    private readonly RecordingLog _log = new();

    public void Dispose() => _tmp.Dispose();

    private string WalDir => _tmp.Sub("wal");

    private WalOptions Options(long segmentBytes = 1 << 20, Action<TimeSpan>? onFsync = null) => new()
    {
        SegmentSizeBytes = segmentBytes,
        Log = _log,
        OnFsync = onFsync,
        PrepareSegmentsInBackground = false,
    };

    private WalContents Reopen(WalSnapshot start, WalOptions options)
    {
        using Wal wal = Wal.Open(WalDir, start, options);
        return wal.ReadAll();
    }

    [Fact]
    public void EntriesAndHardStateSurviveReopen()
    {
        Entry[] entries = Entries.Range(1, 20, term: 3);
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options()))
        {
            wal.Save(new HardState(3, 1, 0), entries[..10], mustSync: true);
            wal.Save(new HardState(3, 1, 10), entries[10..], mustSync: true);
            wal.Save(new HardState(3, 1, 20), [], mustSync: false);
        }

        WalContents contents = Reopen(WalSnapshot.Zero, Options());
        Assert.Equal(s_metadata, contents.Metadata.ToArray());
        Assert.Equal(new HardState(3, 1, 20), contents.HardState);
        Entries.AssertEqual(entries, contents.Entries);
        Assert.Single(Directory.GetFiles(WalDir, "*.wal"));
        Assert.Equal("0000000000000000-0000000000000000.wal", Path.GetFileName(Directory.GetFiles(WalDir, "*.wal")[0]));
    }

    [Fact]
    public void AppendingContinuesAfterReopen()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options()))
        {
            wal.Save(new HardState(1, 1, 1), Entries.Range(1, 5, 1), mustSync: true);
        }
        using (Wal wal = Wal.Open(WalDir, WalSnapshot.Zero, Options()))
        {
            wal.ReadAll();
            Assert.Equal(5ul, wal.LastIndex);
            wal.Save(new HardState(2, 2, 5), Entries.Range(6, 9, 2), mustSync: true);
        }

        WalContents contents = Reopen(WalSnapshot.Zero, Options());
        Entries.AssertEqual([.. Entries.Range(1, 5, 1), .. Entries.Range(6, 9, 2)], contents.Entries);
        Assert.Equal(new HardState(2, 2, 5), contents.HardState);
    }

    [Fact]
    public void ManyEntriesRollOverAcrossSegmentsAndReplayInOrder()
    {
        var all = new List<Entry>();
        var random = new Random(11);
        ulong next = 1;
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes: 4096)))
        {
            while (next <= 1000)
            {
                ulong last = Math.Min(1000, next + (ulong)random.Next(0, 20));
                Entry[] batch = Entries.Range(next, last, term: 1 + next / 300, dataBytes: random.Next(0, 200));
                all.AddRange(batch);
                wal.Save(new HardState(1 + next / 300, 1, next), batch, mustSync: random.Next(2) == 0);
                if (next <= 500 && last >= 500) wal.SaveSnapshot(new WalSnapshot(500, all[499].Term));
                next = last + 1;
            }
            Assert.True(wal.SegmentPaths.Count > 10, $"only {wal.SegmentPaths.Count} segments");
        }

        string[] files = Directory.GetFiles(WalDir, "*.wal").Select(Path.GetFileName).Order().ToArray()!;
        for (int i = 0; i < files.Length; i++)
        {
            Assert.StartsWith($"{i:x16}-", files[i]);
        }
        Assert.Empty(Directory.GetFiles(WalDir, "*.tmp"));

        WalContents fromStart = Reopen(WalSnapshot.Zero, Options(segmentBytes: 4096));
        Entries.AssertEqual(all, fromStart.Entries);

        WalContents fromSnapshot = Reopen(new WalSnapshot(500, all[499].Term), Options(segmentBytes: 4096));
        Entries.AssertEqual(all.Skip(500).ToList(), fromSnapshot.Entries);
        Assert.DoesNotContain(_log.Lines, l => l.Level != StorageLogLevel.Info);
    }

    [Fact]
    public void EachSaveIsOneFdatasync()
    {
        int syncs = 0;
        WalOptions options = Options(onFsync: _ => Interlocked.Increment(ref syncs));
        using Wal wal = Wal.Create(WalDir, s_metadata, options);
        syncs = 0;

        for (ulong i = 0; i < 10; i++)
        {
            int before = syncs;
            wal.Save(new HardState(1, 1, i * 100), Entries.Range(i * 100 + 1, i * 100 + 100, 1), mustSync: true);
            Assert.Equal(before + 1, syncs);
        }
        wal.Save(new HardState(1, 1, 1000), [], mustSync: false);
        wal.Save(HardState.Empty, [], mustSync: true);
        Assert.Equal(10, syncs);
    }

    [Fact]
    public void SavingABatchAllocatesNothingPerEntry()
    {
        using Wal wal = Wal.Create(WalDir, s_metadata, Options());
        wal.Save(new HardState(1, 1, 0), Entries.Range(1, 1000, 1, dataBytes: 100), mustSync: true); // Grows the pooled buffer.
        Entry[] batch = Entries.Range(1001, 2000, 1, dataBytes: 100);

        long before = GC.GetAllocatedBytesForCurrentThread();
        wal.Save(new HardState(1, 1, 1000), batch, mustSync: true);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1024, $"a Save of 1000 entries allocated {allocated} bytes");
    }

    [Fact]
    public void CreateRefusesANonEmptyDirectory()
    {
        Directory.CreateDirectory(WalDir);
        File.WriteAllText(Path.Combine(WalDir, "notes.txt"), "mine");
        Assert.Throws<IOException>(() => Wal.Create(WalDir, s_metadata, Options()));
        Assert.True(File.Exists(Path.Combine(WalDir, "notes.txt")));
    }

    [Fact]
    public void AnUnsyncedSaveIsStillReadAfterTheProcessDies()
    {
        Wal wal = Wal.Create(WalDir, s_metadata, Options());
        wal.Save(new HardState(1, 1, 0), Entries.Range(1, 3, 1), mustSync: true);
        wal.Save(new HardState(1, 1, 3), Entries.Range(4, 6, 1), mustSync: false);
        wal.Abandon(); // No sync, no close: only the kernel's page cache holds the last Save.

        WalContents contents = Reopen(WalSnapshot.Zero, Options());
        Entries.AssertEqual(Entries.Range(1, 6, 1), contents.Entries);
        Assert.Equal(new HardState(1, 1, 3), contents.HardState);
    }

    [Fact]
    public void LaterEntriesOverwriteAConflictingTailOnReplay()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes: 4096)))
        {
            wal.Save(new HardState(1, 1, 2), Entries.Range(1, 40, 1, dataBytes: 100), mustSync: true);
            // A new leader at term 2 replaces everything from 31 on; then replaces 36.. again at term 3.
            wal.Save(new HardState(2, 2, 30), Entries.Range(31, 45, 2, dataBytes: 100), mustSync: true);
            wal.Save(new HardState(3, 3, 35), Entries.Range(36, 37, 3), mustSync: true);
            Assert.True(wal.SegmentPaths.Count > 1);
        }

        WalContents contents = Reopen(WalSnapshot.Zero, Options(segmentBytes: 4096));
        Entries.AssertEqual([.. Entries.Range(1, 30, 1, 100), .. Entries.Range(31, 35, 2, 100), .. Entries.Range(36, 37, 3)], contents.Entries);
    }

    [Fact]
    public void ReplayFromASnapshotKeepsOnlyLaterEntries()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options()))
        {
            wal.Save(new HardState(1, 1, 8), Entries.Range(1, 10, 1), mustSync: true);
            wal.SaveSnapshot(new WalSnapshot(8, 1) { ConfState = new ConfState { Voters = [1, 2, 3] } });
            wal.Save(new HardState(1, 1, 10), Entries.Range(11, 12, 1), mustSync: true);
        }

        WalContents contents = Reopen(new WalSnapshot(8, 1), Options());
        Entries.AssertEqual(Entries.Range(9, 12, 1), contents.Entries);
        Assert.Equal([new WalSnapshot(0, 0), new WalSnapshot(8, 1)], Wal.ReadSnapshots(WalDir));
        Assert.Equal([1ul, 2, 3], Wal.ReadSnapshots(WalDir)[1].ConfState!.Voters);
    }

    [Fact]
    public void ASnapshotReceivedFromTheLeaderDropsTheStaleEntriesBeforeItsMarker()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options()))
        {
            wal.Save(new HardState(1, 1, 5), Entries.Range(1, 12, 1), mustSync: true);
            // The leader's snapshot at 8 has term 2: raft restored it and threw away 1..12.
            wal.SaveSnapshot(new WalSnapshot(8, 2));
            wal.Save(new HardState(2, 0, 8), [], mustSync: true);
        }
        Assert.Empty(Reopen(new WalSnapshot(8, 2), Options()).Entries);

        using (Wal wal = Wal.Open(WalDir, new WalSnapshot(8, 2), Options()))
        {
            wal.ReadAll();
            wal.Save(new HardState(2, 0, 9), Entries.Range(9, 9, 2), mustSync: true);
        }
        Entries.AssertEqual(Entries.Range(9, 9, 2), Reopen(new WalSnapshot(8, 2), Options()).Entries);

        // Replaying from before that snapshot cannot rebuild 1..8: it needs the snapshot's file.
        Assert.Throws<WalCorruptException>(() => Reopen(WalSnapshot.Zero, Options()));
    }

    [Fact]
    public void OpenRefusesASnapshotTheWalNeverRecorded()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options()))
        {
            wal.Save(new HardState(1, 1, 5), Entries.Range(1, 5, 1), mustSync: true);
        }
        Assert.Throws<WalException>(() => Reopen(new WalSnapshot(3, 1), Options()));
    }

    [Fact]
    public void ReleaseToDeletesOnlySegmentsWhollyBelowTheIndex()
    {
        using Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes: 4096));
        for (ulong i = 1; i <= 300; i += 10)
        {
            wal.Save(new HardState(1, 1, i), Entries.Range(i, i + 9, 1, dataBytes: 60), mustSync: false);
        }
        wal.SaveSnapshot(new WalSnapshot(150, 1));
        var before = wal.SegmentPaths.Select(p => (Path: p, First: Convert.ToUInt64(Path.GetFileName(p)[17..33], 16))).ToList();
        Assert.True(before.Count > 4);

        wal.ReleaseTo(150);

        int covering = before.FindLastIndex(s => s.First <= 150);
        Assert.True(covering > 0);
        Assert.Equal(before.Skip(covering).Select(s => s.Path), wal.SegmentPaths);
        foreach (var gone in before.Take(covering)) Assert.False(File.Exists(gone.Path));
        Assert.Contains(_log.Lines, l => l.Message.Contains("removed an old WAL segment", StringComparison.Ordinal));

        wal.Dispose();
        Entries.AssertEqual(Entries.Range(151, 300, 1, 60), Reopen(new WalSnapshot(150, 1), Options(segmentBytes: 4096)).Entries);
        Assert.Throws<WalException>(() => Reopen(WalSnapshot.Zero, Options(segmentBytes: 4096)));
    }

    [Fact]
    public void ReleaseToNeverDeletesTheTail()
    {
        using Wal wal = Wal.Create(WalDir, s_metadata, Options());
        wal.Save(new HardState(1, 1, 5), Entries.Range(1, 5, 1), mustSync: true);
        wal.ReleaseTo(1000);
        Assert.Single(wal.SegmentPaths);
        Assert.True(File.Exists(wal.SegmentPaths[0]));
    }

    [Fact]
    public void CreateRefusesADirectoryThatHoldsAWal()
    {
        using (Wal.Create(WalDir, s_metadata, Options()))
        {
        }
        Assert.True(Wal.Exists(WalDir));
        Assert.Throws<IOException>(() => Wal.Create(WalDir, s_metadata, Options()));
    }

    [Fact]
    public void ASecondWriterIsLockedOut()
    {
        using Wal wal = Wal.Create(WalDir, s_metadata, Options());
        Assert.ThrowsAny<IOException>(() => Wal.Open(WalDir, WalSnapshot.Zero, Options()));
    }

    [Fact]
    public void AFailedRolloverLeavesTheWalUnusable()
    {
        using Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes: 4096));
        wal.Save(new HardState(1, 1, 1), Entries.Range(1, 2, 1), mustSync: true);
        Directory.Delete(WalDir, recursive: true); // The next segment cannot be created.

        Assert.ThrowsAny<IOException>(() => wal.Save(new HardState(1, 1, 2), Entries.Range(3, 100, 1, dataBytes: 100), mustSync: true));
        WalException later = Assert.Throws<WalException>(() => wal.Save(HardState.Empty, Entries.Range(101, 101, 1), mustSync: true));
        Assert.NotNull(later.InnerException);
        Assert.Throws<WalException>(() => wal.Sync());
        Assert.True(_log.Has(StorageLogLevel.Error, "unusable"));
    }

    [Fact]
    public void SaveBeforeReadAllIsRefused()
    {
        using (Wal.Create(WalDir, s_metadata, Options()))
        {
        }
        using Wal wal = Wal.Open(WalDir, WalSnapshot.Zero, Options());
        Assert.Throws<InvalidOperationException>(() => wal.Save(new HardState(1, 0, 0), [], mustSync: true));
    }

    [Fact]
    public void BackgroundPreparedSegmentsRollOverCleanly()
    {
        WalOptions options = Options(segmentBytes: 8192) with { PrepareSegmentsInBackground = true };
        using (Wal wal = Wal.Create(WalDir, s_metadata, options))
        {
            wal.Save(new HardState(1, 1, 0), Entries.Range(1, 200, 1, dataBytes: 100), mustSync: true);
            for (ulong i = 201; i <= 400; i += 20) wal.Save(new HardState(1, 1, i), Entries.Range(i, i + 19, 1, 100), mustSync: true);
            Assert.True(wal.SegmentPaths.Count > 3);
        }
        Assert.Empty(Directory.GetFiles(WalDir, "*.tmp"));
        Entries.AssertEqual(Entries.Range(1, 400, 1, 100), Reopen(WalSnapshot.Zero, options).Entries);
    }
}
