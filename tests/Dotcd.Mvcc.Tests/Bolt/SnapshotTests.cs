using System.Buffers.Binary;
using System.Text;
using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Bolt;
using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests.Bolt;

/// <summary>MvccStore.CreateSnapshot writes etcd's bbolt format; ImportBoltFile loads it back.</summary>
public sealed class SnapshotTests
{
    /// <summary>A store with history in every kind of bucket: puts, deletes, a compaction,
    /// consistent_index, a lease, an alarm and a member row.</summary>
    internal static TestStore StoreWithHistory(int keys = 60, bool alarm = true)
    {
        var t = new TestStore();
        for (int i = 0; i < keys; i++)
        {
            t.Put($"/registry/pods/p{i % 23:D3}", $"value {i} " + new string('x', i % 50), lease: i % 5 == 0 ? 0x1234 : 0);
        }
        t.Delete("/registry/pods/p003");
        t.Delete("/registry/pods/p01", "/registry/pods/p02");
        t.Store.Compact(keys / 2);
        t.Store.FinishCompaction();
        t.Put("/after/compaction", "yes");
        using (MvccStore.WriteBatch b = t.Store.BeginBatch())
        {
            b.SetConsistentIndex(4242);
            b.Put(Bucket.Lease, [0, 0, 0, 0, 0, 0, 0x12, 0x34], [8, 0x80, 1]);
            if (alarm)
            {
                b.Put(Bucket.Alarm, [8, 1, 16, 1], []); // AlarmMember{MemberID: 1, Alarm: NOSPACE}
            }
            b.Put(Bucket.Members, "8e9e05c52164694d"u8, "{\"id\":1}"u8);
            b.Commit();
        }
        return t;
    }

    internal static byte[] Snapshot(MvccStore store)
    {
        using BackendSnapshot snapshot = store.CreateSnapshot();
        using var copy = new MemoryStream();
        snapshot.Stream.CopyTo(copy);
        Assert.Equal(snapshot.Length, copy.Length);
        return copy.ToArray();
    }

    [Fact]
    public void SnapshotHoldsEveryEtcdBucketRowForRowAndNothingElse()
    {
        using TestStore t = StoreWithHistory();
        byte[] file = Snapshot(t.Store);

        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Empty(reader.Check());
        Assert.Equal(BoltFileTests.EtcdBuckets, reader.BucketNames().Select(Encoding.ASCII.GetString));
        foreach (Bucket bucket in Enum.GetValues<Bucket>())
        {
            List<KeyValuePair<byte[], byte[]>> expected = t.Store.ReadBucket(bucket);
            var actual = reader.ReadBucket(Encoding.ASCII.GetBytes(BucketName(bucket)))!.ToList();
            Assert.Equal(expected.Select(p => Convert.ToHexString(p.Key) + "=" + Convert.ToHexString(p.Value)),
                actual.Select(p => Convert.ToHexString(p.Key) + "=" + Convert.ToHexString(p.Value)));
        }
        byte[] ci = reader.ReadBucket("meta"u8)!.Single(p => p.Key.AsSpan().SequenceEqual("consistent_index"u8)).Value;
        Assert.Equal(4242ul, BinaryPrimitives.ReadUInt64BigEndian(ci));
    }

    [Fact]
    public void SnapshotReportsItsConsistentIndexAndLeavesNoFileBehind()
    {
        using TestStore t = StoreWithHistory();
        using (BackendSnapshot snapshot = t.Store.CreateSnapshot())
        {
            Assert.Equal(4242ul, snapshot.ConsistentIndex);
            Assert.Equal(0, snapshot.Stream.Position);
            Assert.Equal(0, snapshot.Length % 4096);
        }
        Assert.Empty(Directory.GetFiles(t.Directory, ".snapshot-*"));
    }

    [Fact]
    public void SnapshotIsTheStateWhenItWasTakenWhileWritesGoOn()
    {
        using TestStore t = StoreWithHistory();
        long revision = t.Store.CurrentRevision;
        using BackendSnapshot snapshot = t.Store.CreateSnapshot();
        t.Put("/later", "not in the snapshot");

        using var reader = BoltReader.Open(snapshot.Stream, leaveOpen: true);
        Assert.Equal(revision, SnapshotStatus.Of(reader).Revision);
    }

    [Fact]
    public void ImportOfASnapshotGivesTheSameStore()
    {
        using TestStore t = StoreWithHistory(keys: 400);
        byte[] file = Snapshot(t.Store);
        string boltPath = Path.Combine(t.Directory, "snap.bolt");
        File.WriteAllBytes(boltPath, file);
        string imported = Path.Combine(t.Directory, "imported.db");

        BoltImportResult result = MvccStore.ImportBoltFile(boltPath, imported);

        Assert.Equal(t.Store.CurrentRevision, result.Revision);
        Assert.Equal(t.Store.CompactRevision, result.CompactRevision);
        Assert.Equal(4242ul, result.ConsistentIndex);
        Assert.Empty(result.SkippedBuckets);
        using MvccStore copy = MvccStore.Open(imported, new MvccOptions { BackgroundCompaction = false });
        Assert.Equal(t.Store.HashKV(0), copy.HashKV(0));
        Assert.Equal(t.Store.HashKV(t.Store.CurrentRevision - 3), copy.HashKV(t.Store.CurrentRevision - 3));
        Assert.Equal(t.Store.Hash(), copy.Hash());
        Assert.Equal(t.Store.LiveKeyCount, copy.LiveKeyCount);
        foreach (long rev in new[] { 0L, t.Store.CompactRevision, t.Store.CurrentRevision - 2 })
        {
            Assert.Equal(
                string.Join(";", t.Prefix("/", rev).Kvs.Select(Describe)),
                string.Join(";", copy.Range(KeyRange.Between(M("/"), M("0")), new RangeOptions(Revision: rev)).Kvs.Select(Describe)));
        }
        Assert.Equal(t.Store.KeysWithLeases().Count, copy.KeysWithLeases().Count);
        copy.VerifyConsistency();

        // The imported store takes writes where the original left off.
        Assert.Equal(t.Store.CurrentRevision + 1, copy.Put(B("/new"), B("v")));
    }

    [Fact]
    public void ImportRefusesAnExistingTargetAndCleansUpAfterACorruptFile()
    {
        using var t = new TestStore();
        string garbage = Path.Combine(t.Directory, "garbage.bolt");
        File.WriteAllBytes(garbage, new byte[3 * 4096]);
        string target = Path.Combine(t.Directory, "target.db");

        Assert.Throws<BoltFormatException>(() => MvccStore.ImportBoltFile(garbage, target));
        Assert.False(File.Exists(target));
        Assert.Throws<IOException>(() => MvccStore.ImportBoltFile(garbage, t.DbPath));
    }

    private static string BucketName(Bucket bucket) => bucket switch
    {
        Bucket.AuthUsers => "authUsers",
        Bucket.AuthRoles => "authRoles",
        Bucket.MembersRemoved => "members_removed",
        _ => bucket.ToString().ToLowerInvariant(),
    };
}
