using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Index;
using Google.Protobuf;

namespace Dotcd.Mvcc;

public sealed partial class MvccStore
{
    private byte[] _encodeBuffer = new byte[4096]; // Apply thread only: KeyValue bytes being written.

    /// <summary>Opens the apply loop's batch: one SQLite transaction for many write txns and
    /// compactions, committed with consistent_index. Only one batch is open at a time; BeginBatch
    /// waits for a running compaction or defragment step.</summary>
    public WriteBatch BeginBatch()
    {
        ThrowIfFailed();
        _writerGate.Wait();
        try
        {
            ThrowIfFailed();
            _writer.Begin.Execute();
        }
        catch
        {
            _writerGate.Release();
            throw;
        }
        _openBatch = new WriteBatch(this);
        return _openBatch;
    }

    /// <summary>Convenience: a put in its own batch (tests and tools).</summary>
    public long Put(ByteString key, ByteString value, long lease = 0)
    {
        using WriteBatch batch = BeginBatch();
        long rev;
        using (WriteTxn txn = batch.BeginWrite())
        {
            rev = txn.Put(key, value, lease);
        }
        batch.Commit();
        return rev;
    }

    /// <summary>Convenience: a delete in its own batch; returns (deleted, revision).</summary>
    public (long Deleted, long Revision) DeleteRange(in KeyRange range)
    {
        using WriteBatch batch = BeginBatch();
        (long, long) result;
        using (WriteTxn txn = batch.BeginWrite())
        {
            result = txn.DeleteRange(range);
        }
        batch.Commit();
        return result;
    }

    /// <summary>Convenience: a compaction in its own batch.</summary>
    public CompactResult Compact(long revision)
    {
        using WriteBatch batch = BeginBatch();
        CompactResult result = batch.Compact(revision);
        batch.Commit();
        return result;
    }

    // Writes one row of the key bucket and keeps the latest table in step.
    private void WriteKeyRow(Revision revision, KeyValue kv, bool tombstone)
    {
        int size = kv.CalculateSize();
        if (_encodeBuffer.Length < size)
        {
            _encodeBuffer = new byte[Math.Max(size, _encodeBuffer.Length * 2)];
        }
        Span<byte> bytes = _encodeBuffer.AsSpan(0, size);
        kv.WriteTo(bytes);

        Span<byte> revKey = stackalloc byte[RevisionBytes.MarkedLength];
        RevisionBytes.Write(revKey, revision);
        revKey[RevisionBytes.Length] = RevisionBytes.TombstoneMark;
        _writer.Put(Bucket.Key, tombstone ? revKey : revKey[..RevisionBytes.Length], bytes);

        if (tombstone)
        {
            SqliteStatement del = _writer.DeleteLatest;
            del.Bind(1, kv.Key.Span);
            del.Execute();
        }
        else
        {
            SqliteStatement up = _writer.UpsertLatest;
            up.Bind(1, kv.Key.Span);
            up.Bind(2, revision.Main);
            up.Bind(3, revision.Sub);
            up.Bind(4, bytes);
            up.Execute();
        }
    }

    private void IndexPut(ReadOnlySpan<byte> key, Revision revision)
    {
        _indexLock.EnterWriteLock();
        try
        {
            _index.Put(key, revision);
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }
    }

    private void IndexTombstone(ReadOnlySpan<byte> key, Revision revision)
    {
        bool ok;
        _indexLock.EnterWriteLock();
        try
        {
            ok = _index.Tombstone(key, revision);
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }
        if (!ok)
        {
            throw new InvalidOperationException($"tombstone of key that is not alive at {revision}");
        }
    }

    // Runs on Commit after SQLite committed: readers may now see the batch.
    private void Publish(long committedRev, ulong? consistentIndex, List<(long Rev, TaskCompletionSource Done)> compactions)
    {
        Volatile.Write(ref _committedRev, committedRev);
        if (consistentIndex is ulong ci)
        {
            Volatile.Write(ref _consistentIndex, (long)ci);
        }
        foreach ((long rev, TaskCompletionSource done) in compactions)
        {
            List<CompactedRevision> garbage;
            _indexLock.EnterWriteLock();
            try
            {
                // Raise the bar before compacting the index: a reader that sees the compacted
                // index also sees the new compaction revision and refuses older reads.
                Volatile.Write(ref _compactMainRev, rev);
                garbage = _index.Compact(rev);
            }
            finally
            {
                _indexLock.ExitWriteLock();
            }
            EnqueuePhysicalCompaction(rev, garbage, done);
        }
        RefreshSize();
    }

    internal void EndBatch(WriteBatch batch, bool committed)
    {
        if (!committed)
        {
            _failed = true; // The index already holds the batch's changes; nothing can undo them.
            try
            {
                _writer.Rollback.Execute();
            }
            catch (SqliteFailureException)
            {
                // Already rolled back by SQLite after the failure that got us here.
            }
        }
        _openBatch = null;
        _writerGate.Release();
    }

    /// <summary>The apply loop's unit of work; see <see cref="MvccStore.BeginBatch"/>.</summary>
    public sealed class WriteBatch : IDisposable
    {
        private readonly MvccStore _store;
        private readonly List<MvccChange> _changes = [];
        private readonly List<(long Rev, TaskCompletionSource Done)> _compactions = [];
        private WriteTxn? _openTxn;
        private ulong? _consistentIndex;
        private bool _ended;

        internal WriteBatch(MvccStore store) => _store = store;

        internal MvccStore Store => _store;

        /// <summary>The newest revision including this batch's writes.</summary>
        public long CurrentRevision => _store._currentRev;

        /// <summary>The compaction revision including this batch's compactions.</summary>
        public long CompactRevision => _store._writerCompactRev;

        /// <summary>Starts a write txn: all its changes share one new revision.</summary>
        public WriteTxn BeginWrite()
        {
            ThrowIfUnusable();
            _openTxn = new WriteTxn(this, _store._currentRev);
            return _openTxn;
        }

        /// <summary>Reads inside the batch (sees its uncommitted writes), outside any write txn.</summary>
        public RangeResult Range(in KeyRange range, RangeOptions options = default)
        {
            ThrowIfUnusable();
            return _store.RangeCore(_store._writer, range, options, _store._currentRev, writerView: true);
        }

        /// <summary>Schedules a compaction at revision (etcd's rules: at or below the last
        /// compaction is Compacted, above the current revision is FutureRevision). It takes
        /// effect for readers at Commit; superseded rows are then deleted in the background.</summary>
        public CompactResult Compact(long revision)
        {
            ThrowIfUnusable();
            MvccStore s = _store;
            if (revision <= s._writerCompactRev)
            {
                Task pending = _compactions.Count > 0 ? _compactions[^1].Done.Task : s.LastPhysicalCompaction;
                return new CompactResult(MvccStatus.Compacted, pending);
            }
            if (revision > s._currentRev)
            {
                return new CompactResult(MvccStatus.FutureRevision, Task.CompletedTask);
            }
            s._writerCompactRev = revision;
            s._writer.Put(Bucket.Meta, MetaKeys.ScheduledCompactRevision, RevisionBytes.ToBytes(new Revision(revision, 0)));
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _compactions.Add((revision, done));
            return new CompactResult(MvccStatus.Ok, done.Task);
        }

        /// <summary>Records the raft index this batch has applied up to; stored at Commit.</summary>
        public void SetConsistentIndex(ulong index)
        {
            ThrowIfUnusable();
            _consistentIndex = index;
        }

        /// <summary>Reads a row of a bucket other than key, seeing this batch's writes.</summary>
        public byte[]? Get(Bucket bucket, ReadOnlySpan<byte> key)
        {
            ThrowIfUnusable();
            return _store._writer.Get(bucket, key);
        }

        /// <summary>Writes a row of a bucket other than key (lease, auth, members, ...).</summary>
        public void Put(Bucket bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            ThrowIfUnusable();
            RejectKeyBucket(bucket);
            _store._writer.Put(bucket, key, value);
        }

        public void Delete(Bucket bucket, ReadOnlySpan<byte> key)
        {
            ThrowIfUnusable();
            RejectKeyBucket(bucket);
            _store._writer.Delete(bucket, key);
        }

        /// <summary>Commits the batch and publishes it to readers; returns its changes in order.</summary>
        public IReadOnlyList<MvccChange> Commit()
        {
            ThrowIfUnusable();
            MvccStore s = _store;
            bool committed = false;
            try
            {
                if (_consistentIndex is ulong ci)
                {
                    Span<byte> bytes = stackalloc byte[8];
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, ci);
                    s._writer.Put(Bucket.Meta, MetaKeys.ConsistentIndex, bytes);
                }
                s._writer.Commit.Execute();
                committed = true;
                s.Publish(s._currentRev, _consistentIndex, _compactions);
            }
            finally
            {
                _ended = true;
                s.EndBatch(this, committed);
            }
            return _changes;
        }

        internal void EndTxn(WriteTxn txn)
        {
            if (txn.Changes.Count > 0)
            {
                _store._currentRev++;
                _changes.AddRange(txn.Changes);
            }
            _openTxn = null;
        }

        private static void RejectKeyBucket(Bucket bucket)
        {
            if (bucket == Bucket.Key)
            {
                throw new ArgumentException("the key bucket changes only through write txns", nameof(bucket));
            }
        }

        private void ThrowIfUnusable()
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            if (_openTxn is not null)
            {
                throw new InvalidOperationException("a write txn is still open in this batch");
            }
        }

        /// <summary>Without Commit, rolls back and marks the store unusable (the index cannot be undone).</summary>
        public void Dispose()
        {
            if (_ended)
            {
                return;
            }
            _ended = true;
            _store.EndBatch(this, committed: false);
        }
    }
}

/// <summary>One etcd write txn: its puts and deletes share the revision BeginRevision + 1.</summary>
public sealed class WriteTxn : IDisposable
{
    private readonly MvccStore.WriteBatch _batch;
    private readonly MvccStore _store;
    private readonly long _beginRev;
    private readonly List<MvccChange> _changes = new(4);
    private bool _ended;

    internal WriteTxn(MvccStore.WriteBatch batch, long beginRev)
    {
        _batch = batch;
        _store = batch.Store;
        _beginRev = beginRev;
    }

    /// <summary>The revision before this txn (etcd's TxnWrite.Rev).</summary>
    public long BeginRevision => _beginRev;

    /// <summary>The revision reads inside the txn see: BeginRevision, +1 once something changed.</summary>
    public long Revision => _changes.Count > 0 ? _beginRev + 1 : _beginRev;

    public IReadOnlyList<MvccChange> Changes => _changes;

    /// <summary>Reads inside the txn, seeing its earlier writes.</summary>
    public RangeResult Range(in KeyRange range, RangeOptions options = default)
    {
        ThrowIfEnded();
        return _store.TxnRange(range, options, Revision);
    }

    /// <summary>Puts key = value with lease (0 for none); returns the txn's revision.</summary>
    public long Put(ByteString key, ByteString value, long lease = 0)
    {
        ThrowIfEnded();
        long rev = _beginRev + 1;
        var idx = new Revision(rev, _changes.Count);
        _store.TxnPut(idx, key, value, lease, _changes);
        return rev;
    }

    /// <summary>Deletes the keys of the range alive now; returns how many and the revision
    /// (unchanged when nothing was deleted and nothing else changed).</summary>
    public (long Deleted, long Revision) DeleteRange(in KeyRange range)
    {
        ThrowIfEnded();
        long n = _store.TxnDeleteRange(range, _beginRev, Revision, _changes);
        return n != 0 || _changes.Count > 0 ? (n, _beginRev + 1) : (0, _beginRev);
    }

    /// <summary>Ends the txn; the store's revision advances when it changed something.</summary>
    public void End()
    {
        if (_ended)
        {
            return;
        }
        _ended = true;
        _batch.EndTxn(this);
    }

    public void Dispose() => End();

    private void ThrowIfEnded() => ObjectDisposedException.ThrowIf(_ended, this);
}

public sealed partial class MvccStore
{
    internal RangeResult TxnRange(in KeyRange range, RangeOptions options, long txnRev) =>
        RangeCore(_writer, range, options, txnRev, writerView: true);

    internal void TxnPut(Revision idx, ByteString key, ByteString value, long lease, List<MvccChange> changes)
    {
        long created = idx.Main;
        long version = 1;
        Revision previous = default;
        if (_index.TryGet(key.Span, idx.Main, out Revision modified, out Revision createdRev, out long ver))
        {
            created = createdRev.Main;
            version = ver + 1;
            previous = modified;
        }
        var kv = new KeyValue
        {
            Key = key,
            Value = value,
            CreateRevision = created,
            ModRevision = idx.Main,
            Version = version,
            Lease = lease,
        };
        WriteKeyRow(idx, kv, tombstone: false);
        IndexPut(key.Span, idx);
        changes.Add(new MvccChange(false, kv, previous));
    }

    internal long TxnDeleteRange(in KeyRange range, long beginRev, long readRev, List<MvccChange> changes)
    {
        var collector = new DeleteCollector();
        _index.Visit(range, readRev, ref collector); // Apply thread: the only index writer, no lock needed.
        if (collector.Keys is null)
        {
            return 0;
        }
        foreach ((byte[] userKey, Revision previous) in collector.Keys)
        {
            var idx = new Revision(beginRev + 1, changes.Count);
            ByteString key = UnsafeByteOperations.UnsafeWrap(userKey); // Index keys are never mutated.
            WriteKeyRow(idx, new KeyValue { Key = key }, tombstone: true);
            IndexTombstone(userKey, idx);
            changes.Add(new MvccChange(true, new KeyValue { Key = key, ModRevision = idx.Main }, previous));
        }
        return collector.Keys.Count;
    }

    private struct DeleteCollector : IIndexVisitor
    {
        public List<(byte[] Key, Revision Revision)>? Keys;

        public bool Visit(KeyIndex keyIndex, Revision revision, Revision created, long version)
        {
            (Keys ??= []).Add((keyIndex.Key, revision));
            return true;
        }
    }
}
