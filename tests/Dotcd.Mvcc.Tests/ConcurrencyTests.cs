using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task ReadersSeeConsistentStatesWhileTheApplyLoopWritesAndCompacts()
    {
        using var t = new TestStore(new MvccOptions { CompactionBatchLimit = 50, CompactionBatchInterval = TimeSpan.FromMilliseconds(1) });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
        int reads = 0;

        // Every value names the revision that wrote it, so a reader can check each key-value alone.
        Task writer = Task.Run(() =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                using MvccStore.WriteBatch batch = t.Store.BeginBatch();
                for (int i = 0; i < 5; i++)
                {
                    using WriteTxn txn = batch.BeginWrite();
                    long rev = txn.BeginRevision + 1;
                    txn.Put(B($"k{random.Next(200):D3}"), B(rev.ToString()));
                    if (random.Next(10) == 0)
                    {
                        txn.DeleteRange(KeyRange.Single(M($"k{random.Next(200):D3}")));
                    }
                }
                if (random.Next(20) == 0 && batch.CurrentRevision > 20)
                {
                    batch.Compact(batch.CurrentRevision - 10);
                }
                batch.Commit();
            }
        });

        Task Reader(int seed) => Task.Run(() =>
        {
            var random = new Random(seed);
            long lastRevision = 0;
            while (!stop.IsCancellationRequested)
            {
                RangeResult r = t.Store.Range(KeyRange.Between(M("k"), M("l")), new RangeOptions(Limit: random.Next(0, 50)));
                Assert.Equal(MvccStatus.Ok, r.Status);
                Assert.True(r.Revision >= lastRevision, "the current revision never goes back");
                lastRevision = r.Revision;
                foreach (var kv in r.Kvs)
                {
                    Assert.Equal(kv.ModRevision.ToString(), kv.Value.ToStringUtf8());
                    Assert.True(kv.ModRevision <= r.Revision);
                }
                long back = Math.Max(1, r.Revision - random.Next(0, 15)); // Revision 0 would mean "current".
                RangeResult old = t.Store.Range(KeyRange.From(M("k")), new RangeOptions(Revision: back));
                if (old.Status == MvccStatus.Ok)
                {
                    Assert.All(old.Kvs, kv => Assert.True(kv.ModRevision <= back));
                }
                Interlocked.Increment(ref reads);
            }
        });

        await Task.WhenAll(writer, Reader(1), Reader(2));
        Assert.True(reads > 10);
        // Hundreds of small compactions queue up in 1.5 s; on a loaded 2-core machine deleting
        // them takes several seconds (a correctness test: the bound only catches a stuck worker).
        await t.Store.LastPhysicalCompaction.WaitAsync(TimeSpan.FromSeconds(60));
        // After all that, the history left still reads back exactly from a reopened store.
        HashKvResult hash = t.Store.HashKV(0);
        t.Reopen();
        Assert.Equal(hash, t.Store.HashKV(0));
    }
    [Fact]
    public async Task ReadsAndWritesCompleteWhileADefragmentRuns()
    {
        using var t = new TestStore();
        t.FillThenFreeAllButTheFirstHundred(3000);

        // Defragment gives pages back in small steps; between steps the apply loop and readers
        // go on, so a long defrag never stops the member (etcd's defrag blocks every write).
        int readsDuring = 0, writesDuring = 0;
        var defragging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task defrag = Task.Run(() =>
        {
            defragging.SetResult();
            t.Store.Defragment();
        });
        await defragging.Task;
        int n = 0;
        while (!defrag.IsCompleted)
        {
            Assert.Equal(100, t.Prefix("k0").Count);
            readsDuring++;
            if (n < 50)
            {
                t.Put($"w{n++:D3}", "during");
                writesDuring++;
            }
        }

        await defrag;
        Assert.True(readsDuring > 0, "no read completed while defragment ran");
        Assert.Equal(writesDuring, t.Prefix("w").Count);
        Assert.Equal(100, t.Prefix("k0").Count);
        Assert.Equal(t.Store.SizeBytes, t.Store.SizeInUseBytes);
    }
}
