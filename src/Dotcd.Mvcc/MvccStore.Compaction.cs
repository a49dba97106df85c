using Dotcd.Mvcc.Backend;
using Dotcd.Mvcc.Index;

namespace Dotcd.Mvcc;

public sealed partial class MvccStore
{
    private readonly object _compactionLock = new();
    private readonly Queue<CompactionJob> _compactionJobs = new(); // Guarded by _compactionLock.
    private Task _lastPhysical = Task.CompletedTask;               // Guarded by _compactionLock.
    private readonly SemaphoreSlim _workerSignal = new(0);
    private CancellationTokenSource? _workerStop;
    private SqliteStatement? _deleteTombstonesAt; // Writer connection; under _writerGate.
    private Task? _worker;

    // Rows one compaction made unreachable, deleted a batch at a time; sorted by revision so each
    // batch deletes neighbouring rows.
    private sealed class CompactionJob(long revision, CompactedRevision[] garbage, TaskCompletionSource done)
    {
        public readonly long Revision = revision;
        public readonly CompactedRevision[] Garbage = garbage;
        public readonly TaskCompletionSource Done = done;
        public int Next; // Garbage[..Next] is deleted and committed.
    }

    /// <summary>Completes when every compaction scheduled so far is physically done.</summary>
    public Task LastPhysicalCompaction
    {
        get
        {
            lock (_compactionLock)
            {
                return _lastPhysical;
            }
        }
    }

    /// <summary>True while compacted rows await deletion.</summary>
    public bool HasPendingCompaction
    {
        get
        {
            lock (_compactionLock)
            {
                return _compactionJobs.Count > 0;
            }
        }
    }

    private void EnqueuePhysicalCompaction(long revision, List<CompactedRevision> garbage, TaskCompletionSource done)
    {
        CompactedRevision[] rows = garbage.ToArray();
        Array.Sort(rows, static (a, b) => a.Revision.CompareTo(b.Revision));
        lock (_compactionLock)
        {
            _compactionJobs.Enqueue(new CompactionJob(revision, rows, done));
            _lastPhysical = done.Task;
        }
        _workerSignal.Release();
    }

    /// <summary>Deletes one batch of compacted rows in its own backend transaction (waiting for
    /// an open write batch to commit first); true while more work remains. Never call it from
    /// the thread holding an open batch.</summary>
    public bool RunCompactionStep()
    {
        _writerGate.Wait();
        try
        {
            ThrowIfFailed();
            CompactionJob? job;
            lock (_compactionLock)
            {
                if (!_compactionJobs.TryPeek(out job))
                {
                    return false;
                }
            }
            int end = Math.Min(job.Next + _options.CompactionBatchLimit, job.Garbage.Length);
            bool finished = end == job.Garbage.Length;
            Span<byte> key = stackalloc byte[RevisionBytes.MarkedLength];
            _writer.Begin.Execute();
            try
            {
                for (int i = job.Next; i < end; i++)
                {
                    CompactedRevision row = job.Garbage[i];
                    if (row.Tombstone && row.Revision.Main == job.Revision)
                    {
                        continue; // etcd 3.6: a watch starting at the compaction revision still sees this delete.
                    }
                    RevisionBytes.Write(key, row.Revision);
                    key[RevisionBytes.Length] = RevisionBytes.TombstoneMark;
                    _writer.Delete(Bucket.Key, row.Tombstone ? key : key[..RevisionBytes.Length]);
                }
                if (finished)
                {
                    DeleteKeptTombstones(job.Revision);
                    _writer.Put(Bucket.Meta, MetaKeys.FinishedCompactRevision, RevisionBytes.ToBytes(new Revision(job.Revision, 0)));
                }
                _writer.Commit.Execute();
            }
            catch
            {
                _writer.Rollback.Execute();
                throw;
            }
            job.Next = end;
            RefreshSize();
            lock (_compactionLock)
            {
                if (finished)
                {
                    _compactionJobs.Dequeue();
                }
            }
            if (finished)
            {
                job.Done.TrySetResult();
            }
            lock (_compactionLock)
            {
                return _compactionJobs.Count > 0;
            }
        }
        finally
        {
            _writerGate.Release();
        }
    }

    // Tombstones exactly at a compaction revision outlive it (etcd 3.6 keeps them so a watch from
    // that revision sees the delete; the key index already dropped them, so reads never do). The
    // next compaction that finishes removes those of the previous one: no reader needs them then.
    private void DeleteKeptTombstones(long newRevision)
    {
        byte[]? finished = _writer.Get(Bucket.Meta, MetaKeys.FinishedCompactRevision);
        if (finished is not { Length: >= RevisionBytes.Length })
        {
            return;
        }
        long previous = RevisionBytes.Read(finished).Main;
        if (previous <= 0 || previous >= newRevision)
        {
            return;
        }
        Span<byte> lower = stackalloc byte[RevisionBytes.Length];
        Span<byte> upper = stackalloc byte[RevisionBytes.Length];
        RevisionBytes.Write(lower, new Revision(previous, 0));
        RevisionBytes.Write(upper, new Revision(previous + 1, 0));
        SqliteStatement delete = _deleteTombstonesAt ??= _writer.Db.Prepare(
            $"DELETE FROM \"key\" WHERE k >= ?1 AND k < ?2 AND length(k) = {RevisionBytes.MarkedLength}");
        delete.Bind(1, lower);
        delete.Bind(2, upper);
        delete.Execute();
    }

    /// <summary>Runs compaction steps until no compacted rows remain (tests, simulation, tools).</summary>
    public void FinishCompaction()
    {
        while (RunCompactionStep())
        {
        }
    }

    private void StartCompactionWorker()
    {
        _workerStop = new CancellationTokenSource();
        CancellationToken stop = _workerStop.Token;
        _worker = Task.Run(() => CompactionWorkerAsync(stop));
    }

    private async Task CompactionWorkerAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await _workerSignal.WaitAsync(stop).ConfigureAwait(false);
                while (RunCompactionStep())
                {
                    await Task.Delay(_options.CompactionBatchInterval, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // A backend that cannot delete rows is broken; stop the store as a failed write would.
            _failed = true;
            FailPendingCompactions(e);
        }
    }

    private void StopCompactionWorker()
    {
        if (_workerStop is null)
        {
            return;
        }
        _workerStop.Cancel();
        try
        {
            _worker?.Wait();
        }
        catch (AggregateException)
        {
        }
        _workerStop.Dispose();
        _workerStop = null;
    }

    private void FailPendingCompactions(Exception? error)
    {
        lock (_compactionLock)
        {
            foreach (CompactionJob job in _compactionJobs)
            {
                if (error is null)
                {
                    job.Done.TrySetCanceled();
                }
                else
                {
                    job.Done.TrySetException(error);
                }
            }
        }
    }
}
