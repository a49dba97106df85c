using System.Threading.Channels;
using Dotcd.Raft;

namespace Dotcd.Server.RaftLoop;

// Proposals, conf changes, leader transfer and inbound peer traffic: the calls other threads make.
public sealed partial class RaftNodeHost
{
    /// <summary>
    /// Proposes a write and returns what applying it produced (etcd's processInternalRaftRequestOnce).
    /// request is an encoded etcdserverpb.InternalRaftRequest; the engine appends header.ID (a fresh
    /// request ID) so the applier can name the waiter. Fails with EtcdServerException: too many
    /// requests (apply lags commit by more than 5000), request is too large, request timed out
    /// (possibly due to previous leader failure), leader changed (the entry was overwritten),
    /// raft proposal dropped, server stopped. Cancelling ct abandons the wait
    /// (OperationCanceledException); the entry may still be applied.
    /// </summary>
    public Task<ApplyResult> ProposeAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        if (Volatile.Read(ref _committedIndex) > Volatile.Read(ref _appliedIndex) + _options.MaxApplyLag)
        {
            throw EtcdServerError.TooManyRequests.ToException();
        }
        ulong id = _ids.Next();
        byte[] data = RequestHeaderStamp.Append(request.Span, id);
        if (data.Length > _options.MaxRequestBytes) throw EtcdServerError.RequestTooLarge.ToException();
        return ProposeCoreAsync(new PendingProposal(id, data, null), cancellationToken);
    }

    /// <summary>
    /// Proposes a membership change (etcd's configure): the engine sets ConfChange.Id to a fresh
    /// request ID and returns the result IApplyTarget.ApplyConfChange gave for it.
    /// </summary>
    public Task<ApplyResult> ProposeConfChangeAsync(ConfChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        ThrowIfStopped();
        ulong id = _ids.Next();
        return ProposeCoreAsync(new PendingProposal(id, ReadOnlyMemory<byte>.Empty, change with { Id = id }), cancellationToken);
    }

    private async Task<ApplyResult> ProposeCoreAsync(PendingProposal proposal, CancellationToken cancellationToken)
    {
        long start = _time.GetTimestamp();
        using var timeout = new CancellationTokenSource(_options.EffectiveRequestTimeout, _time);
        // Not linked to the stop: a graceful stop still answers entries it applies; the stop
        // fails every other waiter itself (and closing the queue fails a waiting write).
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        _waiters[proposal.Id] = proposal;
        Metrics.PendingAdded();
        try
        {
            // Backpressure: waits while the raft thread has this many proposals to take.
            await _proposals.Writer.WriteAsync(proposal, linked.Token).ConfigureAwait(false);
            WakeRaft();
            return await proposal.Completion.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (proposal.Completion.Task.IsCompleted)
        {
            // Completed while the wait was being cancelled: the completion decides.
            return await proposal.Completion.Task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            Metrics.ProposalFailed();
            _waiters.TryRemove(proposal.Id, out _);
            proposal.Completion.TrySetCanceled(); // The raft thread skips it if still queued.
            if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
            if (_stopping.IsCancellationRequested) throw EtcdServerError.Stopped.ToException();
            throw TimeoutError(start).ToException();
        }
        catch (EtcdServerException)
        {
            Metrics.ProposalFailed();
            _waiters.TryRemove(proposal.Id, out _);
            throw;
        }
        finally
        {
            Metrics.PendingRemoved();
        }
    }

    // etcd's parseProposeCtxErr: a request that started within two election timeouts before this
    // member became the new leader probably went to the leader that failed.
    private EtcdServerError TimeoutError(long start)
    {
        long elected = Volatile.Read(ref _leadElectedTimestamp);
        if (elected != 0)
        {
            long window = (long)(2 * _options.ElectionTimeout.TotalSeconds * _time.TimestampFrequency);
            if (start > elected - window && start < elected) return EtcdServerError.TimeoutDueToLeaderFail;
        }
        return EtcdServerError.Timeout;
    }

    /// <summary>Waits until some leader is known.</summary>
    public async Task WaitForLeaderAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ThrowIfStopped();
            Task changed = Volatile.Read(ref _leaderChangedSignal).Task; // Before the check: no change is missed.
            if (Leader != None) return;
            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Hands leadership to transferee and waits until it leads (etcd's MoveLeader): fails with not
    /// leader, bad leader transferee (not a voter), or "leader transfer took too long".
    /// </summary>
    public async Task MoveLeaderAsync(ulong transferee, CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        if (!IsLeader) throw EtcdServerError.NotLeader.ToException();
        if (!ConfState.Voters.Contains(transferee)) throw EtcdServerError.BadLeaderTransferee.ToException();
        if (transferee == MemberId) return;

        _logger.Write(Storage.StorageLogLevel.Info, "leadership transfer starting", ("local-member-id", MemberIds.ToHex(MemberId)),
            ("transferee-member-id", MemberIds.ToHex(transferee)));
        EnqueueLocal(node => node.TransferLeader(transferee));
        using var timeout = new CancellationTokenSource(_options.EffectiveRequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, _stopping.Token);
        try
        {
            while (Leader != transferee)
            {
                Task changed = Volatile.Read(ref _leaderChangedSignal).Task;
                if (Leader == transferee) break;
                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (_stopping.IsCancellationRequested) throw EtcdServerError.Stopped.ToException();
            throw EtcdServerError.TimeoutLeaderTransfer.ToException();
        }
    }

    /// <summary>Hands a message from a peer to raft (etcd's Raft.Process); waits while the inbound queue is full.</summary>
    public async ValueTask StepAsync(Message message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ThrowIfStopped();
        try
        {
            await _peerMessages.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw EtcdServerError.Stopped.ToException();
        }
        WakeRaft();
    }

    /// <summary>The transport could not reach id: the leader stops pipelining to it.</summary>
    public void ReportUnreachable(ulong id) => EnqueueLocal(node => node.ReportUnreachable(id));

    /// <summary>How sending a snapshot to id ended.</summary>
    public void ReportSnapshot(ulong id, SnapshotStatus status) => EnqueueLocal(node => node.ReportSnapshot(id, status));

    private void EnqueueLocal(Action<RawNode> input)
    {
        _localInputs.Enqueue(input);
        WakeRaft();
    }
}
