using Dotcd.Raft;

namespace Dotcd.Server.RaftLoop;

/// <summary>Committed work of one Ready for the apply thread: a snapshot first (if any), then entries.</summary>
internal sealed record ApplyBatch(Snapshot? Snapshot, IReadOnlyList<Entry> Entries, long Bytes);

/// <summary>
/// The bounded queue from the raft thread to the apply thread. Bounded by entries and bytes; a
/// batch always fits into an empty queue, so one huge Ready cannot wedge the pipeline.
/// </summary>
internal sealed class ApplyQueue(int maxEntries, long maxBytes)
{
    private readonly object _lock = new(); // A Monitor (not Lock): the apply thread waits on it.
    private readonly Queue<ApplyBatch> _batches = new();
    private int _entries;   // Invariant: sums of the queued batches.
    private long _bytes;
    private bool _closed;     // Dequeue returns false at once; queued batches are dropped.
    private bool _completed;  // Nothing more comes; Dequeue drains what is queued first.

    /// <summary>
    /// Queues the batch unless that would pass a bound; the raft thread waits and retries on false.
    /// Once the queue is closed or completed the member is stopping: the batch is dropped (true),
    /// and the WAL replays it at restart.
    /// </summary>
    public bool TryEnqueue(ApplyBatch batch)
    {
        lock (_lock)
        {
            if (_closed || _completed) return true;
            bool empty = _batches.Count == 0;
            if (!empty && (_entries + batch.Entries.Count > maxEntries || _bytes + batch.Bytes > maxBytes)) return false;
            _batches.Enqueue(batch);
            _entries += batch.Entries.Count;
            _bytes += batch.Bytes;
            Monitor.PulseAll(_lock);
            return true;
        }
    }

    /// <summary>Blocks until a batch is queued (true), or the queue is closed, or completed and empty (false).</summary>
    public bool TryDequeue(out ApplyBatch batch)
    {
        lock (_lock)
        {
            while (_batches.Count == 0 && !_closed && !_completed) Monitor.Wait(_lock);
            if (_closed || _batches.Count == 0)
            {
                batch = null!;
                return false;
            }
            batch = _batches.Dequeue();
            _entries -= batch.Entries.Count;
            _bytes -= batch.Bytes;
            return true;
        }
    }

    /// <summary>Whether nothing is queued (the apply thread may still be applying the last batch).</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_lock) return _batches.Count == 0;
        }
    }

    /// <summary>No more batches come; the apply thread applies the queued ones, then stops.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Stops the apply thread at its next dequeue; queued batches are dropped.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            Monitor.PulseAll(_lock);
        }
    }
}
