using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Client;

/// <summary>
/// The keepalive loop of one client (clientv3's design): one LeaseKeepAlive stream carries the
/// renewals of every kept-alive lease. A lease is renewed a third of its TTL after the last
/// answer, and again every 500 ms while an answer is missing; it is lost when the server answers
/// TTL 0 (expired or revoked) or when its TTL runs out without an answer. A broken stream is
/// reopened after 500 ms on the preferred endpoint; Unavailable and Internal are retried, other
/// statuses end every lease's keepalive with that error. The loop runs only while leases are kept.
/// </summary>
internal sealed class LeaseKeepAliveLoop
{
    private const long RetryMilliseconds = 500;
    private const long FirstAnswerMilliseconds = 5000; // Until the first answer tells the TTL, assume this much.

    private readonly EtcdTransport _transport;
    private readonly SemaphoreSlim _wake = new(0, 1);  // Released when a lease is added or removed.
    private readonly Lock _gate = new();

    // Guarded by _gate.
    private readonly Dictionary<long, LeaseState> _leases = [];
    private bool _running;   // Invariant: true while RunAsync has not decided to exit; it exits only with _leases empty.
    private bool _disposed;

    public LeaseKeepAliveLoop(EtcdTransport transport) => _transport = transport;

    private static long Now => Environment.TickCount64;

    public LeaseKeepAlive Add(long leaseId)
    {
        var handle = new LeaseKeepAlive(this, leaseId);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_leases.TryGetValue(leaseId, out LeaseState? state))
            {
                state = new LeaseState { NextSendAt = Now, DeadlineAt = Now + FirstAnswerMilliseconds };
                _leases.Add(leaseId, state);
            }

            state.Handles.Add(handle);
            if (!_running)
            {
                _running = true;
                _ = Task.Run(RunAsync);
            }
        }

        Wake();
        return handle;
    }

    public void Remove(LeaseKeepAlive handle)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(handle.LeaseId, out LeaseState? state) && state.Handles.Remove(handle) && state.Handles.Count == 0)
            {
                _leases.Remove(handle.LeaseId);
            }
        }

        Wake();
    }

    public void Dispose()
    {
        List<LeaseKeepAlive> handles = [];
        lock (_gate)
        {
            _disposed = true;
            foreach (LeaseState state in _leases.Values)
            {
                handles.AddRange(state.Handles);
            }

            _leases.Clear();
        }

        var failure = new ObjectDisposedException(nameof(EtcdClient), "The etcd client was disposed.");
        handles.ForEach(handle => handle.Fail(failure));
        Wake();
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_leases.Count == 0)
                {
                    _running = false;
                    return;
                }
            }

            Endpoint endpoint = _transport.Preferred;
            using var callStop = new CancellationTokenSource();
            CallOptions options = _transport.CreateCallOptions(default)
                with { Deadline = null, Timeout = null, CancellationToken = callStop.Token };
            Exception? failure;
            using (GrpcClientCall call = endpoint.Channel.StartDuplexStreaming(Methods.LeaseKeepAlive, options))
            {
                Task<Exception?> reading = ReadAsync(call);
                await SendUntilBrokenAsync(call, reading).ConfigureAwait(false);
                callStop.Cancel();
                failure = await reading.ConfigureAwait(false);
            }

            if (failure is not null && IsFinal(failure))
            {
                FailAll(failure is GrpcStatusException status
                    ? new EtcdException(status, endpoint.Address, requestMayHaveBeenSent: true)
                    : new EtcdException(StatusCode.Internal, failure.Message, endpoint.Address, true, failure));
                continue;
            }

            if (failure is GrpcStatusException { StatusCode: StatusCode.Unavailable })
            {
                _transport.ReportUnavailable(endpoint);
            }

            lock (_gate)
            {
                if (_leases.Count == 0)
                {
                    continue; // Closed by us: the loop exits at the top.
                }
            }

            // Deadlines keep running while disconnected: a lease whose TTL runs out is reported lost.
            long retryAt = Now + RetryMilliseconds;
            while (Now < retryAt)
            {
                ExpireOverdue(Now);
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(1, retryAt - Now))).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends due renewals until the stream breaks or no lease is left.</summary>
    private async Task SendUntilBrokenAsync(GrpcClientCall call, Task<Exception?> reading)
    {
        List<long> due = [];
        while (!reading.IsCompleted)
        {
            long now = Now;
            long wakeAt = now + RetryMilliseconds;
            due.Clear();
            ExpireOverdue(now);
            lock (_gate)
            {
                if (_leases.Count == 0)
                {
                    return;
                }

                foreach (KeyValuePair<long, LeaseState> entry in _leases)
                {
                    LeaseState state = entry.Value;
                    if (now >= state.NextSendAt)
                    {
                        due.Add(entry.Key);
                        state.NextSendAt = now + RetryMilliseconds; // Unanswered: ask again soon.
                    }

                    wakeAt = Math.Min(wakeAt, Math.Min(state.NextSendAt, state.DeadlineAt));
                }
            }

            try
            {
                foreach (long leaseId in due)
                {
                    await call.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }.ToByteArray()).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is GrpcStatusException or InvalidOperationException or ObjectDisposedException or IOException)
            {
                return; // The read side reports why.
            }

            Task<bool> woken = _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(1, wakeAt - Now)));
            await Task.WhenAny(woken, reading).ConfigureAwait(false);
        }
    }

    /// <summary>Reads answers until the stream ends; returns why it ended (null: it ended OK or no lease is left).</summary>
    private async Task<Exception?> ReadAsync(GrpcClientCall call)
    {
        try
        {
            while (await call.MoveNextAsync().ConfigureAwait(false))
            {
                LeaseKeepAliveResponse response = LeaseKeepAliveResponse.Parser.ParseFrom(call.Current);
                List<LeaseKeepAlive>? lost = null;
                lock (_gate)
                {
                    if (!_leases.TryGetValue(response.ID, out LeaseState? state))
                    {
                        continue;
                    }

                    if (response.TTL <= 0)
                    {
                        _leases.Remove(response.ID);
                        lost = state.Handles;
                    }
                    else
                    {
                        long now = Now;
                        state.NextSendAt = now + response.TTL * 1000 / 3;
                        state.DeadlineAt = now + response.TTL * 1000;
                        state.Handles.ForEach(handle => handle.OnRenewed(response));
                    }
                }

                lost?.ForEach(handle => handle.Fail(new LeaseExpiredException(response.ID, serverConfirmed: true)));
            }

            return null;
        }
        catch (GrpcStatusException e)
        {
            lock (_gate)
            {
                if (_leases.Count == 0)
                {
                    return null; // We closed it.
                }
            }

            return e;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    // clientv3's rule: Unavailable and Internal mean "try again"; anything else is final. A stream
    // cancelled under us (a server shutting down) is tried again too.
    private static bool IsFinal(Exception failure) =>
        failure is not GrpcStatusException { StatusCode: StatusCode.Unavailable or StatusCode.Internal or StatusCode.Cancelled };

    private void ExpireOverdue(long now)
    {
        List<(long LeaseId, List<LeaseKeepAlive> Handles)>? lost = null;
        lock (_gate)
        {
            foreach (KeyValuePair<long, LeaseState> entry in _leases)
            {
                if (now >= entry.Value.DeadlineAt)
                {
                    (lost ??= []).Add((entry.Key, entry.Value.Handles));
                }
            }

            lost?.ForEach(item => _leases.Remove(item.LeaseId));
        }

        lost?.ForEach(item => item.Handles.ForEach(handle => handle.Fail(new LeaseExpiredException(item.LeaseId, serverConfirmed: false))));
    }

    private void FailAll(Exception failure)
    {
        List<LeaseKeepAlive> handles = [];
        lock (_gate)
        {
            foreach (LeaseState state in _leases.Values)
            {
                handles.AddRange(state.Handles);
            }

            _leases.Clear();
        }

        handles.ForEach(handle => handle.Fail(failure));
    }

    private sealed class LeaseState
    {
        public List<LeaseKeepAlive> Handles { get; } = [];

        public long NextSendAt { get; set; }  // Environment.TickCount64 milliseconds.

        public long DeadlineAt { get; set; }  // Past it without an answer, the lease is presumed expired.
    }
}
