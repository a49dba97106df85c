using System.Buffers.Binary;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Mvcc.Backend;
using Dotcd.Server.Apply;
using Dotcd.Server.Leases;
using Google.Protobuf;
using LeaseRecord = Dotcd.Api.Leasepb.Lease;

namespace Dotcd.Server.Tests.Leases;

public sealed class LessorTests
{
    [Fact]
    public void MinimumTtlIsEtcdsRuleFromElectionTicksAndHeartbeat()
    {
        Assert.Equal(2, Lessor.MinTtlFor(10, TimeSpan.FromMilliseconds(100)));  // 15 ticks of 100 ms = 1.5 s, rounded up.
        Assert.Equal(1, Lessor.MinTtlFor(10, TimeSpan.FromMilliseconds(10)));
        Assert.Equal(8, Lessor.MinTtlFor(50, TimeSpan.FromMilliseconds(100))); // 75 ticks = 7.5 s.
        Assert.Equal(2, Lessor.MinTtlFor(5, TimeSpan.FromMilliseconds(250)));  // (3*5)/2 = 7 ticks (integer division) = 1.75 s.
    }

    [Fact]
    public void GrantRaisesTheTtlToTheMinimumAndRefusesDuplicatesTooLargeTtlsAndIdZero()
    {
        using var h = new LessorHarness(minTtlSeconds: 5);

        LeaseGrantResponse granted = h.Grant(100, 1);
        Assert.Equal(100, granted.ID);
        Assert.Equal(5, granted.TTL);
        Assert.Equal(60, h.Grant(101, 60).TTL);
        Assert.Equal(5, h.Grant(102, -7).TTL);

        Assert.Same(EtcdErrors.LeaseExists, h.InBatch(b => h.Lessor.Grant(b, new LeaseGrantRequest { ID = 100, TTL = 10 })).Error);
        Assert.Same(EtcdErrors.LeaseTtlTooLarge, h.InBatch(b => h.Lessor.Grant(b, new LeaseGrantRequest { ID = 7, TTL = 9_000_000_001 })).Error);
        Assert.Equal(9_000_000_000, h.Grant(8, 9_000_000_000).TTL);
        Assert.Same(EtcdErrors.LeaseNotFound, h.InBatch(b => h.Lessor.Grant(b, new LeaseGrantRequest { ID = 0, TTL = 10 })).Error);
        Assert.Equal(4, h.Lessor.Count);
    }

    [Fact]
    public void APutNamingAnUnknownLeaseFailsAndChangesNothing()
    {
        using var h = new LessorHarness();
        long before = h.Store.CurrentRevision;

        ApplyResult<PutResponse> result = h.Put("k", "v", lease: 42);

        Assert.Same(EtcdErrors.LeaseNotFound, result.Error);
        Assert.Equal(before, h.Store.CurrentRevision);
    }

    [Fact]
    public void RevokeDeletesEveryAttachedKeyInOneRevisionAsDeleteEvents()
    {
        using var h = new LessorHarness();
        h.Grant(1, 60);
        h.Grant(2, 60);
        h.Put("b", "1", lease: 1);
        h.Put("a", "2", lease: 1);
        h.Put("c", "3", lease: 1);
        h.Put("other", "4", lease: 2);
        h.Put("plain", "5");
        long before = h.Store.CurrentRevision;

        LeaseRevokeResponse revoked = h.Revoke(1);

        Assert.Equal(before + 1, revoked.Header.Revision);
        Assert.Equal(before + 1, h.Store.CurrentRevision);
        Assert.All(h.LastChanges, c => Assert.True(c.IsDelete));
        Assert.Equal(["a", "b", "c"], h.LastChanges.Select(c => c.Kv.Key.ToStringUtf8()));
        Assert.All(h.LastChanges, c => Assert.Equal(before + 1, c.Kv.ModRevision));
        Assert.Equal(["other", "plain"], h.Store.Range(KeyRange.From(ByteString.CopyFromUtf8("").Memory)).Kvs.Select(k => k.Key.ToStringUtf8()));
        Assert.False(h.Lessor.Exists(1));
        Assert.DoesNotContain(h.Store.ReadBucket(Bucket.Lease), r => BinaryPrimitives.ReadInt64BigEndian(r.Key) == 1);
        Assert.Contains(h.Store.ReadBucket(Bucket.Lease), r => BinaryPrimitives.ReadInt64BigEndian(r.Key) == 2);
        Assert.Same(EtcdErrors.LeaseNotFound, h.InBatch(b => h.Lessor.Revoke(b, new LeaseRevokeRequest { ID = 1 })).Error);
    }

    [Fact]
    public void RevokingALeaseWithoutKeysMakesNoRevision()
    {
        using var h = new LessorHarness();
        h.Grant(9, 60);
        long before = h.Store.CurrentRevision;

        Assert.Equal(before, h.Revoke(9).Header.Revision);
        Assert.Equal(before, h.Store.CurrentRevision);
        Assert.Empty(h.LastChanges);
    }

    [Fact]
    public void APutMovesItsKeyBetweenLeasesAndDeletesOrPlainPutsDetach()
    {
        using var h = new LessorHarness();
        h.Grant(1, 60);
        h.Grant(2, 60);

        h.Put("k", "v", lease: 1);
        Assert.Equal(["k"], h.KeysOf(1));
        h.Put("k", "v2", lease: 2);
        Assert.Empty(h.KeysOf(1));
        Assert.Equal(["k"], h.KeysOf(2));
        Assert.Equal(2, h.Lessor.LeaseOf(ByteString.CopyFromUtf8("k")));

        h.Put("k", "v3"); // No lease: detached.
        Assert.Empty(h.KeysOf(2));

        h.Put("j", "v", lease: 2);
        h.Delete("j");
        Assert.Empty(h.KeysOf(2));

        // Revoking lease 1 now must not touch k, which left it.
        long before = h.Store.CurrentRevision;
        h.Revoke(1);
        Assert.Equal(before, h.Store.CurrentRevision);
        Assert.Single(h.Store.Range(KeyRange.Single(ByteString.CopyFromUtf8("k").Memory)).Kvs);
    }

    [Fact]
    public void IgnoreLeaseKeepsTheAttachmentAndATxnAttachesAndDetaches()
    {
        using var h = new LessorHarness();
        h.Grant(1, 60);
        h.Put("k", "v", lease: 1);
        LessorHarness.Must(h.InBatch(b => h.Kv.Put(b, new PutRequest { Key = ByteString.CopyFromUtf8("k"), Value = ByteString.CopyFromUtf8("w"), IgnoreLease = true })));
        Assert.Equal(["k"], h.KeysOf(1));

        var txn = new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8("t1"), Lease = 1 } },
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8("k") } },
            },
        };
        LessorHarness.Must(h.InBatch(b => h.Kv.Txn(b, txn)));
        Assert.Equal(["t1"], h.KeysOf(1));

        var unknown = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8("t2"), Lease = 77 } } } };
        Assert.Same(EtcdErrors.LeaseNotFound, h.InBatch(b => h.Kv.Txn(b, unknown)).Error);
    }

    [Fact]
    public void LeasesArePersistedInEtcdsEncodingAndRestoredWithTheirKeys()
    {
        using var h = new LessorHarness(minTtlSeconds: 2);
        h.Grant(0x0102030405060708, 30);
        h.Grant(5, 60);
        h.Put("a", "1", lease: 0x0102030405060708);
        h.Put("b", "2", lease: 5);
        h.Put("c", "3", lease: 5);

        List<KeyValuePair<byte[], byte[]>> rows = h.Store.ReadBucket(Bucket.Lease);
        KeyValuePair<byte[], byte[]> row = rows.Single(r => r.Key[7] == 0x08);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, row.Key);
        Assert.Equal(new LeaseRecord { ID = 0x0102030405060708, TTL = 30 }, LeaseRecord.Parser.ParseFrom(row.Value));

        h.Reopen();

        Assert.Equal(2, h.Lessor.Count);
        Assert.Equal(["a"], h.KeysOf(0x0102030405060708));
        Assert.Equal(["b", "c"], h.KeysOf(5));
        Assert.Equal(30, h.Lessor.Describe(0x0102030405060708)!.Value.TtlSeconds);
        long before = h.Store.CurrentRevision;
        h.Revoke(5);
        Assert.Equal(before + 1, h.Store.CurrentRevision);
        Assert.Equal(["b", "c"], h.LastChanges.Select(c => c.Kv.Key.ToStringUtf8()));
    }

    [Fact]
    public void CheckpointsRecordTheRemainingTtlDurably()
    {
        using var h = new LessorHarness();
        h.Grant(3, 100);
        h.InBatch(b => h.Lessor.Checkpoint(b, new LeaseCheckpointRequest
        {
            Checkpoints = { new LeaseCheckpoint { ID = 3, RemainingTTL = 42 }, new LeaseCheckpoint { ID = 99, RemainingTTL = 1 } },
        }));
        Assert.Equal(42, h.Lessor.Describe(3)!.Value.RemainingTtlSeconds);

        h.Reopen();

        Assert.Equal(42, h.Lessor.Describe(3)!.Value.RemainingTtlSeconds);
        Assert.Equal(100, h.Lessor.Describe(3)!.Value.TtlSeconds);
        Assert.False(h.Lessor.Exists(99));
    }

    [Fact]
    public void ARestoredLeaseIsRaisedToTodaysMinimumTtl()
    {
        using var h = new LessorHarness(minTtlSeconds: 2);
        h.Grant(3, 2);

        h.Reopen(minTtlSeconds: 8); // Restarted with a longer election timeout.

        Assert.Equal(8, h.Lessor.Describe(3)!.Value.TtlSeconds);
    }
}
