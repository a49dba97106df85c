using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;

namespace Dotcd.Client;

/// <summary>
/// One watch: read its responses with <c>await foreach</c> (once). Each response holds whole
/// revisions in order; after a broken stream the watch resumes from the revision after the last
/// one it delivered, so nothing is lost or repeated. The enumeration ends with
/// <see cref="WatchCanceledException"/> when the server ends the watch (compaction above all), with
/// <see cref="EtcdException"/> when the stream fails for good (no leader with RequireLeader, auth),
/// and quietly when the watch is disposed. Disposing the watcher, or leaving the loop, cancels the
/// watch on the server.
/// </summary>
public sealed class Watcher : IAsyncEnumerable<WatchResponse>, IAsyncDisposable, IDisposable
{
    // Unbounded, as clientv3's per-watch buffer: the stream is shared, so one watch that is read
    // slowly must not stall the others (a lock waiting for a delete beside an unread watch, say).
    // Memory grows only while its reader is not reading.
    private readonly Channel<WatchResponse> _responses =
        Channel.CreateUnbounded<WatchResponse>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<long> _created = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WatchCreateRequest _request; // As asked; each (re)creation copies it with StartRevision = NextRevision.
    private readonly bool _createdNotify;
    private WatchStream? _stream;                 // Set once, right after construction.
    private int _enumerated;

    // Guarded by the stream's lock (only its dispatcher and Detach touch them).
    private long _nextRevision;       // Invariant: every event below it was delivered; none at or above it. 0: not known yet (start revision 0, not yet created).
    private WatchResponse? _partial;  // Fragments of one revision received so far on the current stream.
    private bool _createdDelivered;
    private Exception? _failure;

    internal Watcher(WatchCreateRequest request, bool createdNotify)
    {
        _request = request;
        _createdNotify = createdNotify;
        _nextRevision = request.StartRevision;
        _ = _created.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Completes with the store revision at which the server created the watch (the first time);
    /// a watch from revision 0 delivers every change after it. Faults when the watch is refused.
    /// </summary>
    public Task<long> Created => _created.Task;

    // The server's id for this watch on the current stream; -1 while not created there.
    internal long WatchId { get; set; } = -1;

    // The caller is done with the watch; the dispatcher delivers nothing more.
    internal bool Detached { get; set; }

    internal bool Failed => _failure is not null;

    internal void Attach(WatchStream stream) => _stream = stream;

    /// <summary>
    /// Asks the server for a progress notification: every watch on this watch's stream then gets
    /// an empty response whose header revision all delivered events are at or below. Does nothing
    /// while the stream reconnects.
    /// </summary>
    public Task RequestProgressAsync() => _stream?.RequestProgressAsync() ?? Task.CompletedTask;

    public async IAsyncEnumerator<WatchResponse> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
        {
            throw new InvalidOperationException("A watch is read by one loop only.");
        }

        try
        {
            ChannelReader<WatchResponse> reader = _responses.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out WatchResponse? response))
                {
                    yield return response;
                }
            }

            if (Volatile.Read(ref _failure) is { } failure)
            {
                ExceptionDispatchInfo.Throw(failure);
            }
        }
        finally
        {
            Dispose();
        }
    }

    /// <summary>Cancels the watch; a loop reading it ends after the responses already received.</summary>
    public void Dispose() => _stream?.Detach(this);

    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    // ---- Called by WatchStream under its lock. ----

    /// <summary>The create request for the current stream: from where the last one left off.</summary>
    internal WatchCreateRequest CreateRequest()
    {
        WatchCreateRequest request = _request.Clone();
        request.StartRevision = _nextRevision;
        return request;
    }

    internal void OnCreated(WatchResponse response)
    {
        long revision = response.Header?.Revision ?? 0;
        if (_nextRevision == 0)
        {
            // From "now": the server starts at its revision + 1; a resume must start there too, or a
            // change made while the stream was down would be missed.
            _nextRevision = revision + 1;
        }

        _created.TrySetResult(revision);
        if (_createdNotify && !_createdDelivered)
        {
            _createdDelivered = true;
            _responses.Writer.TryWrite(response);
        }
    }

    /// <summary>A response for this watch that is neither its creation nor its cancellation.</summary>
    internal void OnResponse(WatchResponse response)
    {
        if (response.Fragment || _partial is not null)
        {
            // [fragment=true ...][fragment=false]: one revision's events split over several messages.
            if (_partial is null)
            {
                _partial = response;
            }
            else
            {
                _partial.Events.AddRange(response.Events);
                _partial.Fragment = response.Fragment;
                _partial.Header = response.Header ?? _partial.Header;
            }

            if (response.Fragment)
            {
                return;
            }

            response = _partial;
            _partial = null;
        }

        if (response.Events.Count == 0)
        {
            // The server's progress notification for this watch: it sends them only to watches
            // that are caught up, so every event up to the header revision has been delivered.
            OnProgress(response, advance: true);
            return;
        }

        // A resumed watch starts at _nextRevision, so a replay of a delivered revision is a
        // server bug; drop it rather than repeat it. Revisions travel whole, so whole ones go.
        int delivered = 0;
        while (delivered < response.Events.Count && response.Events[delivered].Kv.ModRevision < _nextRevision)
        {
            delivered++;
        }

        if (delivered == response.Events.Count)
        {
            return;
        }

        for (int i = 0; i < delivered; i++)
        {
            response.Events.RemoveAt(0);
        }

        Event last = response.Events[^1];
        _nextRevision = last.Kv.ModRevision + 1;
        _responses.Writer.TryWrite(response);
    }

    /// <summary>
    /// A progress notification. Only the server's per-watch ones move the resume point
    /// (<paramref name="advance"/>): etcd 3.4 answers a stream-wide progress request even while a
    /// watch on the stream is still catching up from history, so resuming after such a revision
    /// could skip events. Not moving it is always safe.
    /// </summary>
    internal void OnProgress(WatchResponse response, bool advance)
    {
        long revision = response.Header?.Revision ?? 0;
        if (_nextRevision > 0 && revision < _nextRevision - 1)
        {
            return; // Below this watch's start or below what it already delivered: says nothing new.
        }

        if (advance && revision + 1 > _nextRevision)
        {
            _nextRevision = revision + 1;
        }

        _responses.Writer.TryWrite(response);
    }

    /// <summary>The stream broke: the watch will be created again on the next one.</summary>
    internal void OnStreamLost()
    {
        WatchId = -1;
        _partial = null;
    }

    internal void Fail(Exception failure)
    {
        if (_failure is null)
        {
            Volatile.Write(ref _failure, failure);
            _created.TrySetException(failure);
            _responses.Writer.TryComplete();
        }
    }

    internal void Complete()
    {
        _created.TrySetCanceled();
        _responses.Writer.TryComplete();
    }
}
