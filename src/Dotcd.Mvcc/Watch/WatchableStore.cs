
namespace Dotcd.Mvcc.Watch;

/// <summary>
/// etcd's watchableStore over an <see cref="MvccStore"/>: the apply loop publishes each committed
/// run of changes once (<see cref="Publish"/>); each
/// revision's events are encoded once and shared by every matching watcher on every stream.
/// </summary>
/// <remarks>
/// Watchers live in one of two indexes. Synced watchers have been given every matching event up
/// to <see cref="Revision"/> and receive new ones from the fan-out. Unsynced watchers (a start
/// revision in the past, or a stream that was full when an event came) are caught up from
/// history by a background pass that reads the key bucket (<see cref="ReadTxn.ReadChanges"/>) and
/// moves them back once they reach the store's revision, or cancels them with compact_revision
/// when their history is compacted away. Nothing is dropped: an event a stream cannot take now
/// stays in history until it can.
/// One lock guards both indexes, every watcher's revision and every stream's watcher table; the
/// apply loop holds it only for in-memory work (no IO, no waiting on a stream).
/// </remarks>
public sealed class WatchableStore : IDisposable
{
    private readonly MvccStore _store;
    private readonly WatchableStoreOptions _options;
    private readonly Lock _lock = new();
    private readonly WatcherIndex _synced = new();
    private readonly WatcherIndex _unsynced = new();
    private readonly HashSet<WatchStream> _streams = new(ReferenceEqualityComparer.Instance);
    private readonly List<WatchStream> _progressWaiters = [];   // Streams with a deferred progress_request.
    private readonly List<Watcher> _matched = [];               // Scratch, under _lock.
    private readonly List<WatchStream> _touched = [];           // Scratch, under _lock.
    private long _revision;   // Newest revision published; every synced watcher has all its events up to here queued.
    private int _syncPass;
    private bool _disposed;

    private readonly SemaphoreSlim _syncSignal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _syncLoop;
    private readonly ITimer? _progressTimer;

    /// <summary>Watches store from its current revision on. Create it before the apply loop
    /// starts: the loop hands every later commit to <see cref="Publish"/>.</summary>
    public WatchableStore(MvccStore store, WatchableStoreOptions? options = null)
    {
        _store = store;
        _options = options ?? new WatchableStoreOptions();
        _revision = store.CurrentRevision;
        _syncLoop = Task.Run(() => SyncLoopAsync(_stop.Token));
        if (_options.ProgressNotifyInterval > TimeSpan.Zero)
        {
            _progressTimer = _options.TimeProvider.CreateTimer(static s => ((WatchableStore)s!).NotifyProgress(), this,
                _options.ProgressNotifyInterval, _options.ProgressNotifyInterval);
        }
    }

    /// <summary>The newest revision published to watchers.</summary>
    public long Revision => Volatile.Read(ref _revision);

    /// <summary>The store it watches.</summary>
    public MvccStore Store => _store;

    /// <summary>Number of watchers waiting to be caught up from history (tests, metrics).</summary>
    public int UnsyncedCount
    {
        get
        {
            lock (_lock)
            {
                return _unsynced.Count;
            }
        }
    }

    /// <summary>Number of open watch streams.</summary>
    public int StreamCount
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>Number of watchers on all streams.</summary>
    public int WatcherCount
    {
        get
        {
            lock (_lock)
            {
                return _synced.Count + _unsynced.Count;
            }
        }
    }

    /// <summary>A one-line-per-watcher picture of the indexes (diagnostics in tests).</summary>
    public string Describe()
    {
        lock (_lock)
        {
            var lines = new List<string> { $"revision {_revision} compact {_store.CompactRevision} pass {_syncPass} waiters {_progressWaiters.Count}" };
            foreach (WatchStream stream in _streams)
            {
                lines.Add($"stream unsynced={stream.UnsyncedCount} progressRequested={stream.ProgressRequested} room={stream.HasRoom}");
                foreach (Watcher w in stream.Watchers.Values)
                {
                    lines.Add($"  w{w.Id} next={w.NextRev} synced={w.Synced} pass={w.SyncPass} last={w.LastMatchedRev} removed={w.Removed}");
                }
            }
            return string.Join("\n", lines);
        }
    }

    /// <summary>Opens a stream of watches.</summary>
    public WatchStream OpenStream()
    {
        var stream = new WatchStream(this, Math.Max(1, _options.StreamBufferRevisions));
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _streams.Add(stream);
        }
        return stream;
    }

    /// <summary>The apply loop's one call after each commit: fans out the run's changes (as
    /// <see cref="MvccStore.WriteBatch.Commit"/> returned them), in revision order.</summary>
    public void Publish(IReadOnlyList<MvccChange> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }
        bool movedAside = false;
        lock (_lock)
        {
            for (int start = 0; start < changes.Count;)
            {
                RevisionEvents.Split(changes, start, out int end);
                long rev = changes[start].Kv.ModRevision;
                if (_synced.Count > 0)
                {
                    for (int i = start; i < end; i++)
                    {
                        Collect(_synced, changes[i].Kv.Key.Span, changes[i].IsDelete, rev, pass: 0);
                    }
                    if (_touched.Count > 0)
                    {
                        movedAside |= Deliver(RevisionEvents.From(changes, start, end));
                    }
                }
                Volatile.Write(ref _revision, Math.Max(rev, _revision));
                start = end;
            }
            AnswerDeferredProgress();
        }
        if (movedAside)
        {
            SignalSync();
        }
    }

    // Collects the watchers of index that are owed the event into their streams' lists.
    // pass 0: synced watchers; otherwise only the unsynced watchers of that catch-up pass.
    private void Collect(WatcherIndex index, ReadOnlySpan<byte> key, bool isDelete, long rev, int pass)
    {
        _matched.Clear();
        index.Match(key, _matched);
        foreach (Watcher w in _matched)
        {
            if (w.NextRev > rev || w.LastMatchedRev == rev || !w.PassesFilter(isDelete) || (pass != 0 && w.SyncPass != pass))
            {
                continue;
            }
            w.LastMatchedRev = rev;
            List<Watcher> list = w.Stream.Collected ??= [];
            if (list.Count == 0)
            {
                _touched.Add(w.Stream);
            }
            list.Add(w);
        }
        _matched.Clear();
    }

    // Queues a live revision for the collected synced watchers, one item per stream. A stream
    // that is full refuses it: its watchers move aside (true is returned) and get this revision
    // again from history.
    private bool Deliver(RevisionEvents events)
    {
        bool movedAside = false;
        foreach (WatchStream stream in _touched)
        {
            List<Watcher> list = stream.Collected!;
            Watcher[] watchers = list.ToArray();
            list.Clear();
            if (stream.TryEnqueueEvents(WatchOutput.ForEvents(events, watchers)))
            {
                foreach (Watcher w in watchers)
                {
                    w.NextRev = events.Revision + 1;
                    w.EventsSinceProgress = true;
                }
                continue;
            }
            foreach (Watcher w in watchers)
            {
                w.LastMatchedRev = 0;
                MoveToUnsynced(w, events.Revision);
                movedAside = true;
            }
        }
        _touched.Clear();
        return movedAside;
    }

    private void MoveToUnsynced(Watcher w, long nextRev)
    {
        _synced.Remove(w);
        w.Synced = false;
        w.NextRev = nextRev;
        _unsynced.Add(w);
        w.Stream.UnsyncedCount++;
    }

    private void MoveToSynced(Watcher w)
    {
        _unsynced.Remove(w);
        w.Synced = true;
        w.SyncPass = 0;
        _synced.Add(w);
        w.Stream.UnsyncedCount--;
    }

    internal WatchCreateResult CreateWatch(WatchStream stream, long requestedId, ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd,
        long startRevision, WatchOptions options)
    {
        // etcd's v3rpc normalization: no key is "\0" (the smallest key); range_end "\0" is every key >= key.
        byte[] keyBytes = key.Length == 0 ? [0] : key.ToArray();
        byte[]? end = rangeEnd.Length == 0 ? null : rangeEnd is [0] ? [] : rangeEnd.ToArray();
        bool signal = false;
        lock (_lock)
        {
            long wsrev = _revision;
            if (stream.Closed || (end is { Length: > 0 } && keyBytes.AsSpan().SequenceCompareTo(end) >= 0))
            {
                stream.EnqueueControl(WatchOutput.CreateFailed("mvcc: watcher range is empty", wsrev));
                return WatchCreateResult.EmptyRange;
            }
            long id = requestedId;
            if (id == 0)
            {
                while (stream.Watchers.ContainsKey(stream.NextId))
                {
                    stream.NextId++;
                }
                id = stream.NextId++;
            }
            else if (stream.Watchers.ContainsKey(id))
            {
                stream.EnqueueControl(WatchOutput.CreateFailed("mvcc: duplicate watch ID provided on the WatchStream", wsrev));
                return WatchCreateResult.DuplicateId;
            }
            long nextRev = startRevision == 0 ? wsrev + 1 : startRevision;
            var w = new Watcher(stream, id, keyBytes, end, nextRev, options);
            stream.Watchers.Add(id, w);
            stream.EnqueueControl(WatchOutput.Created(id, wsrev));
            if (nextRev > wsrev)
            {
                w.Synced = true;
                _synced.Add(w);
            }
            else
            {
                _unsynced.Add(w);
                stream.UnsyncedCount++;
                signal = true;
            }
        }
        if (signal)
        {
            SignalSync();
        }
        return WatchCreateResult.Created;
    }

    internal bool CancelWatch(WatchStream stream, long id)
    {
        lock (_lock)
        {
            if (stream.Closed || !stream.Watchers.Remove(id, out Watcher? w))
            {
                return false;
            }
            Remove(w);
            stream.EnqueueControl(WatchOutput.Canceled(id, _revision));
            AnswerDeferredProgress();
            return true;
        }
    }

    // Takes a watcher out of its index; the caller removed it from its stream's table.
    private void Remove(Watcher w)
    {
        if (w.Synced)
        {
            _synced.Remove(w);
        }
        else
        {
            _unsynced.Remove(w);
            w.Stream.UnsyncedCount--;
        }
        w.Synced = false;
        w.Removed = true;
    }

    internal void RequestProgress(WatchStream stream)
    {
        lock (_lock)
        {
            if (stream.Closed || stream.ProgressRequested)
            {
                return; // etcd ignores a progress request while one is deferred.
            }
            if (CanReportProgress(stream))
            {
                stream.EnqueueControl(WatchOutput.Progress(-1, _revision));
                return;
            }
            stream.ProgressRequested = true;
            _progressWaiters.Add(stream);
        }
    }

    // A watch_id -1 progress response at _revision is true for every watcher of the stream:
    // each is synced (all its events up to _revision are queued ahead of the response) and
    // none starts above _revision + 1 (the response would be below its start revision).
    private bool CanReportProgress(WatchStream stream)
    {
        if (stream.UnsyncedCount != 0)
        {
            return false;
        }
        foreach (Watcher w in stream.Watchers.Values)
        {
            if (w.NextRev > _revision + 1)
            {
                return false;
            }
        }
        return true;
    }

    private void AnswerDeferredProgress()
    {
        for (int i = _progressWaiters.Count - 1; i >= 0; i--)
        {
            WatchStream stream = _progressWaiters[i];
            if (stream.Closed)
            {
                _progressWaiters.RemoveAt(i);
            }
            else if (CanReportProgress(stream))
            {
                stream.ProgressRequested = false;
                stream.EnqueueControl(WatchOutput.Progress(-1, _revision));
                _progressWaiters.RemoveAt(i);
            }
        }
    }

    /// <summary>The progress-notify tick: each idle, synced progress_notify watcher gets an empty
    /// response at the store's revision (etcd elides it for a watcher that got events since the last tick).</summary>
    public void NotifyProgress()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            long rev = _revision;
            foreach (WatchStream stream in _streams)
            {
                foreach (Watcher w in stream.Watchers.Values)
                {
                    if ((w.Options & WatchOptions.ProgressNotify) == 0)
                    {
                        continue;
                    }
                    if (w.Synced && !w.EventsSinceProgress && w.NextRev <= rev + 1)
                    {
                        stream.EnqueueControl(WatchOutput.Progress(w.Id, rev));
                    }
                    w.EventsSinceProgress = false;
                }
            }
        }
    }

    internal int CountWatchers(WatchStream stream)
    {
        lock (_lock)
        {
            return stream.Watchers.Count;
        }
    }

    internal void CloseStream(WatchStream stream)
    {
        lock (_lock)
        {
            if (stream.Closed)
            {
                return;
            }
            stream.Closed = true;
            foreach (Watcher w in stream.Watchers.Values)
            {
                Remove(w);
            }
            stream.Watchers.Clear();
            _streams.Remove(stream);
        }
        stream.CloseQueue();
    }

    internal void SignalSync()
    {
        try
        {
            if (_syncSignal.CurrentCount == 0)
            {
                _syncSignal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task SyncLoopAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (SyncOnce())
                {
                    continue;
                }
                bool waiting;
                lock (_lock)
                {
                    waiting = _unsynced.Count > 0;
                }
                if (waiting)
                {
                    await _syncSignal.WaitAsync(_options.SyncRetryInterval, stop).ConfigureAwait(false);
                }
                else
                {
                    await _syncSignal.WaitAsync(stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
            // The store closed under a running pass (member shutdown).
        }
    }

    /// <summary>One catch-up pass over the unsynced watchers whose streams have room; true when
    /// it made progress and more may remain (run it again at once).</summary>
    internal bool SyncOnce()
    {
        var batch = new List<Watcher>();
        int pass;
        long minRev = long.MaxValue;
        long target;
        lock (_lock)
        {
            if (_disposed || _unsynced.Count == 0)
            {
                return false;
            }
            pass = ++_syncPass;
            if (pass == 0)
            {
                pass = _syncPass = 1; // 0 marks "in no pass".
            }
            target = _revision;
            long compactRev = _store.CompactRevision;
            var compacted = new List<Watcher>();
            var caughtUp = new List<Watcher>();
            foreach (Watcher w in _unsynced.All())
            {
                if (w.NextRev < compactRev || w.NextRev < 0)
                {
                    compacted.Add(w); // History below the compaction revision is gone: etcd cancels the watch.
                }
                else if (w.NextRev > target)
                {
                    caughtUp.Add(w);
                }
                else if (batch.Count < _options.SyncBatchWatchers && w.Stream.HasRoom)
                {
                    w.SyncPass = pass;
                    batch.Add(w);
                    minRev = Math.Min(minRev, w.NextRev);
                }
            }
            foreach (Watcher w in compacted)
            {
                w.Stream.Watchers.Remove(w.Id);
                Remove(w);
                w.Stream.EnqueueControl(WatchOutput.Compacted(w.Id, compactRev));
            }
            foreach (Watcher w in caughtUp)
            {
                MoveToSynced(w);
            }
            AnswerDeferredProgress();
            if (batch.Count == 0)
            {
                return compacted.Count + caughtUp.Count > 0 && _unsynced.Count > 0;
            }
        }

        var changes = new List<MvccChange>();
        long readTo = target;
        using (ReadTxn txn = _store.BeginRead())
        {
            int limit = Math.Max(1, _options.SyncBatchChanges);
            if (txn.ReadChanges(minRev, target, changes, limit) == MvccStatus.Compacted)
            {
                ReleasePass(batch, pass);
                return true; // Compacted meanwhile: the next pass cancels whoever lost history.
            }
            if (changes.Count == limit)
            {
                // Never split a revision: drop the last, possibly partial one, unless it is all we have.
                long last = changes[^1].Kv.ModRevision;
                if (changes[0].Kv.ModRevision == last)
                {
                    changes.Clear();
                    if (txn.ReadChanges(last, last, changes) == MvccStatus.Compacted)
                    {
                        ReleasePass(batch, pass);
                        return true;
                    }
                }
                else
                {
                    int keep = changes.Count;
                    while (changes[keep - 1].Kv.ModRevision == last)
                    {
                        keep--;
                    }
                    changes.RemoveRange(keep, changes.Count - keep);
                    last--;
                }
                readTo = last;
            }
        }

        lock (_lock)
        {
            // Every revision a watcher of this pass is owed, kept aside: each watcher gets one
            // response for the whole window (header = the last revision read), as etcd's catch-up.
            var owed = new Dictionary<Watcher, List<RevisionEvents>>(ReferenceEqualityComparer.Instance);
            for (int start = 0; start < changes.Count;)
            {
                RevisionEvents.Split(changes, start, out int end);
                long rev = changes[start].Kv.ModRevision;
                for (int i = start; i < end; i++)
                {
                    Collect(_unsynced, changes[i].Kv.Key.Span, changes[i].IsDelete, rev, pass);
                }
                if (_touched.Count > 0)
                {
                    RevisionEvents events = RevisionEvents.From(changes, start, end);
                    foreach (WatchStream stream in _touched)
                    {
                        foreach (Watcher w in stream.Collected!)
                        {
                            if (!owed.TryGetValue(w, out List<RevisionEvents>? list))
                            {
                                owed.Add(w, list = []);
                            }
                            list.Add(events);
                        }
                        stream.Collected!.Clear();
                    }
                    _touched.Clear();
                }
                start = end;
            }

            // One queue item per stream; a stream without room takes nothing this pass and its
            // watchers resume from where they were.
            foreach (IGrouping<WatchStream, Watcher> group in owed.Keys.GroupBy(w => w.Stream))
            {
                Watcher[] watchers = [.. group];
                RevisionEvents[][] history = [.. watchers.Select(w => owed[w].ToArray())];
                if (group.Key.TryEnqueueEvents(WatchOutput.ForHistory(readTo, watchers, history)))
                {
                    foreach (Watcher w in watchers)
                    {
                        w.EventsSinceProgress = true;
                    }
                    continue;
                }
                foreach (Watcher w in group.Key.Watchers.Values)
                {
                    if (w.SyncPass == pass)
                    {
                        w.SyncPass = 0;
                        w.LastMatchedRev = 0;
                    }
                }
            }
            foreach (Watcher w in batch)
            {
                if (w.SyncPass != pass || w.Removed)
                {
                    continue; // Its stream was full: it resumes from its NextRev in a later pass.
                }
                w.SyncPass = 0;
                w.LastMatchedRev = 0;
                w.NextRev = Math.Max(w.NextRev, readTo + 1);
                if (w.NextRev > _revision)
                {
                    MoveToSynced(w);
                }
            }
            AnswerDeferredProgress();
            return _unsynced.Count > 0;
        }
    }

    private void ReleasePass(List<Watcher> batch, int pass)
    {
        lock (_lock)
        {
            foreach (Watcher w in batch)
            {
                if (w.SyncPass == pass)
                {
                    w.SyncPass = 0;
                }
            }
        }
    }

    public void Dispose()
    {
        List<WatchStream> streams;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            streams = [.. _streams];
        }
        _progressTimer?.Dispose();
        _stop.Cancel();
        try
        {
            _syncLoop.Wait();
        }
        catch (AggregateException)
        {
        }
        foreach (WatchStream stream in streams)
        {
            CloseStream(stream);
        }
        _stop.Dispose();
    }
}
