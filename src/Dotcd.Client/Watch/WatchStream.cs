using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Client;

/// <summary>
/// One Watch gRPC stream shared by many watches (as clientv3 multiplexes them): a server holds one
/// stream's state (etcd measures ~18 KB) instead of one per watch, and Kubernetes-style clients
/// with hundreds of watches keep one stream per client. The price is the bookkeeping here.
///
/// Creation follows clientv3 so it works with any etcd: one create request in flight at a time,
/// and the next Created response belongs to it (servers answer creates in order; watch ids are
/// the server's). When the stream breaks with a retryable status (Unavailable, Internal, or an
/// unexpected end), every live watch is created again on a new stream, in its original order,
/// from its own next revision. Other statuses (and "etcdserver: no leader") end every watch on
/// the stream with that error. The stream closes when its last watch goes.
/// </summary>
internal sealed class WatchStream
{
    private static readonly TimeSpan s_firstBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(2);

    private readonly WatchClient _owner;
    private readonly EtcdTransport _transport;
    private readonly IReadOnlyDictionary<string, string>? _metadata;
    private readonly CancellationTokenSource _stop = new(); // Cancelled when the stream closes for good.
    private readonly SemaphoreSlim _sendLock = new(1, 1);   // One writer at a time on the call.
    private readonly Lock _gate = new();

    // Guarded by _gate.
    private readonly List<Watcher> _watchers = [];            // Every live watch, in registration order.
    private readonly Queue<Watcher> _pending = new();         // Waiting for their create request.
    private readonly Dictionary<long, Watcher> _byId = [];    // Created on the current call, by server id.
    private readonly HashSet<long> _cancelSent = [];          // Unknown ids we asked the server to cancel (once each).
    private Watcher? _creating;    // Invariant: the one create in flight on _call; the next Created answer is its.
    private GrpcClientCall? _call; // Null while connecting or reconnecting.
    private bool _closed;          // Never reset: a closed stream takes no more watches.

    public WatchStream(WatchClient owner, EtcdTransport transport, IReadOnlyDictionary<string, string>? metadata)
    {
        _owner = owner;
        _transport = transport;
        _metadata = metadata;
        _ = Task.Run(RunAsync);
    }

    /// <summary>Adds a watch; false when the stream is closing (the caller makes a new one).</summary>
    public bool TryAttach(Watcher watcher)
    {
        GrpcClientCall? call;
        WatchRequest? create;
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            watcher.Attach(this);
            _watchers.Add(watcher);
            _pending.Enqueue(watcher);
            call = _call;
            create = call is not null && _creating is null ? StartNextCreateLocked() : null;
        }

        Send(call, create);
        return true;
    }

    /// <summary>Removes a watch (cancelling it on the server); the last one closes the stream.</summary>
    public void Detach(Watcher watcher)
    {
        GrpcClientCall? call;
        WatchRequest? cancel = null;
        bool empty;
        lock (_gate)
        {
            if (watcher.Detached)
            {
                return;
            }

            watcher.Detached = true;
            _watchers.Remove(watcher);
            if (watcher.WatchId >= 0 && _byId.Remove(watcher.WatchId))
            {
                cancel = CancelRequest(watcher.WatchId);
            }

            // A pending watch is skipped when dequeued; the one being created is cancelled when its
            // Created answer arrives.
            watcher.Complete();
            empty = _watchers.Count == 0;
            _closed |= empty;
            call = _call;
        }

        if (empty)
        {
            _owner.Remove(this);
            _stop.Cancel(); // Ends the call: the server drops every watch on it.
        }
        else
        {
            Send(call, cancel);
        }
    }

    public Task RequestProgressAsync()
    {
        GrpcClientCall? call;
        lock (_gate)
        {
            call = _call;
        }

        return call is null ? Task.CompletedTask : SendAsync(call, new WatchRequest { ProgressRequest = new WatchProgressRequest() });
    }

    /// <summary>Ends every watch with <paramref name="failure"/> (the client is disposed).</summary>
    public void Close(Exception failure)
    {
        FailAll(failure);
        _stop.Cancel();
    }

    private async Task RunAsync()
    {
        TimeSpan backoff = TimeSpan.Zero;
        while (true)
        {
            Endpoint endpoint = _transport.Preferred;
            CallOptions options = _transport.CreateCallOptions(new EtcdCallOptions { Metadata = _metadata })
                with { Deadline = null, Timeout = null, CancellationToken = _stop.Token }; // A watch has no deadline.
            GrpcClientCall call = endpoint.Channel.StartDuplexStreaming(Methods.Watch, options);
            WatchRequest? create;
            lock (_gate)
            {
                if (_closed)
                {
                    call.Dispose();
                    return;
                }

                _call = call;
                create = StartNextCreateLocked();
            }

            Send(call, create);
            Exception? failure = null;
            try
            {
                while (await call.MoveNextAsync().ConfigureAwait(false))
                {
                    backoff = TimeSpan.Zero;
                    List<WatchRequest>? replies = Dispatch(WatchResponse.Parser.ParseFrom(call.Current));
                    if (replies is not null)
                    {
                        foreach (WatchRequest reply in replies)
                        {
                            await SendAsync(call, reply).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (GrpcStatusException e)
            {
                failure = e;
            }
            catch (Exception e)
            {
                failure = e; // A message that does not parse, or a bug: final, never a silent hang.
            }

            bool closed;
            lock (_gate)
            {
                _call = null;
                closed = _closed;
                if (!closed)
                {
                    RequeueLocked();
                }
            }

            call.Dispose();
            if (closed)
            {
                return;
            }

            if (IsFinal(failure))
            {
                FailAll(failure is GrpcStatusException status
                    ? new EtcdException(status, endpoint.Address, requestMayHaveBeenSent: true)
                    : new EtcdException(StatusCode.Internal, failure!.Message, endpoint.Address, true, failure));
                return;
            }

            if (failure is GrpcStatusException { StatusCode: StatusCode.Unavailable })
            {
                _transport.ReportUnavailable(endpoint);
            }

            backoff = backoff == TimeSpan.Zero ? s_firstBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, s_maxBackoff.Ticks));
            try
            {
                await Task.Delay(backoff, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // clientv3's rule: Unavailable and Internal mean "try again"; anything else, and a member
    // without a leader when the watch asked for one, is final. A stream that ended OK or was
    // cancelled under us (a server shutting down) is tried again too.
    private static bool IsFinal(Exception? failure) => failure switch
    {
        null => false,
        GrpcStatusException e when EtcdErrors.FromMessage(e.Detail) == EtcdError.NoLeader => true,
        GrpcStatusException { StatusCode: StatusCode.Unavailable or StatusCode.Internal or StatusCode.Cancelled } => false,
        _ => true,
    };

    /// <summary>Handles one response; returns the requests it calls for (the next create, cancels).</summary>
    private List<WatchRequest>? Dispatch(WatchResponse response)
    {
        List<WatchRequest>? replies = null;
        lock (_gate)
        {
            if (response.Created)
            {
                Watcher? watcher = _creating;
                _creating = null;
                if (watcher is not null)
                {
                    if (response.Canceled)
                    {
                        // Refused (an invalid range, permission denied, a compacted start on some servers).
                        _watchers.Remove(watcher);
                        watcher.Fail(new WatchCanceledException(response.CancelReason, response.CompactRevision));
                    }
                    else if (watcher.Detached)
                    {
                        (replies ??= []).Add(CancelRequest(response.WatchId));
                    }
                    else
                    {
                        watcher.WatchId = response.WatchId;
                        _byId[response.WatchId] = watcher;
                        watcher.OnCreated(response);
                    }
                }

                if (StartNextCreateLocked() is { } next)
                {
                    (replies ??= []).Add(next);
                }
            }
            else if (response.WatchId == -1)
            {
                // An answer to a progress request: it belongs to every watch on the stream.
                if (!response.Canceled && response.Events.Count == 0)
                {
                    foreach (Watcher watcher in _byId.Values)
                    {
                        watcher.OnProgress(response.Clone(), advance: false);
                    }
                }
            }
            else if (_byId.TryGetValue(response.WatchId, out Watcher? watcher))
            {
                if (response.Canceled || response.CompactRevision != 0)
                {
                    _byId.Remove(response.WatchId);
                    _watchers.Remove(watcher);
                    watcher.WatchId = -1;
                    watcher.Fail(new WatchCanceledException(response.CancelReason, response.CompactRevision));
                }
                else
                {
                    watcher.OnResponse(response);
                }
            }
            else if (!response.Canceled && _cancelSent.Add(response.WatchId))
            {
                // Events for a watch we no longer have (cancelled while they were on their way).
                (replies ??= []).Add(CancelRequest(response.WatchId));
            }
        }

        return replies;
    }

    private WatchRequest? StartNextCreateLocked()
    {
        while (_pending.TryDequeue(out Watcher? watcher))
        {
            if (!watcher.Detached && !watcher.Failed)
            {
                _creating = watcher;
                return new WatchRequest { CreateRequest = watcher.CreateRequest() };
            }
        }

        return null;
    }

    private void RequeueLocked()
    {
        _pending.Clear();
        _byId.Clear();
        _cancelSent.Clear();
        _creating = null;
        foreach (Watcher watcher in _watchers)
        {
            watcher.OnStreamLost();
            _pending.Enqueue(watcher);
        }
    }

    private void FailAll(Exception failure)
    {
        lock (_gate)
        {
            _closed = true;
            foreach (Watcher watcher in _watchers)
            {
                watcher.Fail(failure);
            }

            _watchers.Clear();
            _pending.Clear();
            _byId.Clear();
        }

        _owner.Remove(this);
    }

    private static WatchRequest CancelRequest(long watchId) =>
        new() { CancelRequest = new WatchCancelRequest { WatchId = watchId } };

    private void Send(GrpcClientCall? call, WatchRequest? request)
    {
        if (call is not null && request is not null)
        {
            _ = SendAsync(call, request);
        }
    }

    private async Task SendAsync(GrpcClientCall call, WatchRequest request)
    {
        byte[] bytes = request.ToByteArray();
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await call.WriteAsync(bytes).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GrpcStatusException or ObjectDisposedException or InvalidOperationException or IOException or OperationCanceledException)
        {
            // The call is broken or closed; the reading side sees it and reconnects (or has closed).
        }
        finally
        {
            _sendLock.Release();
        }
    }
}
