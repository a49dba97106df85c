using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests;

/// <summary>Values recorded from a real etcd 3.4.23 (etcdctl endpoint hashkv) for the same history.</summary>
public sealed class EtcdParityTests
{
    [Fact]
    public void HashKvEqualsARealEtcdGivenTheSameHistory()
    {
        using var t = new TestStore();
        Assert.Equal(1084519789u, t.Store.HashKV(0).Hash); // Empty store: the bucket name alone.

        t.Put("foo", "bar"); // 2
        t.Put("foo", "baz"); // 3
        t.Put("a", "1");     // 4
        t.Delete("foo");     // 5
        t.Put("b/1", "x");   // 6
        t.Put("b/2", "y");   // 7
        using (MvccStore.WriteBatch batch = t.Store.BeginBatch()) // 8: etcdctl txn with put t1, put t2, del a
        {
            using (WriteTxn txn = batch.BeginWrite())
            {
                txn.Put(B("t1"), B("v1"));
                txn.Put(B("t2"), B("v2"));
                txn.DeleteRange(KeyRange.Single(M("a")));
            }
            batch.Commit();
        }
        Assert.Equal(new HashKvResult(MvccStatus.Ok, 2257244943u, 8, -1), t.Store.HashKV(0));
        Assert.Equal(3093655596u, t.Store.HashKV(4).Hash);

        t.Store.Compact(5);
        t.Store.FinishCompaction();
        Assert.Equal(new HashKvResult(MvccStatus.Ok, 824472324u, 8, 5), t.Store.HashKV(0));
        Assert.Equal(3090245498u, t.Store.HashKV(6).Hash);

        t.Delete("b/", "b0"); // 9
        Assert.Equal(3233483164u, t.Store.HashKV(0).Hash);
        t.Reopen();
        Assert.Equal(3233483164u, t.Store.HashKV(0).Hash);
    }
}
