using System.Buffers.Binary;
using System.Collections.Concurrent;
using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Index;

namespace Dotcd.Mvcc;

/// <summary>etcd's multi-version key-value store on a SQLite backend.</summary>
/// <remarks>
/// One apply thread writes through <see cref="BeginBatch"/>: many write txns per SQLite
/// transaction, committed together with consistent_index. Any thread reads: reads see the state
/// of the last <see cref="WriteBatch.Commit"/>, so the server publishes its applied index only
/// after committing. Readers use their own SQLite connections (WAL snapshots) and never wait for
/// the writer except for short index lock sections.
/// </remarks>
public sealed partial class MvccStore : IDisposable
{
    private readonly string _path;
    private readonly MvccOptions _options;
    private readonly StoreConnection _writer;
    private readonly ConcurrentBag<StoreConnection> _readers = [];
    private readonly List<StoreConnection> _allReaders = [];   // Guarded by itself; closed on Dispose.
    private readonly SemaphoreSlim _writerGate = new(1, 1);    // Held by an open batch, a compaction step or a defrag step.

    // The key index; readers take the read lock to walk it, the apply thread the write lock to change it.
    private readonly ReaderWriterLockSlim _indexLock = new(LockRecursionPolicy.NoRecursion);
    private readonly TreeIndex _index = new();

    // Apply-thread state, guarded by _writerGate.
    private long _currentRev;        // Newest revision written, committed or not. Invariant: _committedRev <= _currentRev.
    private long _writerCompactRev;  // Compaction revision including compactions of the open batch.
    private WriteBatch? _openBatch;
    private bool _failed;            // A batch died half-applied: index and backend may disagree.
    private readonly long _pageSize;

    // Published state: written by the apply thread after a commit, read lock-free.
    private long _committedRev;      // Newest revision committed to SQLite and visible to readers.
    private long _compactMainRev;    // Reads below it fail with Compacted; -1 when never compacted.
    private long _consistentIndex;   // ulong stored as long bits.
    private long _sizeBytes;
    private long _sizeInUseBytes;
    private bool _disposed;

    private MvccStore(string path, MvccOptions options, StoreConnection writer, long pageSize)
    {
        _path = path;
        _options = options;
        _writer = writer;
        _pageSize = pageSize;
    }

    /// <summary>Opens (or creates) the store at path and rebuilds the key index from the backend.</summary>
    public static MvccStore Open(string path, MvccOptions? options = null)
    {
        options ??= new MvccOptions();
        SqliteDb db = SqliteDb.Open(path);
        StoreConnection? writer = null;
        try
        {
            if (db.QueryInt64("PRAGMA page_count") == 0)
            {
                // Must precede the first table: lets Defragment return free pages to the file system
                // in small steps (PRAGMA incremental_vacuum) instead of one stop-the-world VACUUM.
                db.Execute("PRAGMA auto_vacuum = INCREMENTAL");
            }
            string mode = db.QueryText("PRAGMA journal_mode = WAL");
            if (!mode.Equals("wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new SqliteFailureException($"cannot put {path} in WAL journal mode (got {mode})", 0);
            }
            // The raft WAL is the durability point; SQLite only needs to stay consistent.
            db.Execute("PRAGMA synchronous = NORMAL");
            db.Execute("BEGIN");
            foreach (string ddl in Buckets.Schema)
            {
                db.Execute(ddl);
            }
            db.Execute("COMMIT");
            writer = new StoreConnection(db);
            var store = new MvccStore(path, options, writer, db.QueryInt64("PRAGMA page_size"));
            store.Restore();
            if (options.BackgroundCompaction)
            {
                store.StartCompactionWorker();
            }
            return store;
        }
        catch
        {
            if (writer is not null)
            {
                writer.Dispose();
            }
            else
            {
                db.Dispose();
            }
            throw;
        }
    }

    /// <summary>Path of the backend file.</summary>
    public string Path => _path;

    /// <summary>The newest committed revision (what reads at revision 0 see).</summary>
    public long CurrentRevision => Volatile.Read(ref _committedRev);

    /// <summary>The compaction revision; -1 when the store was never compacted (etcd's compactMainRev).</summary>
    public long CompactRevision => Volatile.Read(ref _compactMainRev);

    /// <summary>Index of the last raft entry whose effects are committed in the backend.</summary>
    public ulong ConsistentIndex => (ulong)Volatile.Read(ref _consistentIndex);

    /// <summary>Backend size in bytes (page_count * page_size), for --quota-backend-bytes and Status.</summary>
    public long SizeBytes => Volatile.Read(ref _sizeBytes);

    /// <summary>Bytes of pages holding data ((page_count - freelist_count) * page_size).</summary>
    public long SizeInUseBytes => Volatile.Read(ref _sizeInUseBytes);

    /// <summary>Number of keys alive at the newest revision (index walk; for metrics and tests).</summary>
    public int LiveKeyCount
    {
        get
        {
            _indexLock.EnterReadLock();
            try
            {
                return _index.LiveKeys().Count();
            }
            finally
            {
                _indexLock.ExitReadLock();
            }
        }
    }

    // Rebuilds the key index from the key bucket (etcd's store.restore) and resumes an
    // unfinished compaction.
    private void Restore()
    {
        byte[]? finished = _writer.Get(Bucket.Meta, MetaKeys.FinishedCompactRevision);
        byte[]? scheduled = _writer.Get(Bucket.Meta, MetaKeys.ScheduledCompactRevision);
        byte[]? ci = _writer.Get(Bucket.Meta, MetaKeys.ConsistentIndex);
        long compactMainRev = finished is { Length: >= RevisionBytes.Length } ? RevisionBytes.Read(finished).Main : -1;
        long scheduledRev = scheduled is { Length: >= RevisionBytes.Length } ? RevisionBytes.Read(scheduled).Main : 0;
        _consistentIndex = ci is { Length: 8 } ? (long)BinaryPrimitives.ReadUInt64BigEndian(ci) : 0;

        long currentRev = 1;
        using var scan = new SqliteStatement(_writer.Db, "SELECT k, v FROM \"key\" ORDER BY k");
        try
        {
            while (scan.Step())
            {
                ReadOnlySpan<byte> k = scan.Blob(0);
                Revision rev = RevisionBytes.Read(k);
                bool tombstone = RevisionBytes.IsTombstone(k);
                KeyValueFields kv = KeyValueFields.Parse(scan.Blob(1));
                KeyIndex? ki = _index.GetKeyIndex(kv.Key);
                if (ki is not null)
                {
                    if (tombstone)
                    {
                        ki.Tombstone(rev);
                    }
                    else
                    {
                        ki.Put(rev);
                    }
                }
                else if (!tombstone)
                {
                    ki = new KeyIndex(kv.Key.ToArray());
                    ki.Restore(new Revision(kv.CreateRevision, 0), rev, kv.Version);
                    _index.Insert(ki);
                }
                currentRev = rev.Main;
            }
        }
        finally
        {
            scan.Reset();
        }

        if (currentRev < compactMainRev)
        {
            currentRev = compactMainRev;
        }
        _currentRev = currentRev;
        _committedRev = currentRev;
        _compactMainRev = compactMainRev;
        _writerCompactRev = compactMainRev;

        RepairLatestTable();

        if (scheduledRev != 0 && scheduledRev > compactMainRev)
        {
            // A compaction was applied but its physical deletion did not finish: redo it.
            _compactMainRev = scheduledRev;
            _writerCompactRev = scheduledRev;
            List<CompactedRevision> garbage = _index.Compact(scheduledRev);
            EnqueuePhysicalCompaction(scheduledRev, garbage, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        RefreshSize();
    }

    // The latest table is derived from the key bucket; if they disagree (a snapshot made by
    // another tool, or a crash of an older format), rebuild it from the index.
    private void RepairLatestTable()
    {
        long rows = _writer.Db.QueryInt64($"SELECT count(*) FROM {Buckets.LatestTable}");
        var live = _index.LiveKeys().ToList();
        bool consistent = rows == live.Count;
        if (consistent && live.Count > 0)
        {
            // Spot-check the newest key: its latest row must carry the index's revision.
            consistent = LatestRowRevision(live[^1].Key) == live[^1].Modified;
        }
        if (consistent)
        {
            return;
        }
        _writer.Begin.Execute();
        _writer.Db.Execute($"DELETE FROM {Buckets.LatestTable}");
        Span<byte> revKey = stackalloc byte[RevisionBytes.Length];
        foreach (KeyIndex ki in live)
        {
            RevisionBytes.Write(revKey, ki.Modified);
            SqliteStatement get = _writer.GetByRevision;
            try
            {
                get.Bind(1, revKey);
                if (!get.Step())
                {
                    throw new InvalidDataException($"key bucket lacks revision {ki.Modified} of a live key");
                }
                SqliteStatement up = _writer.UpsertLatest;
                up.Bind(1, ki.Key);
                up.Bind(2, ki.Modified.Main);
                up.Bind(3, ki.Modified.Sub);
                up.Bind(4, get.Blob(0));
                up.Execute();
            }
            finally
            {
                get.Reset();
            }
        }
        _writer.Commit.Execute();
    }

    private Revision? LatestRowRevision(byte[] key)
    {
        using SqliteStatement s = new(_writer.Db, $"SELECT main, sub FROM {Buckets.LatestTable} WHERE k = ?1");
        s.Bind(1, key);
        return s.Step() ? new Revision(s.Int64(0), s.Int64(1)) : null;
    }

    private void RefreshSize()
    {
        long pages = _writer.ReadPragma(_writer.PageCount);
        long free = _writer.ReadPragma(_writer.FreelistCount);
        Volatile.Write(ref _sizeBytes, pages * _pageSize);
        Volatile.Write(ref _sizeInUseBytes, (pages - free) * _pageSize);
    }

    internal StoreConnection RentReaderInternal()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_readers.TryTake(out StoreConnection? c))
        {
            return c;
        }
        SqliteDb db = SqliteDb.Open(_path);
        db.Execute("PRAGMA query_only = 1");
        c = new StoreConnection(db);
        lock (_allReaders)
        {
            _allReaders.Add(c);
        }
        return c;
    }

    internal void ReturnReaderInternal(StoreConnection c)
    {
        if (_disposed)
        {
            return;
        }
        _readers.Add(c);
    }

    private void ThrowIfFailed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failed)
        {
            throw new InvalidOperationException("the store is unusable: a write batch failed half-applied");
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        StopCompactionWorker();
        FailPendingCompactions(null);
        _writerGate.Wait();
        _disposed = true;
        lock (_allReaders)
        {
            foreach (StoreConnection c in _allReaders)
            {
                c.Dispose();
            }
            _allReaders.Clear();
        }
        _writer.Dispose();
        _indexLock.Dispose();
        _writerGate.Release();
    }
}
