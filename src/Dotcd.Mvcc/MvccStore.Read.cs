using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Index;
using Google.Protobuf;

namespace Dotcd.Mvcc;

public sealed partial class MvccStore
{
    // Below this many results, point lookups by revision beat an ordered scan of the latest table.
    private const int ScanThreshold = 8;

    /// <summary>Reads a range at the committed state (a one-shot <see cref="ReadTxn"/>).</summary>
    public RangeResult Range(in KeyRange range, RangeOptions options = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            using ReadTxn txn = BeginRead();
            RangeResult result = txn.Range(range, options);
            // A compaction above the snapshot revision may commit between picking the revision and
            // checking it; a read of "the newest revision" then simply retries at the new one.
            if (result.Status != MvccStatus.Compacted || options.Revision > 0 || attempt == 3)
            {
                return result;
            }
        }
    }

    /// <summary>Opens a consistent read view at the committed revision (for read-only txns and
    /// multi-step reads). Dispose it promptly: it pins a SQLite snapshot.</summary>
    public ReadTxn BeginRead()
    {
        ThrowIfFailed();
        return new ReadTxn(this);
    }

    // Reads [range] at options.Revision (or curRev) through conn. The caller guarantees conn sees
    // every row up to curRev. writerView: the apply thread reading inside its batch (no index lock
    // needed, it is the only mutator; compaction as the batch sees it).
    internal RangeResult RangeCore(StoreConnection conn, in KeyRange range, RangeOptions options, long curRev, bool writerView)
    {
        long rev = options.Revision;
        if (rev > curRev)
        {
            return RangeResult.Failed(MvccStatus.FutureRevision, curRev);
        }
        if (rev <= 0)
        {
            rev = curRev;
        }
        var collector = new RangeCollector(options.CountOnly ? -1 : options.Limit);
        if (!writerView)
        {
            _indexLock.EnterReadLock();
        }
        try
        {
            long compactRev = writerView ? _writerCompactRev : Volatile.Read(ref _compactMainRev);
            // etcd allows reading exactly at the compaction revision.
            if (rev < compactRev)
            {
                return RangeResult.Failed(MvccStatus.Compacted, 0);
            }
            _index.Visit(range, rev, ref collector);
        }
        finally
        {
            if (!writerView)
            {
                _indexLock.ExitReadLock();
            }
        }
        if (collector.Count == 0 || options.CountOnly)
        {
            return new RangeResult { Count = collector.Count, Revision = curRev };
        }
        return new RangeResult { Kvs = Fetch(conn, collector.Entries!), Count = collector.Count, Revision = curRev };
    }

    private static List<KeyValue> Fetch(StoreConnection conn, List<RangeEntry> entries)
    {
        var kvs = new List<KeyValue>(entries.Count);
        int newest = 0;
        foreach (RangeEntry e in entries)
        {
            if (e.IsNewest)
            {
                newest++;
            }
        }
        if (entries.Count < ScanThreshold || newest * 2 < entries.Count)
        {
            foreach (RangeEntry e in entries)
            {
                kvs.Add(ReadLiveRevision(conn, e.Revision));
            }
            return kvs;
        }

        // One ordered scan of the latest table between the first and last key; a row whose
        // revision differs (the key changed after the read revision, or this snapshot is older)
        // falls back to a lookup by revision.
        SqliteStatement scan = conn.ScanLatest;
        try
        {
            scan.Bind(1, entries[0].Key);
            scan.Bind(2, entries[^1].Key);
            bool hasRow = scan.Step();
            foreach (RangeEntry e in entries)
            {
                KeyValue? kv = null;
                while (hasRow)
                {
                    int c = scan.Blob(0).SequenceCompareTo(e.Key);
                    if (c < 0)
                    {
                        hasRow = scan.Step();
                        continue;
                    }
                    if (c == 0 && scan.Int64(1) == e.Revision.Main && scan.Int64(2) == e.Revision.Sub)
                    {
                        kv = KeyValue.Parser.ParseFrom(scan.Blob(3));
                    }
                    break;
                }
                kvs.Add(kv ?? ReadLiveRevision(conn, e.Revision));
            }
        }
        finally
        {
            scan.Reset();
        }
        return kvs;
    }

    private static KeyValue ReadLiveRevision(StoreConnection conn, Revision revision) =>
        TryReadRevision(conn, revision, tombstone: false)
        ?? throw new InvalidDataException($"backend lacks revision {revision} that the index references");

    internal static KeyValue? TryReadRevision(StoreConnection conn, Revision revision, bool tombstone)
    {
        Span<byte> key = stackalloc byte[RevisionBytes.MarkedLength];
        RevisionBytes.Write(key, revision);
        key[RevisionBytes.Length] = RevisionBytes.TombstoneMark;
        SqliteStatement get = conn.GetByRevision;
        try
        {
            get.Bind(1, tombstone ? key : key[..RevisionBytes.Length]);
            return get.Step() ? KeyValue.Parser.ParseFrom(get.Blob(0)) : null;
        }
        finally
        {
            get.Reset();
        }
    }

    internal readonly record struct RangeEntry(byte[] Key, Revision Revision, bool IsNewest);

    // Counts every key of the range alive at the read revision and keeps the first `limit`
    // (all when limit <= 0; none when limit < 0 means count only).
    private struct RangeCollector(long limit) : IIndexVisitor
    {
        public List<RangeEntry>? Entries;
        public long Count;

        public bool Visit(KeyIndex keyIndex, Revision revision, Revision created, long version)
        {
            Count++;
            if (limit == 0 || (limit > 0 && (Entries?.Count ?? 0) < limit))
            {
                (Entries ??= []).Add(new RangeEntry(keyIndex.Key, revision, revision == keyIndex.Modified));
            }
            return true;
        }
    }
}

/// <summary>A consistent read view of the store at one committed revision.</summary>
public sealed class ReadTxn : IDisposable
{
    private readonly MvccStore _store;
    private StoreConnection? _conn;

    internal ReadTxn(MvccStore store)
    {
        _store = store;
        // Pick the revision before pinning the snapshot: the snapshot then holds every row up to it.
        Revision = store.CurrentRevision;
        _conn = store.RentReaderInternal();
        try
        {
            _conn.BeginSnapshot();
        }
        catch
        {
            store.ReturnReaderInternal(_conn);
            throw;
        }
    }

    /// <summary>The store's current revision for this view.</summary>
    public long Revision { get; }

    /// <summary>etcd's FirstRev: reads below it fail with Compacted.</summary>
    public long CompactRevision => _store.CompactRevision;

    public RangeResult Range(in KeyRange range, RangeOptions options = default) =>
        _store.RangeCore(Connection, range, options, Revision, writerView: false);

    /// <summary>The key-value stored at revision (a put), or null when compacted away; for prev_kv.</summary>
    public KeyValue? ReadRevision(Revision revision) => MvccStore.TryReadRevision(Connection, revision, tombstone: false);

    /// <summary>Appends the changes of revisions [fromRev, toRev] in revision order (watch catch-up).
    /// Compacted when fromRev is below the compaction revision.</summary>
    public MvccStatus ReadChanges(long fromRev, long toRev, List<MvccChange> output, int maxChanges = int.MaxValue) =>
        _store.ReadChangesCore(Connection, fromRev, Math.Min(toRev, Revision), output, maxChanges);

    private StoreConnection Connection => _conn ?? throw new ObjectDisposedException(nameof(ReadTxn));

    public void Dispose()
    {
        if (_conn is null)
        {
            return;
        }
        try
        {
            _conn.EndSnapshot();
        }
        finally
        {
            _store.ReturnReaderInternal(_conn);
            _conn = null;
        }
    }
}

public sealed partial class MvccStore
{
    internal MvccStatus ReadChangesCore(StoreConnection conn, long fromRev, long toRev, List<MvccChange> output, int maxChanges)
    {
        // Read after the caller pinned its snapshot: rows compaction deleted before the snapshot
        // belong to compactions at or below this revision.
        long compactRev = CompactRevision;
        if (fromRev < compactRev)
        {
            return MvccStatus.Compacted;
        }
        if (fromRev > toRev)
        {
            return MvccStatus.Ok;
        }
        Span<byte> lower = stackalloc byte[RevisionBytes.Length];
        Span<byte> upper = stackalloc byte[RevisionBytes.Length];
        RevisionBytes.Write(lower, new Revision(fromRev, 0));
        RevisionBytes.Write(upper, new Revision(toRev + 1, 0));
        SqliteStatement scan = conn.ScanKeyRows;
        try
        {
            scan.Bind(1, lower);
            scan.Bind(2, upper);
            int added = 0;
            while (added < maxChanges && scan.Step())
            {
                ReadOnlySpan<byte> k = scan.Blob(0);
                Revision rev = RevisionBytes.Read(k);
                bool tombstone = RevisionBytes.IsTombstone(k);
                KeyValue kv = KeyValue.Parser.ParseFrom(scan.Blob(1));
                ReadOnlySpan<byte> userKey = kv.Key.Span;
                // fromRev >= compactRev, so rows here are at or above the compaction revision; the
                // ones at it that the index dropped are tombstones, which compaction keeps for
                // watchers starting there (etcd 3.6).
                Revision previous = default;
                if (rev.Main - 1 >= compactRev)
                {
                    previous = RevisionAt(userKey, rev.Main - 1);
                }
                if (tombstone)
                {
                    kv = new KeyValue { Key = kv.Key, ModRevision = rev.Main };
                }
                output.Add(new MvccChange(tombstone, kv, previous));
                added++;
            }
        }
        finally
        {
            scan.Reset();
        }
        return MvccStatus.Ok;
    }

    // The key's revision at atRev per the index, or default when it did not exist then.
    private Revision RevisionAt(ReadOnlySpan<byte> key, long atRev)
    {
        _indexLock.EnterReadLock();
        try
        {
            return _index.TryGet(key, atRev, out Revision modified, out _, out _) ? modified : default;
        }
        finally
        {
            _indexLock.ExitReadLock();
        }
    }
}
