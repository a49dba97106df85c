using Dotcd.Raft;
using Dotcd.Storage;

namespace Dotcd.Server.RaftLoop;

// The raft thread: the only code that touches the RawNode and the DurableRaftLog.
public sealed partial class RaftNodeHost
{
    private const ulong None = 0; // raft.None: no node.

    private List<Message>? _outgoing; // Reused by Send.

    private void RunRaftThread()
    {
        try
        {
            // Replay first: committed conf changes rebuild raft's configuration before anything else.
            HandleReadies();
            AdvanceTicksIfAlone();

            while (!_stopping.IsCancellationRequested)
            {
                ServiceApplyRequests(allowSnapshots: true);
                if (Interlocked.Exchange(ref _tickPending, 0) != 0) _node.Tick();
                bool more = DrainPeerMessages();
                more |= DrainLocalInputs();
                // Proposals go in after the Readies those inputs caused: _isLeader and _term are then
                // exact, which the leader-change check on pending proposals relies on.
                HandleReadies();
                more |= DrainProposals();
                HandleReadies();
                // A leader that just became known may find proposals that queued while there was none.
                more |= Volatile.Read(ref _lead) != None && _proposals.Reader.Count > 0;
                if (!more) _wake.WaitOne();
            }
        }
        catch (StopRequestedException)
        {
        }
        catch (Exception e)
        {
            RequestStop(e);
        }
        finally
        {
            // Graceful: the apply thread finishes what is queued. Otherwise it was closed already.
            _applyQueue.Complete();
            ThreadLeft();
        }
    }

    // etcd's adjustTicks: a lone voter need not wait a whole election timeout to lead.
    private void AdvanceTicksIfAlone()
    {
        IReadOnlyList<ulong> voters = _node.Status().Config.Voters;
        if (voters.Count != 1 || voters[0] != MemberId) return;
        _logger.Write(StorageLogLevel.Info, "started as single-node; fast-forwarding election ticks",
            ("local-member-id", MemberIds.ToHex(MemberId)), ("forward-ticks", _options.ElectionTicks - 1));
        for (int i = 0; i < _options.ElectionTicks - 1; i++) _node.Tick();
    }

    private void HandleReadies()
    {
        while (_node.HasReady()) HandleReady(_node.Ready());
    }

    // The Ready contract (Ready.cs): persist, then send, then hand to apply, then Advance.
    private void HandleReady(Ready ready)
    {
        // One write and at most one fdatasync for everything in this Ready.
        _log.Save(ready);

        if (!ready.HardState.IsEmpty)
        {
            Volatile.Write(ref _term, ready.HardState.Term);
            Metrics.SetCommitted(ready.HardState.Commit);
        }
        if (ready.SoftState is { } soft) OnSoftState(soft);
        if (ready.ReadStates.Count > 0) _readStates.Writer.TryWrite(ready.ReadStates[^1]);

        ulong lastConfChange = LastConfChangeIndex(ready.CommittedEntries);
        if (lastConfChange == 0) Send(ready.Messages);

        bool hasSnapshot = ready.Snapshot is { IsEmpty: false };
        if (ready.CommittedEntries.Count > 0 || hasSnapshot)
        {
            // Published before the hand-off, so that readers never see applied above committed.
            ulong committed = ready.CommittedEntries.Count > 0 ? ready.CommittedEntries[^1].Index : 0;
            if (hasSnapshot) committed = Math.Max(committed, ready.Snapshot!.Metadata.Index);
            if (committed > Volatile.Read(ref _committedIndex)) Volatile.Write(ref _committedIndex, committed);

            long bytes = 0;
            foreach (Entry entry in ready.CommittedEntries) bytes += entry.Data.Length;
            var batch = new ApplyBatch(hasSnapshot ? ready.Snapshot : null, ready.CommittedEntries, bytes);
            Volatile.Write(ref _raftWaitsForApply, 1); // Before the check: progress after it then sets _wake.
            try
            {
                while (!_applyQueue.TryEnqueue(batch)) WaitForApplyProgress();
            }
            finally
            {
                Volatile.Write(ref _raftWaitsForApply, 0);
            }
        }

        if (lastConfChange != 0)
        {
            // As etcd's followers do: send nothing (votes, acks) until the new configuration is in
            // raft, or a removed member could still be counted.
            Volatile.Write(ref _raftWaitsForApply, 1);
            try
            {
                while (Volatile.Read(ref _appliedIndex) < lastConfChange) WaitForApplyProgress();
            }
            finally
            {
                Volatile.Write(ref _raftWaitsForApply, 0);
            }
            Send(ready.Messages);
        }

        _node.Advance();
    }

    private void OnSoftState(SoftState soft)
    {
        ulong previous = Volatile.Read(ref _lead);
        bool newLeader = soft.Lead != None && soft.Lead != previous;
        bool isLeader = soft.RaftState == StateType.Leader;
        Volatile.Write(ref _lead, soft.Lead);
        Volatile.Write(ref _isLeader, isLeader ? 1 : 0);
        if (newLeader)
        {
            Metrics.LeaderChanged();
            if (isLeader) Volatile.Write(ref _leadElectedTimestamp, _time.GetTimestamp());
            TaskCompletionSource signal = Interlocked.Exchange(ref _leaderChangedSignal, NewSignal());
            signal.TrySetResult();
        }
        if (soft.Lead != previous)
        {
            _logger.Write(StorageLogLevel.Info, soft.Lead == 0 ? "raft.node: lost leader" : "raft.node: elected leader",
                ("local-member-id", MemberIds.ToHex(MemberId)), ("leader", MemberIds.ToHex(soft.Lead)), ("term", Volatile.Read(ref _term)));
        }
        try
        {
            var change = new LeaderChange(soft.Lead, Volatile.Read(ref _term), isLeader);
            _options.OnLeaderChanged?.Invoke(change);
            LeaderChanged?.Invoke(change);
        }
        catch (Exception e)
        {
            _logger.Write(StorageLogLevel.Error, "a leader change handler failed", ("error", e.Message));
        }
    }

    private static ulong LastConfChangeIndex(IReadOnlyList<Entry> entries)
    {
        for (int i = entries.Count - 1; i >= 0; i--)
        {
            if (entries[i].Type != EntryType.Normal) return entries[i].Index;
        }
        return 0;
    }

    // Messages leave only after Save. Like etcd, only the newest MsgAppResp of a Ready is sent:
    // it acknowledges everything the earlier ones did.
    private void Send(IReadOnlyList<Message> messages)
    {
        if (messages.Count == 0) return;
        List<Message> outgoing = _outgoing ??= new List<Message>(messages.Count);
        outgoing.Clear();
        bool sawAppResp = false;
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            Message m = messages[i];
            if (m.To == None) continue;
            if (m.Type == MessageType.MsgAppResp)
            {
                if (sawAppResp) continue;
                sawAppResp = true;
            }
            outgoing.Add(m);
        }
        if (outgoing.Count == 0) return;
        outgoing.Reverse();
        _transport.Send(outgoing.ToArray());
    }

    // One wait for the apply thread (queue room, or an entry applied), with _raftWaitsForApply set
    // so that its progress sets _wake. Conf change requests are served first: the apply thread may
    // need one of those to make the very progress waited for.
    private void WaitForApplyProgress()
    {
        ServiceApplyRequests(allowSnapshots: false);
        if (_stopping.IsCancellationRequested) throw new StopRequestedException();
        _wake.WaitOne();
    }

    // Snapshots are taken only between Readies: compacting the storage while a Ready is out is
    // not something the Ready contract allows.
    private void ServiceApplyRequests(bool allowSnapshots)
    {
        while (_confChangeRequests.TryDequeue(out ConfChangeRequest? request))
        {
            request.Result = _node.ApplyConfChange(request.Change);
            request.Done.Set();
        }
        if (!allowSnapshots) return;
        while (_snapshotRequests.TryDequeue(out SnapshotRequest request))
        {
            Snapshot? snapshot = _log.CreateSnapshot(request.Index, request.ConfState, ReadOnlyMemory<byte>.Empty);
            if (snapshot is null) continue; // A newer snapshot came from the leader meanwhile.
            Metrics.SnapshotSaved();
            _logger.Write(StorageLogLevel.Info, "saved snapshot", ("snapshot-index", request.Index),
                ("local-member-id", MemberIds.ToHex(MemberId)));
        }
    }

    private bool DrainPeerMessages()
    {
        for (int i = 0; i < MaxInputsPerIteration; i++)
        {
            if (!_peerMessages.Reader.TryRead(out Message? message)) return false;
            // Refusals (a local-only type from the network, a response from a removed member) are dropped.
            _ = _node.Step(message);
        }
        return true;
    }

    private bool DrainLocalInputs()
    {
        for (int i = 0; i < MaxInputsPerIteration; i++)
        {
            if (!_localInputs.TryDequeue(out Action<RawNode>? input)) return false;
            input(_node);
        }
        return true;
    }

    // Without a leader proposals wait in the queue (etcd's node stops reading propc), so that
    // they time out or go through once one is elected.
    private bool DrainProposals()
    {
        if (Volatile.Read(ref _lead) == None) return false;
        bool leader = Volatile.Read(ref _isLeader) != 0;
        ulong term = Volatile.Read(ref _term);
        for (int i = 0; i < MaxInputsPerIteration; i++)
        {
            if (!_proposals.Reader.TryRead(out PendingProposal? proposal)) return false;
            if (proposal.IsAbandoned) continue; // Timed out or cancelled while queued.

            RaftError error = proposal.ConfChange is { } change ? _node.ProposeConfChange(change) : _node.Propose(proposal.Data);
            if (error != RaftError.None)
            {
                if (_waiters.TryRemove(proposal.Id, out _)) proposal.Fail(EtcdServerError.ProposalDropped);
                continue;
            }
            // Appended locally at this term: if entries of a later term get applied first, it was overwritten.
            if (leader) Volatile.Write(ref proposal.ProposedTerm, term);
        }
        return true;
    }

    private sealed class StopRequestedException : Exception;
}
