using System.Buffers.Binary;
using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Bolt;
using Dotcd.Mvcc.Index;

namespace Dotcd.Mvcc;

public sealed partial class MvccStore
{
    // Pages returned to the file system per incremental vacuum step (4 MiB with 4 KiB pages).
    private const int VacuumStepPages = 1024;

    /// <summary>etcd's HashKV: CRC-32C over the key bucket rows of revisions up to rev, where rows
    /// at or below the compaction revision count only if they survive compaction (etcd's
    /// hashByRev). rev 0 means the current revision.</summary>
    /// <remarks>Rows still awaiting physical deletion are treated as deleted, so the hash does not
    /// depend on how far the background deletion got (etcd's equals it once its deletion ends).</remarks>
    public HashKvResult HashKV(long rev)
    {
        ThrowIfFailed();
        long currentRev = CurrentRevision;
        StoreConnection conn = RentReaderInternal();
        try
        {
            conn.BeginSnapshot();
            try
            {
                long compactRev;
                HashSet<Revision> keep;
                HashSet<Revision>? referenced = null;
                _indexLock.EnterReadLock();
                try
                {
                    compactRev = Volatile.Read(ref _compactMainRev);
                    if (rev > 0 && rev <= compactRev)
                    {
                        return new HashKvResult(MvccStatus.Compacted, 0, 0, compactRev);
                    }
                    if (rev > 0 && rev > currentRev)
                    {
                        return new HashKvResult(MvccStatus.FutureRevision, 0, currentRev, 0);
                    }
                    if (rev == 0)
                    {
                        rev = currentRev;
                    }
                    keep = _index.Keep(rev);
                    if (keep.Count == 0)
                    {
                        // etcd hashes every remaining row at or below the compaction revision when
                        // nothing is kept; after its deletion finished those are the rows the
                        // index still references.
                        referenced = _index.CollectAtOrBelow(compactRev);
                    }
                }
                finally
                {
                    _indexLock.ExitReadLock();
                }

                var crc = new Crc32C();
                crc.Append("key"u8);
                Span<byte> lower = stackalloc byte[RevisionBytes.Length];
                Span<byte> upper = stackalloc byte[RevisionBytes.Length];
                RevisionBytes.Write(lower, new Revision(0, 0));
                RevisionBytes.Write(upper, new Revision(rev + 1, 0));
                SqliteStatement scan = conn.ScanKeyRows;
                try
                {
                    scan.Bind(1, lower);
                    scan.Bind(2, upper);
                    while (scan.Step())
                    {
                        ReadOnlySpan<byte> k = scan.Blob(0);
                        Revision kr = RevisionBytes.Read(k);
                        if (kr.Main <= compactRev && !(referenced ?? keep).Contains(kr))
                        {
                            continue;
                        }
                        crc.Append(k);
                        crc.Append(scan.Blob(1));
                    }
                }
                finally
                {
                    scan.Reset();
                }
                return new HashKvResult(MvccStatus.Ok, crc.Value, currentRev, compactRev);
            }
            finally
            {
                conn.EndSnapshot();
            }
        }
        finally
        {
            ReturnReaderInternal(conn);
        }
    }

    /// <summary>etcd's backend Hash: CRC-32C over every bucket name and row in bbolt order,
    /// skipping consistent_index. Unlike HashKV it sees rows awaiting physical compaction.</summary>
    public uint Hash()
    {
        ThrowIfFailed();
        StoreConnection conn = RentReaderInternal();
        try
        {
            conn.BeginSnapshot();
            try
            {
                var crc = new Crc32C();
                foreach (Bucket bucket in Buckets.InBoltOrder)
                {
                    crc.Append(System.Text.Encoding.ASCII.GetBytes(Buckets.Name(bucket)));
                    SqliteStatement scan = conn.BucketScan(bucket);
                    try
                    {
                        while (scan.Step())
                        {
                            ReadOnlySpan<byte> k = scan.Blob(0);
                            if (bucket == Bucket.Meta && k.SequenceEqual(MetaKeys.ConsistentIndex))
                            {
                                continue;
                            }
                            crc.Append(k);
                            crc.Append(scan.Blob(1));
                        }
                    }
                    finally
                    {
                        scan.Reset();
                    }
                }
                return crc.Value;
            }
            finally
            {
                conn.EndSnapshot();
            }
        }
        finally
        {
            ReturnReaderInternal(conn);
        }
    }

    /// <summary>Committed rows of a bucket in key order (lease, auth and membership state at start).</summary>
    public List<KeyValuePair<byte[], byte[]>> ReadBucket(Bucket bucket)
    {
        ThrowIfFailed();
        var rows = new List<KeyValuePair<byte[], byte[]>>();
        StoreConnection conn = RentReaderInternal();
        try
        {
            SqliteStatement scan = conn.BucketScan(bucket);
            try
            {
                while (scan.Step())
                {
                    rows.Add(new(scan.Blob(0).ToArray(), scan.Blob(1).ToArray()));
                }
            }
            finally
            {
                scan.Reset();
            }
        }
        finally
        {
            ReturnReaderInternal(conn);
        }
        return rows;
    }

    /// <summary>Returns free pages to the file system while the store stays online: each step
    /// holds the writer briefly, readers never wait. Then truncates the SQLite WAL.</summary>
    public void Defragment()
    {
        ThrowIfFailed();
        bool incremental;
        _writerGate.Wait();
        try
        {
            incremental = _writer.Db.QueryInt64("PRAGMA auto_vacuum") == 2;
            if (!incremental)
            {
                // A backend created elsewhere: one full VACUUM converts it (readers keep their
                // WAL snapshots; writes wait for this run only).
                _writer.Db.Execute("PRAGMA auto_vacuum = INCREMENTAL");
                _writer.Db.Execute("VACUUM");
            }
        }
        finally
        {
            _writerGate.Release();
        }
        while (true)
        {
            _writerGate.Wait();
            try
            {
                ThrowIfFailed();
                if (_writer.ReadPragma(_writer.FreelistCount) == 0)
                {
                    _writer.Db.QueryInt64("PRAGMA wal_checkpoint(TRUNCATE)");
                    RefreshSize();
                    return;
                }
                _writer.Db.Execute($"PRAGMA incremental_vacuum({VacuumStepPages})");
                RefreshSize();
            }
            finally
            {
                _writerGate.Release();
            }
        }
    }

    /// <summary>Makes every committed batch durable in the backend files (a WAL checkpoint syncs
    /// the SQLite WAL first). Call before releasing raft log entries up to ConsistentIndex.</summary>
    public void Sync()
    {
        ThrowIfFailed();
        _writerGate.Wait();
        try
        {
            _writer.Db.QueryInt64("PRAGMA wal_checkpoint(PASSIVE)");
        }
        finally
        {
            _writerGate.Release();
        }
    }

    /// <summary>A consistent copy of the backend as an etcd (bbolt) database file, the format of
    /// etcd's Maintenance.Snapshot: every etcd bucket from one read snapshot, written to a
    /// temporary file beside the backend that the stream deletes when disposed.</summary>
    /// <remarks>dotcd_latest is left out: it is derived from "key" and rebuilt when a store is
    /// opened from an import. The apply loop keeps writing meanwhile (SQLite WAL snapshot).</remarks>
    public BackendSnapshot CreateSnapshot()
    {
        ThrowIfFailed();
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_path))!;
        string file = System.IO.Path.Combine(directory, $".snapshot-{Guid.NewGuid():N}.bolt");
        var stream = new FileStream(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete,
            bufferSize: 1 << 16, FileOptions.DeleteOnClose);
        try
        {
            ulong consistentIndex = 0;
            StoreConnection conn = RentReaderInternal();
            try
            {
                conn.BeginSnapshot();
                try
                {
                    var writer = new BoltWriter(stream);
                    foreach (Bucket bucket in Buckets.InBoltOrder)
                    {
                        writer.BeginBucket(System.Text.Encoding.ASCII.GetBytes(Buckets.Name(bucket)));
                        SqliteStatement scan = conn.BucketScan(bucket);
                        try
                        {
                            while (scan.Step())
                            {
                                ReadOnlySpan<byte> k = scan.Blob(0);
                                ReadOnlySpan<byte> v = scan.Blob(1);
                                if (bucket == Bucket.Meta && k.SequenceEqual(MetaKeys.ConsistentIndex) && v.Length == 8)
                                {
                                    consistentIndex = BinaryPrimitives.ReadUInt64BigEndian(v);
                                }
                                writer.Add(k, v);
                            }
                        }
                        finally
                        {
                            scan.Reset();
                        }
                        writer.EndBucket();
                    }
                    writer.Complete();
                }
                finally
                {
                    conn.EndSnapshot();
                }
            }
            finally
            {
                ReturnReaderInternal(conn);
            }
            stream.Position = 0;
            return new BackendSnapshot(stream, consistentIndex);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Creates a new backend at dataPath from an etcd (bbolt) database or snapshot file:
    /// the rows of every etcd bucket are copied as they are, then the store is opened once to
    /// rebuild the key index and dotcd's derived tables (what a restore needs).</summary>
    /// <remarks>Buckets etcd's model does not have are skipped and named in the result. A trailing
    /// sha256 (etcdctl's saved files) is ignored; checking it is the caller's job.</remarks>
    public static BoltImportResult ImportBoltFile(string boltFile, string dataPath)
    {
        if (File.Exists(dataPath))
        {
            throw new IOException($"{dataPath} already exists; import makes a fresh backend");
        }
        try
        {
            using BoltReader reader = BoltReader.Open(boltFile);
            // Open creates the file with the store's pragmas (auto_vacuum, WAL) and schema.
            MvccStore.Open(dataPath, new MvccOptions { BackgroundCompaction = false }).Dispose();
            var skipped = new List<string>();
            long pairs = 0;
            using (SqliteDb db = SqliteDb.Open(dataPath))
            {
                db.Execute("BEGIN");
                foreach ((byte[] name, IEnumerable<KeyValuePair<byte[], byte[]>> rows) in reader.Buckets())
                {
                    string bucketName = System.Text.Encoding.ASCII.GetString(name);
                    Bucket? bucket = Buckets.All.Where(b => Buckets.Name(b) == bucketName).Select(b => (Bucket?)b).FirstOrDefault();
                    if (bucket is null)
                    {
                        skipped.Add(bucketName);
                        continue;
                    }
                    using var insert = new SqliteStatement(db, $"INSERT INTO \"{bucketName}\" (k, v) VALUES (?1, ?2)");
                    foreach (KeyValuePair<byte[], byte[]> row in rows)
                    {
                        insert.Bind(1, row.Key);
                        insert.Bind(2, row.Value);
                        insert.Execute();
                        pairs++;
                    }
                }
                db.Execute("COMMIT");
            }
            using MvccStore store = MvccStore.Open(dataPath, new MvccOptions { BackgroundCompaction = false });
            return new BoltImportResult(store.CurrentRevision, store.CompactRevision, store.ConsistentIndex, pairs, skipped);
        }
        catch
        {
            foreach (string suffix in (string[])["", "-wal", "-shm"])
            {
                File.Delete(dataPath + suffix);
            }
            throw;
        }
    }
}

/// <summary>What <see cref="MvccStore.ImportBoltFile"/> loaded.</summary>
public sealed record BoltImportResult(long Revision, long CompactRevision, ulong ConsistentIndex, long Pairs, IReadOnlyList<string> SkippedBuckets);

/// <summary>A consistent backend copy: an etcd (bbolt) database file, positioned at its start
/// (read it with <see cref="BoltReader"/>, load it with <see cref="MvccStore.ImportBoltFile"/>),
/// and the raft index it reflects.</summary>
public sealed record BackendSnapshot(FileStream Stream, ulong ConsistentIndex) : IDisposable
{
    public long Length => Stream.Length;

    public void Dispose() => Stream.Dispose();
}

public sealed partial class MvccStore
{
    /// <summary>Rows in the key bucket (tests: physical compaction progress).</summary>
    internal long KeyRowCount()
    {
        _writerGate.Wait();
        try
        {
            return _writer.Db.QueryInt64("SELECT count(*) FROM \"key\"");
        }
        finally
        {
            _writerGate.Release();
        }
    }
}

public sealed partial class MvccStore
{
    /// <summary>Every live key that has a lease, from the committed state: the lessor re-attaches
    /// them at start (etcd's restore builds the same keyToLease map).</summary>
    public List<(byte[] Key, long Lease)> KeysWithLeases()
    {
        ThrowIfFailed();
        var result = new List<(byte[], long)>();
        StoreConnection conn = RentReaderInternal();
        try
        {
            using var scan = new SqliteStatement(conn.Db, $"SELECT v FROM {Buckets.LatestTable} ORDER BY k");
            while (scan.Step())
            {
                KeyValueFields kv = KeyValueFields.Parse(scan.Blob(0));
                if (kv.Lease != 0)
                {
                    result.Add((kv.Key.ToArray(), kv.Lease));
                }
            }
        }
        finally
        {
            ReturnReaderInternal(conn);
        }
        return result;
    }

    /// <summary>O(n) check that the latest table and the key index agree (tests, verify mode).</summary>
    internal void VerifyConsistency()
    {
        _writerGate.Wait();
        try
        {
            var live = _index.LiveKeys().ToList();
            long rows = _writer.Db.QueryInt64($"SELECT count(*) FROM {Buckets.LatestTable}");
            if (rows != live.Count)
            {
                throw new InvalidDataException($"latest table has {rows} rows for {live.Count} live keys");
            }
            foreach (KeyIndex ki in live)
            {
                if (LatestRowRevision(ki.Key) != ki.Modified)
                {
                    throw new InvalidDataException($"latest row of a key disagrees with its index revision {ki.Modified}");
                }
            }
        }
        finally
        {
            _writerGate.Release();
        }
    }
}
