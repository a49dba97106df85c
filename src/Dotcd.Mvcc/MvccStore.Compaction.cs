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
                    RevisionBytes.Write(key, row.Revision);
                    key[RevisionBytes.Length] = RevisionBytes.TombstoneMark;
                    _writer.Delete(Bucket.Key, row.Tombstone ? key : key[..RevisionBytes.Length]);
                }
                if (finished)
                {
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
