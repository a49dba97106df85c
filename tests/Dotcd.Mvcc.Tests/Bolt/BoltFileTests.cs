using System.Buffers.Binary;
using System.Text;
using Dotcd.Mvcc.Bolt;

namespace Dotcd.Mvcc.Tests.Bolt;

/// <summary>Our bbolt writer and reader against each other, and the reader against damaged files.</summary>
public sealed class BoltFileTests
{
    internal static readonly string[] EtcdBuckets =
        ["alarm", "auth", "authRoles", "authUsers", "cluster", "key", "lease", "members", "members_removed", "meta"];

    internal static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    internal static byte[] Write(IEnumerable<(string Name, IEnumerable<(byte[] Key, byte[] Value)> Pairs)> buckets, int pageSize = 4096)
    {
        using var output = new MemoryStream();
        var writer = new BoltWriter(output, pageSize);
        foreach ((string name, IEnumerable<(byte[] Key, byte[] Value)> pairs) in buckets)
        {
            writer.BeginBucket(B(name));
            foreach ((byte[] k, byte[] v) in pairs)
            {
                writer.Add(k, v);
            }
            writer.EndBucket();
        }
        long length = writer.Complete();
        Assert.Equal(length, output.Length);
        return output.ToArray();
    }

    internal static Dictionary<string, List<(byte[] Key, byte[] Value)>> ReadAll(byte[] file)
    {
        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Empty(reader.Check());
        return reader.Buckets().ToDictionary(b => Encoding.UTF8.GetString(b.Name), b => b.Pairs.Select(p => (p.Key, p.Value)).ToList());
    }

    private static void AssertSamePairs(IEnumerable<(byte[] Key, byte[] Value)> expected, IEnumerable<(byte[] Key, byte[] Value)> actual)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++)
        {
            Assert.True(e[i].Key.AsSpan().SequenceEqual(a[i].Key), $"key {i} differs");
            Assert.True(e[i].Value.AsSpan().SequenceEqual(a[i].Value), $"value {i} differs");
        }
    }

    private static IEnumerable<(byte[], byte[])> RevisionKeys(int count, int valueBytes)
    {
        for (int i = 1; i <= count; i++)
        {
            byte[] key = RevisionBytes.ToBytes(new Revision(i, 0));
            byte[] value = new byte[valueBytes];
            BinaryPrimitives.WriteInt32BigEndian(value, i);
            value.AsSpan(4).Fill((byte)i);
            yield return (key, value);
        }
    }

    [Fact]
    public void EmptyBucketsRoundTripInlineInOneFileOfFourPagesAndTheRoot()
    {
        byte[] file = Write(EtcdBuckets.Select(n => (n, Enumerable.Empty<(byte[], byte[])>())));

        Dictionary<string, List<(byte[], byte[])>> read = ReadAll(file);
        Assert.Equal(EtcdBuckets, read.Keys);
        Assert.All(read.Values, Assert.Empty);
        // Metas, freelist and one root leaf holding every bucket inline: nothing else.
        Assert.Equal(4 * 4096, file.Length);
    }

    [Fact]
    public void EveryEtcdBucketRoundTripsWhatever()
    {
        var buckets = EtcdBuckets.Select((name, i) => (name, Enumerable.Range(0, 10 + (i * 7))
            .Select(j => (B($"{name}/{j:D5}"), B(new string((char)('a' + (j % 26)), j % 300))))
            .ToList())).ToList();
        byte[] file = Write(buckets.Select(b => (b.name, (IEnumerable<(byte[], byte[])>)b.Item2)));

        Dictionary<string, List<(byte[], byte[])>> read = ReadAll(file);
        Assert.Equal(EtcdBuckets, read.Keys);
        foreach ((string name, List<(byte[], byte[])> pairs) in buckets)
        {
            AssertSamePairs(pairs, read[name]);
        }
    }

    [Fact]
    public void ManyKeysBuildBranchPagesOverSeveralLevels()
    {
        // 20,000 revisions of 100-byte values: about 600 leaves, two levels of branches above.
        byte[] file = Write([("key", RevisionKeys(20_000, 100))]);

        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Empty(reader.Check());
        AssertSamePairs(RevisionKeys(20_000, 100), reader.ReadBucket("key"u8)!.Select(p => (p.Key, p.Value)));
        Assert.True(TreeDepth(file, BucketRoot(file, "key")) >= 3, "expected leaves, and two branch levels");
    }

    [Fact]
    public void LargeValuesUseOverflowPages()
    {
        var pairs = new List<(byte[], byte[])>
        {
            (B("a"), new byte[10]),
            (B("big"), Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray()),
            (B("bigger"), Enumerable.Range(0, 1_500_000).Select(i => (byte)(i * 7)).ToArray()),
            (B("z"), B("small")),
        };
        byte[] file = Write([("key", pairs), ("meta", [(B("consistent_index"), new byte[8])])]);

        Dictionary<string, List<(byte[], byte[])>> read = ReadAll(file);
        AssertSamePairs(pairs, read["key"]);
        Assert.True(file.Length > 1_600_000);
        bool sawOverflow = false;
        for (int id = 2; id < file.Length / 4096; id++)
        {
            sawOverflow |= BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((id * 4096) + 12)) > 0;
        }
        Assert.True(sawOverflow, "no page has overflow pages");
    }

    [Fact]
    public void ManyBucketsSpreadTheRootBucketOverSeveralPagesInlineOrNot()
    {
        // Bucket i holds i pairs of 40 bytes: the small ones are inline values of the root
        // bucket (up to a quarter page each), the big ones have root pages of their own.
        var buckets = Enumerable.Range(0, 120)
            .Select(i => ($"bucket{i:D3}", Enumerable.Range(0, i).Select(j => (B($"k{j:D4}"), new byte[35])).ToList()))
            .ToList();
        byte[] file = Write(buckets.Select(b => (b.Item1, (IEnumerable<(byte[], byte[])>)b.Item2)));

        Dictionary<string, List<(byte[], byte[])>> read = ReadAll(file);
        Assert.Equal(buckets.Select(b => b.Item1), read.Keys);
        foreach ((string name, List<(byte[], byte[])> pairs) in buckets)
        {
            AssertSamePairs(pairs, read[name]);
        }
        using var reader = BoltReader.Open(new MemoryStream(file));
        ushort rootFlags = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(((int)reader.Meta.RootPage * 4096) + 8));
        Assert.Equal(0x01, rootFlags); // The root bucket's root is a branch page.
    }

    [Theory]
    [InlineData(512)]
    [InlineData(16384)]
    public void OtherPageSizesRoundTrip(int pageSize)
    {
        byte[] file = Write([("key", RevisionKeys(3000, 40)), ("lease", [(B("x"), B("y"))])], pageSize);

        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Equal(pageSize, reader.PageSize);
        Assert.Empty(reader.Check());
        AssertSamePairs(RevisionKeys(3000, 40), reader.ReadBucket("key"u8)!.Select(p => (p.Key, p.Value)));
    }

    [Fact]
    public void MetaPagesCarryMagicVersionChecksumAndTheHighWaterMark()
    {
        byte[] file = Write([("key", RevisionKeys(500, 50))]);

        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Equal(4096u, reader.Meta.PageSize);
        Assert.Equal((ulong)(file.Length / 4096), reader.Meta.HighWaterMark);
        Assert.Equal(2ul, reader.Meta.FreelistPage);
        Assert.Empty(reader.ReadFreelist());
        Assert.Equal(0xED0CDAEDu, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));

        // A damaged meta 0 is survived through meta 1, as bbolt does.
        file[16 + 40] ^= 0x01;
        using var fallback = BoltReader.Open(new MemoryStream(file));
        Assert.Equal(500, fallback.ReadBucket("key"u8)!.Count());
    }

    [Fact]
    public void WriterRefusesUnsortedDuplicateAndEmptyKeys()
    {
        var writer = new BoltWriter(new MemoryStream());
        writer.BeginBucket("key"u8);
        writer.Add("b"u8, "1"u8);
        Assert.Throws<ArgumentException>(() => writer.Add("a"u8, "2"u8));
        Assert.Throws<ArgumentException>(() => writer.Add("b"u8, "2"u8));
        Assert.Throws<ArgumentException>(() => writer.Add(ReadOnlySpan<byte>.Empty, "2"u8));
        writer.EndBucket();
        Assert.Throws<ArgumentException>(() => writer.BeginBucket("key"u8));
    }

    [Fact]
    public void GarbageIsRefusedWithAClearError()
    {
        var random = new Random(7);
        foreach (int length in new[] { 0, 10, 100, 4096, 8192, 65536 })
        {
            byte[] garbage = new byte[length];
            random.NextBytes(garbage);
            BoltFormatException e = Assert.Throws<BoltFormatException>(() => BoltReader.Open(new MemoryStream(garbage)));
            Assert.Contains("bbolt file", e.Message);
        }
        // A SQLite file (what dotcd snapshots were before) is no bbolt file either.
        byte[] sqlite = new byte[8192];
        "SQLite format 3\0"u8.CopyTo(sqlite);
        Assert.Contains("bad magic", Assert.Throws<BoltFormatException>(() => BoltReader.Open(new MemoryStream(sqlite))).Message);
    }

    [Fact]
    public void CheckFindsAPageNeitherReachableNorFreeAsBboltDoes()
    {
        byte[] good = Write([("key", RevisionKeys(100, 50))]);
        // One more page below a raised high water mark, in both metas (checksums redone).
        byte[] file = [.. good, .. new byte[4096]];
        ulong hwm = (ulong)(file.Length / 4096);
        foreach (int meta in new[] { 16, 4096 + 16 })
        {
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(meta + 40), hwm);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(meta + 56), BoltFormat.Fnv64a(file.AsSpan(meta, 56)));
        }

        using var reader = BoltReader.Open(new MemoryStream(file));
        Assert.Equal([$"page {hwm - 1}: unreachable unfreed"], reader.Check());
        Assert.Contains("integrity check failed", Assert.Throws<BoltFormatException>(() => SnapshotStatus.Of(reader)).Message);
    }

    [Fact]
    public void TruncatedFileIsRefusedWithAClearError()
    {
        byte[] file = Write([("key", RevisionKeys(2000, 100))]);

        BoltFormatException e = Assert.Throws<BoltFormatException>(() => BoltReader.Open(new MemoryStream(file[..(file.Length / 2)])));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void RandomlyDamagedPagesEndInAnErrorOrValidPairsNeverAHangOrCrash()
    {
        byte[] original = Write([("key", RevisionKeys(3000, 60)), ("meta", [(B("consistent_index"), new byte[8])])]);
        var random = new Random(11);
        int errors = 0;
        for (int round = 0; round < 300; round++)
        {
            byte[] file = (byte[])original.Clone();
            for (int flips = 0; flips < 1 + (round % 8); flips++)
            {
                // Damage data pages (2..): headers and elements are where the structure lives.
                int page = random.Next(2, file.Length / 4096);
                int offset = (page * 4096) + (random.Next(3) == 0 ? random.Next(16) : random.Next(16, 4096));
                file[offset] = (byte)random.Next(256);
            }
            try
            {
                using var reader = BoltReader.Open(new MemoryStream(file));
                reader.Check();
                foreach ((byte[] _, IEnumerable<KeyValuePair<byte[], byte[]>> pairs) in reader.Buckets())
                {
                    foreach (KeyValuePair<byte[], byte[]> _ in pairs)
                    {
                    }
                }
            }
            catch (BoltFormatException)
            {
                errors++;
            }
        }
        Assert.True(errors > 50, $"only {errors} of 300 damaged files were noticed");
    }

    internal static ulong BucketRoot(byte[] file, string name)
    {
        using var reader = BoltReader.Open(new MemoryStream(file));
        // The root bucket is one leaf here: find the element named name and read its root pgid.
        int rootPage = (int)reader.Meta.RootPage * 4096;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(rootPage + 10));
        for (int i = 0; i < count; i++)
        {
            int at = rootPage + 16 + (i * 16);
            int pos = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4));
            int ksize = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 8));
            if (Encoding.ASCII.GetString(file, at + pos, ksize) == name)
            {
                return BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(at + pos + ksize));
            }
        }
        throw new InvalidOperationException($"no bucket {name}");
    }

    private static int TreeDepth(byte[] file, ulong page)
    {
        int depth = 1;
        while ((BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(((int)page * 4096) + 8)) & 0x01) != 0)
        {
            page = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(((int)page * 4096) + 16 + 8));
            depth++;
        }
        return depth;
    }
}
