using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc.Backend;
using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests;

public sealed class MvccStoreTests
{
    [Fact]
    public void FreshStoreIsAtRevisionOneAndNeverCompacted()
    {
        using var t = new TestStore();
        Assert.Equal(1, t.Store.CurrentRevision);
        Assert.Equal(-1, t.Store.CompactRevision);
        RangeResult r = t.Get("foo");
        Assert.Equal(MvccStatus.Ok, r.Status);
        Assert.Empty(r.Kvs);
        Assert.Equal(0, r.Count);
        Assert.Equal(1, r.Revision);
    }

    [Fact]
    public void PutCreatesThenUpdatesWithVersions()
    {
        using var t = new TestStore();
        Assert.Equal(2, t.Put("foo", "a"));
        Assert.Equal(3, t.Put("foo", "b", lease: 7));
        KeyValue kv = Assert.Single(t.Get("foo").Kvs);
        Assert.Equal("foo=b c2 m3 v2 l7", Describe(kv));
        Assert.Equal(3, t.Get("foo").Revision);
        t.Put("bar", "x");
        (byte[] key, long lease) = Assert.Single(t.Store.KeysWithLeases());
        Assert.Equal("foo", System.Text.Encoding.UTF8.GetString(key));
        Assert.Equal(7, lease);
    }

    [Fact]
    public void DeleteThenRecreateStartsANewGeneration()
    {
        using var t = new TestStore();
        t.Put("foo", "a");
        t.Put("foo", "b");
        Assert.Equal((1, 4), t.Delete("foo"));
        Assert.Empty(t.Get("foo").Kvs);
        Assert.Equal(5, t.Put("foo", "c"));
        Assert.Equal("foo=c c5 m5 v1 l0", Describe(Assert.Single(t.Get("foo").Kvs)));
    }

    [Fact]
    public void DeletingNothingKeepsTheRevision()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        Assert.Equal((0, 2), t.Delete("zzz"));
        Assert.Equal((0, 2), t.Delete("b", "c"));
        Assert.Equal(2, t.Store.CurrentRevision);
    }

    [Fact]
    public void RangeEndFollowsEtcdRules()
    {
        using var t = new TestStore();
        foreach (string k in new[] { "a", "b", "b/1", "b/2", "c" })
        {
            t.Put(k, "v" + k);
        }
        string Keys(KeyRange range) => string.Join(",", t.Store.Range(range).Kvs.Select(kv => kv.Key.ToStringUtf8()));

        Assert.Equal("b", Keys(KeyRange.FromEtcd(M("b"), default)));
        Assert.Equal("b,b/1,b/2,c", Keys(KeyRange.FromEtcd(M("b"), new byte[] { 0 })));
        Assert.Equal("b/1,b/2", Keys(KeyRange.FromEtcd(M("b/"), M("b0"))));
        Assert.Equal("a,b,b/1,b/2,c", Keys(KeyRange.FromEtcd(new byte[] { 0 }, new byte[] { 0 })));
        Assert.Equal("", Keys(KeyRange.FromEtcd(M("c"), M("a")))); // End below key: nothing.
        Assert.Equal("", Keys(KeyRange.FromEtcd(M("b"), M("b"))));
    }

    [Fact]
    public void LimitTruncatesButCountCoversTheWholeRange()
    {
        using var t = new TestStore();
        for (int i = 0; i < 20; i++)
        {
            t.Put($"k/{i:D2}", $"v{i}");
        }
        RangeResult r = t.Prefix("k/", limit: 5);
        Assert.Equal(20, r.Count);
        Assert.Equal(["k/00", "k/01", "k/02", "k/03", "k/04"], r.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        RangeResult countOnly = t.Store.Range(KeyRange.Between(M("k/"), M("k0")), new RangeOptions(CountOnly: true));
        Assert.Equal(20, countOnly.Count);
        Assert.Empty(countOnly.Kvs);
    }

    [Fact]
    public void HistoricalReadsSeeTheValuesOfThatRevision()
    {
        using var t = new TestStore();
        for (int i = 0; i < 12; i++)
        {
            t.Put($"k{i:D2}", "old");
        }
        t.Put("k03", "new");      // rev 14
        t.Delete("k05");          // rev 15
        t.Put("k99", "late");     // rev 16
        RangeResult at13 = t.Prefix("k", rev: 13);
        Assert.Equal(12, at13.Count);
        Assert.All(at13.Kvs, kv => Assert.Equal("old", kv.Value.ToStringUtf8()));
        Assert.Equal(16, at13.Revision); // The header carries the current revision.
        RangeResult now = t.Prefix("k");
        Assert.Equal(12, now.Count);
        Assert.Equal("new", now.Kvs.Single(kv => kv.Key.ToStringUtf8() == "k03").Value.ToStringUtf8());
        Assert.DoesNotContain(now.Kvs, kv => kv.Key.ToStringUtf8() == "k05");
        Assert.Equal(2, Assert.Single(t.Get("k00", rev: 2).Kvs).ModRevision);
        Assert.Empty(t.Get("k01", rev: 2).Kvs);
    }

    [Fact]
    public void FutureAndCompactedRevisionsAreRejected()
    {
        using var t = new TestStore();
        for (int i = 0; i < 5; i++)
        {
            t.Put("foo", $"v{i}"); // revs 2..6
        }
        RangeResult future = t.Get("foo", rev: 7);
        Assert.Equal(MvccStatus.FutureRevision, future.Status);
        Assert.Equal(6, future.Revision);

        Assert.Equal(MvccStatus.Ok, t.Store.Compact(4).Status);
        Assert.Equal(MvccStatus.Compacted, t.Get("foo", rev: 3).Status);
        Assert.Equal("foo=v2 c2 m4 v3 l0", Describe(Assert.Single(t.Get("foo", rev: 4).Kvs))); // At the compaction revision: allowed.
        Assert.Equal(MvccStatus.Compacted, t.Store.Compact(4).Status);
        Assert.Equal(MvccStatus.Compacted, t.Store.Compact(3).Status);
        Assert.Equal(MvccStatus.FutureRevision, t.Store.Compact(7).Status);
        Assert.Equal(MvccStatus.Ok, t.Store.Compact(6).Status);
        Assert.Equal(6, t.Store.CompactRevision);
    }

    [Fact]
    public void OneWriteTxnSharesARevisionAndSeesItsOwnWrites()
    {
        using var t = new TestStore();
        t.Put("x", "0");
        using (MvccStore.WriteBatch batch = t.Store.BeginBatch())
        {
            using (WriteTxn txn = batch.BeginWrite())
            {
                Assert.Equal(3, txn.Put(B("a"), B("1")));
                Assert.Equal(3, txn.Put(B("b"), B("2")));
                Assert.Equal((1, 3), txn.DeleteRange(KeyRange.Single(M("x"))));
                RangeResult inside = txn.Range(KeyRange.From(M("a")));
                Assert.Equal("a,b", string.Join(",", inside.Kvs.Select(kv => kv.Key.ToStringUtf8())));
                Assert.Equal(3, inside.Revision);
                Assert.Equal([new Revision(3, 0), new Revision(3, 1), new Revision(3, 2)],
                    txn.Changes.Select((c, i) => new Revision(c.Kv.ModRevision, i)));
            }
            // Readers do not see the batch before it commits.
            Assert.Equal(2, t.Store.CurrentRevision);
            Assert.Empty(t.Get("a").Kvs);
            IReadOnlyList<MvccChange> changes = batch.Commit();
            Assert.Equal(3, changes.Count);
            Assert.True(changes[2].IsDelete);
            Assert.Equal(new Revision(2, 0), changes[2].Previous);
        }
        Assert.Equal(3, t.Store.CurrentRevision);
        Assert.Single(t.Get("a").Kvs);
        Assert.Empty(t.Get("x").Kvs);
    }

    [Fact]
    public void ATxnThatChangesNothingKeepsTheRevision()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        using MvccStore.WriteBatch batch = t.Store.BeginBatch();
        using (WriteTxn txn = batch.BeginWrite())
        {
            txn.Range(KeyRange.Single(M("a")));
            Assert.Equal((0, 2), txn.DeleteRange(KeyRange.Single(M("none"))));
        }
        Assert.Empty(batch.Commit());
        Assert.Equal(2, t.Store.CurrentRevision);
    }

    [Fact]
    public void ReopenRebuildsTheSameState()
    {
        using var t = new TestStore();
        for (int i = 0; i < 30; i++)
        {
            t.Put($"k{i % 7}", $"v{i}");
            if (i % 5 == 4)
            {
                t.Delete($"k{i % 3}");
            }
        }
        t.Store.Compact(12);
        t.Store.FinishCompaction();
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            b.SetConsistentIndex(42);
            b.Commit();
        }
        string Dump(long rev) => string.Join(";", t.Prefix("k", rev).Kvs.Select(Describe));
        var before = Enumerable.Range(12, (int)t.Store.CurrentRevision - 11).Select(r => Dump(r)).ToList();
        long current = t.Store.CurrentRevision;
        uint hash = t.Store.HashKV(0).Hash;

        t.Reopen();
        Assert.Equal(current, t.Store.CurrentRevision);
        Assert.Equal(12, t.Store.CompactRevision);
        Assert.Equal(42ul, t.Store.ConsistentIndex);
        Assert.Equal(before, Enumerable.Range(12, (int)current - 11).Select(r => Dump(r)).ToList());
        Assert.Equal(MvccStatus.Compacted, t.Get("k1", rev: 11).Status);
        Assert.Equal(hash, t.Store.HashKV(0).Hash);
    }

    [Fact]
    public void AnUnfinishedCompactionResumesAfterReopen()
    {
        using var t = new TestStore();
        for (int i = 0; i < 50; i++)
        {
            t.Put($"k{i % 5}", $"v{i}");
        }
        Assert.Equal(50, t.Store.KeyRowCount());
        Assert.Equal(MvccStatus.Ok, t.Store.Compact(40).Status);
        Assert.True(t.Store.HasPendingCompaction);
        t.Reopen(); // Physical deletion never ran.
        Assert.Equal(40, t.Store.CompactRevision);
        Assert.True(t.Store.HasPendingCompaction);
        t.Store.FinishCompaction();
        // Each key keeps its newest revision at or below 40, plus the 11 later puts (41..51).
        Assert.Equal(5 + 11, t.Store.KeyRowCount());
        t.Reopen();
        Assert.False(t.Store.HasPendingCompaction);
        Assert.Equal(40, t.Store.CompactRevision);
    }

    [Fact]
    public void PhysicalCompactionRunsInBatchesAndCompletesItsTask()
    {
        using var t = new TestStore(new MvccOptions { BackgroundCompaction = false, CompactionBatchLimit = 10 });
        for (int i = 0; i < 60; i++)
        {
            t.Put("same", $"v{i}");
        }
        t.Delete("same");
        CompactResult result = t.Store.Compact(t.Store.CurrentRevision);
        Assert.False(result.Physical.IsCompleted);
        int steps = 0;
        while (t.Store.RunCompactionStep())
        {
            steps++;
        }
        // 61 rows in batches of 10 take 7 steps; the last one reports that no work remains.
        Assert.Equal(6, steps);
        Assert.True(result.Physical.IsCompletedSuccessfully);
        // Only the tombstone at the compaction revision stays (etcd 3.6: a watch from there sees the delete).
        Assert.Equal(1, t.Store.KeyRowCount());
    }

    [Fact]
    public async Task BackgroundCompactionDeletesRowsByItself()
    {
        using var t = new TestStore(new MvccOptions { CompactionBatchInterval = TimeSpan.FromMilliseconds(1) });
        for (int i = 0; i < 30; i++)
        {
            t.Put("k", $"v{i}");
        }
        CompactResult result = t.Store.Compact(25);
        await result.Physical.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1 + 6, t.Store.KeyRowCount());
    }

    [Fact]
    public void HashKvDoesNotDependOnPhysicalCompactionProgress()
    {
        using var t = new TestStore(new MvccOptions { BackgroundCompaction = false, CompactionBatchLimit = 3 });
        for (int i = 0; i < 40; i++)
        {
            t.Put($"k{i % 4}", $"v{i}");
            if (i % 9 == 0)
            {
                t.Delete($"k{(i + 1) % 4}");
            }
        }
        t.Store.Compact(30);
        HashKvResult before = t.Store.HashKV(0);
        t.Store.RunCompactionStep();
        Assert.Equal(before, t.Store.HashKV(0));
        t.Store.FinishCompaction();
        Assert.Equal(before, t.Store.HashKV(0));
        t.Reopen();
        Assert.Equal(before, t.Store.HashKV(0));
        Assert.Equal(MvccStatus.Compacted, t.Store.HashKV(30).Status);
        Assert.Equal(MvccStatus.FutureRevision, t.Store.HashKV(t.Store.CurrentRevision + 1).Status);
        Assert.NotEqual(t.Store.HashKV(t.Store.CurrentRevision - 1).Hash, before.Hash);
    }

    [Fact]
    public void ConsistentIndexCommitsWithTheBatch()
    {
        using var t = new TestStore();
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            using (WriteTxn txn = b.BeginWrite())
            {
                txn.Put(B("a"), B("1"));
            }
            b.SetConsistentIndex(7);
            Assert.Equal(0ul, t.Store.ConsistentIndex);
            b.Commit();
        }
        Assert.Equal(7ul, t.Store.ConsistentIndex);
        t.Reopen();
        Assert.Equal(7ul, t.Store.ConsistentIndex);
        Assert.Equal(2, t.Store.CurrentRevision);
    }

    [Fact]
    public void OtherBucketsStoreRowsInTheBatch()
    {
        using var t = new TestStore();
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            b.Put(Bucket.Lease, "\x01"u8, "lease-1"u8);
            b.Put(Bucket.Members, "m"u8, "{}"u8);
            b.Put(Bucket.Members, "m"u8, "{\"x\":1}"u8);
            Assert.Equal("{\"x\":1}"u8.ToArray(), b.Get(Bucket.Members, "m"u8));
            Assert.Throws<ArgumentException>(() => b.Put(Bucket.Key, "x"u8, "y"u8));
            b.Commit();
        }
        Assert.Equal("lease-1"u8.ToArray(), Assert.Single(t.Store.ReadBucket(Bucket.Lease)).Value);
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            b.Delete(Bucket.Lease, "\x01"u8);
            b.Commit();
        }
        Assert.Empty(t.Store.ReadBucket(Bucket.Lease));
    }

    [Fact]
    public void ReadChangesReturnsHistoryWithPreviousRevisions()
    {
        using var t = new TestStore();
        t.Put("a", "1");   // 2
        t.Put("a", "2");   // 3
        t.Delete("a");     // 4
        t.Put("b", "1");   // 5
        using ReadTxn r = t.Store.BeginRead();
        var changes = new List<MvccChange>();
        Assert.Equal(MvccStatus.Ok, r.ReadChanges(3, 5, changes));
        Assert.Equal(["PUT a 3 prev 2", "DELETE a 4 prev 3", "PUT b 5 prev 0"],
            changes.Select(c => $"{(c.IsDelete ? "DELETE" : "PUT")} {c.Kv.Key.ToStringUtf8()} {c.Kv.ModRevision} prev {c.Previous.Main}"));
        Assert.Equal("a=1 c2 m2 v1 l0", Describe(r.ReadRevision(changes[0].Previous)!));
    }

    [Fact]
    public void ReadTxnKeepsItsSnapshotWhileWritesContinue()
    {
        using var t = new TestStore();
        t.Put("a", "1");
        using ReadTxn r = t.Store.BeginRead();
        t.Put("a", "2");
        t.Put("b", "1");
        Assert.Equal("1", Assert.Single(r.Range(KeyRange.Single(M("a"))).Kvs).Value.ToStringUtf8());
        Assert.Empty(r.Range(KeyRange.Single(M("b"))).Kvs);
        Assert.Equal("2", Assert.Single(t.Get("a").Kvs).Value.ToStringUtf8());
    }

    [Fact]
    public void ALargeListIsServedFromTheLatestTable()
    {
        using var t = new TestStore();
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            for (int i = 0; i < 1000; i++)
            {
                using WriteTxn txn = b.BeginWrite();
                txn.Put(B($"/registry/pods/ns/p{i:D4}"), B(new string('x', 300)));
            }
            b.Commit();
        }
        t.Put("/registry/pods/ns/p0500", "changed");
        long rev = t.Store.CurrentRevision;
        RangeResult all = t.Prefix("/registry/pods/");
        Assert.Equal(1000, all.Kvs.Count);
        Assert.Equal("changed", all.Kvs[500].Value.ToStringUtf8());
        // One revision back, key 500 must come from history rather than the latest table.
        RangeResult before = t.Prefix("/registry/pods/", rev: rev - 1);
        Assert.Equal(new string('x', 300), before.Kvs[500].Value.ToStringUtf8());
        Assert.Equal(1000, before.Count);
    }

    [Fact]
    public void DefragmentKeepsTheDataAndShrinksTheFile()
    {
        using var t = new TestStore();
        t.FillThenFreeAllButTheFirstHundred(600);
        long size = t.Store.SizeBytes;
        Assert.True(size - t.Store.SizeInUseBytes > 1_000_000, $"size {size}, in use {t.Store.SizeInUseBytes}");
        uint hash = t.Store.HashKV(0).Hash;

        t.Store.Defragment();
        Assert.True(t.Store.SizeBytes < size / 2, $"size {size} -> {t.Store.SizeBytes}");
        Assert.Equal(t.Store.SizeBytes, t.Store.SizeInUseBytes);
        Assert.True(new FileInfo(t.DbPath).Length <= t.Store.SizeBytes);
        Assert.Equal(hash, t.Store.HashKV(0).Hash);
        Assert.Equal(100, t.Prefix("k").Count);
    }

    [Fact]
    public void SnapshotCopyOpensAsAnIdenticalStore()
    {
        using var t = new TestStore();
        for (int i = 0; i < 40; i++)
        {
            t.Put($"k{i % 9}", $"v{i}");
        }
        t.Delete("k3");
        t.Store.Compact(20);
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            b.SetConsistentIndex(99);
            b.Commit();
        }
        // The snapshot is an etcd bbolt file; importing it gives a SQLite store again.
        string boltPath = Path.Combine(t.Directory, "copy.bolt");
        string copyPath = Path.Combine(t.Directory, "copy.db");
        using (BackendSnapshot snapshot = t.Store.CreateSnapshot())
        {
            Assert.Equal(99ul, snapshot.ConsistentIndex);
            using FileStream output = File.Create(boltPath);
            snapshot.Stream.CopyTo(output);
        }
        Assert.Single(Directory.GetFiles(t.Directory, "*.bolt")); // The temporary copy is gone.
        t.Put("after", "snapshot");
        MvccStore.ImportBoltFile(boltPath, copyPath);

        using MvccStore copy = MvccStore.Open(copyPath, new MvccOptions { BackgroundCompaction = false });
        Assert.Equal(99ul, copy.ConsistentIndex);
        Assert.Equal(20, copy.CompactRevision);
        Assert.Equal(t.Store.CurrentRevision - 1, copy.CurrentRevision);
        Assert.Equal(t.Store.HashKV(copy.CurrentRevision), copy.HashKV(copy.CurrentRevision) with { CurrentRevision = t.Store.CurrentRevision });
        Assert.Equal(
            string.Join(";", t.Prefix("k").Kvs.Select(Describe)),
            string.Join(";", copy.Range(KeyRange.Between(M("k"), M("l"))).Kvs.Select(Describe)));
    }

    [Fact]
    public void AbandonedBatchMakesTheStoreRefuseFurtherUse()
    {
        using var t = new TestStore();
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            using WriteTxn txn = b.BeginWrite();
            txn.Put(B("a"), B("1"));
        }
        Assert.Throws<InvalidOperationException>(() => t.Store.BeginBatch());
    }
}
