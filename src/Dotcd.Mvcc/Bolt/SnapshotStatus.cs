namespace Dotcd.Mvcc.Bolt;

/// <summary>What `etcdctl snapshot status` reports for an etcd database file.</summary>
/// <param name="Hash">CRC-32C over each bucket's name followed by its keys and values, in bbolt order.</param>
/// <param name="Revision">Main revision of the last row of the key bucket (0 without one).</param>
/// <param name="TotalKeys">Pairs in all buckets together.</param>
/// <param name="TotalSize">Bytes below the high water mark (bbolt's Tx.Size).</param>
public sealed record SnapshotStatus(uint Hash, long Revision, long TotalKeys, long TotalSize)
{
    /// <summary>Computes the status as etcdctl does, after bbolt's consistency check.</summary>
    public static SnapshotStatus Of(BoltReader reader)
    {
        IReadOnlyList<string> problems = reader.Check();
        if (problems.Count > 0)
        {
            throw new BoltFormatException($"snapshot file integrity check failed. {problems.Count} errors found.\n" + string.Join("\n", problems));
        }
        var crc = new Crc32C();
        long totalKeys = 0;
        long revision = 0;
        foreach ((byte[] name, IEnumerable<KeyValuePair<byte[], byte[]>> pairs) in reader.Buckets())
        {
            crc.Append(name);
            bool isKeyBucket = name.AsSpan().SequenceEqual("key"u8);
            foreach (KeyValuePair<byte[], byte[]> pair in pairs)
            {
                crc.Append(pair.Key);
                crc.Append(pair.Value);
                totalKeys++;
                if (isKeyBucket && pair.Key.Length >= RevisionBytes.Length)
                {
                    revision = RevisionBytes.Read(pair.Key).Main;
                }
            }
        }
        return new SnapshotStatus(crc.Value, revision, totalKeys, (long)reader.Meta.HighWaterMark * reader.PageSize);
    }
}
