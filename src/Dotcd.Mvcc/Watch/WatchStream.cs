namespace Dotcd.Mvcc.Watch;

/// <summary>
/// One client stream of watches (etcd's watchStream): its watchers by ID and the ordered queue of
/// responses its sender drains. Events enter the queue a revision at a time and the queue holds
/// at most <see cref="WatchableStoreOptions.StreamBufferRevisions"/> of them: when it is full the
/// store moves the stream's watchers aside and catches them up from history later, so a slow
/// stream never holds up the apply loop or another stream, and loses nothing. Control responses
/// (created, canceled, compacted, progress) are never refused.
/// </summary>
public sealed class WatchStream : IDisposable
{
    private readonly WatchableStore _store;

    // Guarded by the store's lock.
    internal readonly Dictionary<long, Watcher> Watchers = [];
    internal long NextId;                // etcd's AutoWatchID allocation: the lowest unused ID from here up.
    internal int UnsyncedCount;          // Watchers of this stream not in the synced index.
    internal bool ProgressRequested;     // A progress_request waits until every watcher is synced.
    internal List<Watcher>? Collected;   // Fan-out scratch: watchers collected for the current revision.
    internal bool Closed;

    // The queue; guarded by _queueLock (taken inside the store's lock, never around it).
    private readonly Lock _queueLock = new();
    private readonly Queue<WatchOutput> _queue = new();
    private readonly int _capacity;
    private int _eventItems;             // Events items in _queue. Invariant: _eventItems <= _capacity.
    private bool _refused;               // An Events item was refused since the queue last had room.
    private bool _readerClosed;
    private TaskCompletionSource<bool>? _waiter;

    internal WatchStream(WatchableStore store, int capacity)
    {
        _store = store;
        _capacity = capacity;
    }

    /// <summary>The store's revision as this stream's responses report it (etcd's watchStream.Rev).</summary>
    public long Revision => _store.Revision;

    /// <summary>Creates a watch; its created (or failed) response is queued before any of its events.</summary>
    /// <param name="requestedId">0 lets the stream choose (the lowest free ID, as etcd).</param>
    /// <param name="rangeEnd">etcd's encoding: empty = the key alone, "\0" = every key &gt;= key.</param>
    /// <param name="startRevision">0 = from the next revision.</param>
    public WatchCreateResult Watch(long requestedId, ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, long startRevision, WatchOptions options) =>
        _store.CreateWatch(this, requestedId, key, rangeEnd, startRevision, options);

    /// <summary>Cancels a watch and queues its canceled response; false (and nothing queued) for an unknown ID.</summary>
    public bool Cancel(long watchId) => _store.CancelWatch(this, watchId);

    /// <summary>etcd's RequestProgressAll: queues a watch_id -1 progress response at the store's
    /// revision as soon as every watcher of the stream is synced (at once when they are).</summary>
    public void RequestProgress() => _store.RequestProgress(this);

    /// <summary>Number of watchers on the stream.</summary>
    public int WatcherCount => _store.CountWatchers(this);

    /// <summary>Takes the next response to send, if any.</summary>
    public bool TryRead(out WatchOutput output)
    {
        bool wake;
        lock (_queueLock)
        {
            if (!_queue.TryDequeue(out output!))
            {
                return false;
            }
            if (output.Kind != WatchOutputKind.Events)
            {
                return true;
            }
            _eventItems--;
            wake = _refused && _eventItems <= _capacity / 2;
            if (wake)
            {
                _refused = false;
            }
        }
        if (wake)
        {
            _store.SignalSync(); // Watchers moved aside for this stream can be caught up now.
        }
        return true;
    }

    /// <summary>Waits until a response is queued; false once the stream is disposed.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<bool> waiter;
        lock (_queueLock)
        {
            if (_queue.Count > 0)
            {
                return new ValueTask<bool>(true);
            }
            if (_readerClosed)
            {
                return new ValueTask<bool>(false);
            }
            // Continuations run off the thread that enqueues: that is the apply loop.
            waiter = _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        return new ValueTask<bool>(waiter.Task.WaitAsync(cancellationToken));
    }

    // Queues an Events item unless the queue already holds its share of revisions.
    internal bool TryEnqueueEvents(WatchOutput output)
    {
        lock (_queueLock)
        {
            if (_eventItems >= _capacity)
            {
                _refused = true;
                return false;
            }
            _eventItems++;
            _queue.Enqueue(output);
            WakeReader();
            return true;
        }
    }

    internal bool HasRoom
    {
        get
        {
            lock (_queueLock)
            {
                return _eventItems < _capacity;
            }
        }
    }

    internal void EnqueueControl(WatchOutput output)
    {
        lock (_queueLock)
        {
            _queue.Enqueue(output);
            WakeReader();
        }
    }

    private void WakeReader()
    {
        TaskCompletionSource<bool>? waiter = _waiter;
        _waiter = null;
        waiter?.TrySetResult(true);
    }

    internal void CloseQueue()
    {
        lock (_queueLock)
        {
            _readerClosed = true;
            _queue.Clear();
            _eventItems = 0;
            TaskCompletionSource<bool>? waiter = _waiter;
            _waiter = null;
            waiter?.TrySetResult(false);
        }
    }

    /// <summary>Removes every watcher of the stream; the queue reports closed.</summary>
    public void Dispose() => _store.CloseStream(this);
}

/// <summary>Outcome of <see cref="WatchStream.Watch"/>.</summary>
public enum WatchCreateResult
{
    Created,
    /// <summary>range_end at or below key: "mvcc: watcher range is empty".</summary>
    EmptyRange,
    /// <summary>The requested ID is in use: "mvcc: duplicate watch ID provided on the WatchStream".</summary>
    DuplicateId,
}
