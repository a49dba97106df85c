using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using static Dotcd.Server.Tests.Apply.ApplyHarness;

namespace Dotcd.Server.Tests.Apply;

public sealed class KvApplierTests
{
    private static RequestOp PutOp(string key, string value) => new() { RequestPut = new PutRequest { Key = B(key), Value = B(value) } };
    private static RequestOp RangeOp(string key) => new() { RequestRange = new RangeRequest { Key = B(key) } };
    private static RequestOp DeleteOp(string key, string end = "") => new() { RequestDeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = B(end) } };
    private static RequestOp TxnOp(TxnRequest t) => new() { RequestTxn = t };

    private static Compare ModEquals(string key, long rev) =>
        new() { Key = B(key), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = rev };

    [Fact]
    public void KubernetesCreateUpdateDeleteFollowModRevisionGuards()
    {
        using var h = new ApplyHarness();
        const string key = "/registry/pods/default/web-0";

        TxnRequest Create(string value) => new() { Compare = { ModEquals(key, 0) }, Success = { PutOp(key, value) } };
        TxnRequest Update(long rev, string value) => new() { Compare = { ModEquals(key, rev) }, Success = { PutOp(key, value) }, Failure = { RangeOp(key) } };
        TxnRequest Delete(long rev) => new() { Compare = { ModEquals(key, rev) }, Success = { DeleteOp(key) }, Failure = { RangeOp(key) } };

        TxnResponse created = h.Txn(Create("k8s\0v1")).Response!;
        Assert.True(created.Succeeded);
        Assert.Equal(2, created.Header.Revision);

        TxnResponse again = h.Txn(Create("k8s\0v1")).Response!;
        Assert.False(again.Succeeded);
        Assert.Empty(again.Responses);
        Assert.Equal(2, again.Header.Revision); // A failed guard writes nothing.

        TxnResponse stale = h.Txn(Update(1, "k8s\0v2")).Response!;
        Assert.False(stale.Succeeded);
        var current = stale.Responses[0].ResponseRange.Kvs[0];
        Assert.Equal(2, current.ModRevision); // The failure branch hands back the object for a retry.

        TxnResponse updated = h.Txn(Update(current.ModRevision, "k8s\0v2")).Response!;
        Assert.True(updated.Succeeded);
        Assert.Equal(3, updated.Responses[0].ResponsePut.Header.Revision);

        TxnResponse deleted = h.Txn(Delete(3)).Response!;
        Assert.True(deleted.Succeeded);
        Assert.Equal(1, deleted.Responses[0].ResponseDeleteRange.Deleted);
        Assert.Equal(4, deleted.Header.Revision);
        Assert.Equal(0, h.Range(new RangeRequest { Key = B(key) }).Response!.Count);
    }

    [Fact]
    public void KubernetesCompactionBookkeepingThenCompact()
    {
        using var h = new ApplyHarness();
        for (int i = 0; i < 5; i++)
        {
            h.Put(new PutRequest { Key = B($"/registry/events/e{i}"), Value = B("x") });
        }
        TxnRequest Bookkeeping(long version, long rev) => new()
        {
            Compare = { new Compare { Key = B("compact_rev_key"), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = version } },
            Success = { PutOp("compact_rev_key", rev.ToString()) },
            Failure = { RangeOp("compact_rev_key") },
        };
        Assert.True(h.Txn(Bookkeeping(0, 6)).Response!.Succeeded);
        TxnResponse lost = h.Txn(Bookkeeping(0, 7)).Response!; // Another API server won the race.
        Assert.False(lost.Succeeded);
        Assert.Equal(1, lost.Responses[0].ResponseRange.Kvs[0].Version);

        Assert.Equal(7, h.Compact(new CompactionRequest { Revision = 6 }).Response!.Header.Revision);
        Assert.Same(EtcdErrors.Compacted, h.Range(new RangeRequest { Key = B("/registry/events/e0"), Revision = 5 }).Error);
        Assert.Equal(1, h.Range(new RangeRequest { Key = B("/registry/events/e0"), Revision = 6 }).Response!.Count);
    }

    [Fact]
    public void KubernetesPaginatedListReadsLaterPagesAtTheFirstPagesRevision()
    {
        using var h = new ApplyHarness();
        for (int i = 0; i < 7; i++)
        {
            h.Put(new PutRequest { Key = B($"/registry/pods/ns/p{i}"), Value = B($"v{i}") });
        }
        RangeResponse first = h.Range(new RangeRequest { Key = B("/registry/pods/"), RangeEnd = B("/registry/pods0"), Limit = 3 }).Response!;
        Assert.True(first.More);
        Assert.Equal(7, first.Count);
        h.Put(new PutRequest { Key = B("/registry/pods/ns/p5"), Value = B("changed") });
        h.DeleteRange(new DeleteRangeRequest { Key = B("/registry/pods/ns/p6") });

        var next = first.Kvs[^1].Key.Concat(new byte[] { 0 }).ToArray();
        RangeResponse second = h.Range(new RangeRequest
        {
            Key = Google.Protobuf.ByteString.CopyFrom(next),
            RangeEnd = B("/registry/pods0"),
            Limit = 3,
            Revision = first.Header.Revision,
        }).Response!;
        Assert.Equal(["p3", "p4", "p5"], second.Kvs.Select(kv => kv.Key.ToStringUtf8()[^2..]));
        Assert.Equal("v5", second.Kvs[2].Value.ToStringUtf8());
        Assert.Equal(4, second.Count);
        Assert.True(second.More);
        Assert.Equal(first.Header.Revision + 2, second.Header.Revision); // Headers carry the current revision.
    }

    [Fact]
    public void PhysicalCompactionCompletesOnlyWhenRowsAreGone()
    {
        using var h = new ApplyHarness();
        for (int i = 0; i < 10; i++)
        {
            h.Put(new PutRequest { Key = B("k"), Value = B($"v{i}") });
        }
        CompactApplyResult result;
        using (MvccStore.WriteBatch batch = h.Store.BeginBatch())
        {
            result = h.Applier.Compact(batch, new CompactionRequest { Revision = 8, Physical = true });
            batch.Commit();
        }
        Assert.Null(result.Error);
        Assert.False(result.Physical.IsCompleted);
        CompactApplyResult repeated;
        using (MvccStore.WriteBatch batch = h.Store.BeginBatch())
        {
            repeated = h.Applier.Compact(batch, new CompactionRequest { Revision = 8, Physical = true });
            batch.Commit();
        }
        Assert.Same(EtcdErrors.Compacted, repeated.Error);
        Assert.False(repeated.Physical.IsCompleted); // etcd makes it wait for the earlier compaction too.
        h.Store.FinishCompaction();
        Assert.True(result.Physical.IsCompletedSuccessfully);
        Assert.True(repeated.Physical.IsCompletedSuccessfully);
    }

    [Fact]
    public void ReadOnlyTxnKeepsTheRevisionAndSeesOneSnapshot()
    {
        using var h = new ApplyHarness();
        h.Put(new PutRequest { Key = B("a"), Value = B("1") });
        var request = new TxnRequest { Success = { RangeOp("a"), RangeOp("b") } };
        Assert.True(KvApplier.IsReadOnly(request));
        Assert.False(KvApplier.IsSerializable(request));
        TxnResponse local = h.Applier.ReadOnlyTxn(h.Store, request).Response!;
        Assert.Equal(2, local.Header.Revision);

        // The same txn applied through raft changes nothing either.
        using MvccStore.WriteBatch batch = h.Store.BeginBatch();
        TxnResponse applied = h.Applier.Txn(batch, request).Response!;
        batch.Commit();
        Assert.Equal(2, applied.Header.Revision);
        Assert.Equal(2, h.Store.CurrentRevision);
    }

    [Fact]
    public void NestedTxnOpsSeeEarlierWritesAndShareOneRevision()
    {
        using var h = new ApplyHarness();
        var inner = new TxnRequest
        {
            Compare = { new Compare { Key = B("x"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B("1") } },
            Success = { PutOp("y", "2"), RangeOp("x") },
        };
        TxnResponse r = h.Txn(new TxnRequest { Success = { PutOp("x", "1"), TxnOp(inner), RangeOp("y") } }).Response!;
        // Compares are evaluated before any op runs: x does not exist yet, so the inner txn fails.
        Assert.False(r.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal(0, r.Responses[1].ResponseTxn.Header.Revision);
        Assert.Equal(0, r.Responses[2].ResponseRange.Count);
        Assert.Equal(2, r.Header.Revision);

        TxnResponse second = h.Txn(new TxnRequest { Success = { PutOp("z", "3"), TxnOp(inner) } }).Response!;
        Assert.True(second.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal(3, second.Responses[1].ResponseTxn.Responses[0].ResponsePut.Header.Revision);
        Assert.Equal(3, h.Range(new RangeRequest { Key = B("y") }).Response!.Kvs[0].ModRevision);
        Assert.Equal(3, h.Range(new RangeRequest { Key = B("z") }).Response!.Kvs[0].ModRevision);
    }

    [Fact]
    public void AnUnknownSortTargetLeavesKeyOrderInsteadOfCrashing()
    {
        using var h = new ApplyHarness();
        h.Put(new PutRequest { Key = B("b"), Value = B("1") });
        h.Put(new PutRequest { Key = B("a"), Value = B("2") });
        RangeResponse r = h.Range(new RangeRequest
        {
            Key = B("a"),
            RangeEnd = B("z"),
            SortOrder = RangeRequest.Types.SortOrder.Descend,
            SortTarget = (RangeRequest.Types.SortTarget)9,
        }).Response!;
        Assert.Equal(["a", "b"], r.Kvs.Select(kv => kv.Key.ToStringUtf8()));
    }

    [Fact]
    public void PutWithIgnoreLeaseKeepsTheAttachedLease()
    {
        using var h = new ApplyHarness();
        h.Leases.Ids.Add(42);
        Assert.Same(EtcdErrors.LeaseNotFound, h.Put(new PutRequest { Key = B("k"), Value = B("v"), Lease = 41 }).Error);
        Assert.Equal(1, h.Store.CurrentRevision);
        h.Put(new PutRequest { Key = B("k"), Value = B("v"), Lease = 42 });
        PutResponse r = h.Put(new PutRequest { Key = B("k"), Value = B("w"), IgnoreLease = true, PrevKv = true }).Response!;
        Assert.Equal(42, r.PrevKv.Lease);
        Assert.Equal(42, h.Range(new RangeRequest { Key = B("k") }).Response!.Kvs[0].Lease);
    }
}
