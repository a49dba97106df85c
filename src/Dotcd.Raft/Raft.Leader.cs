using Dotcd.Raft.Quorum;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft;

internal sealed partial class Raft
{
    private RaftError StepLeader(Message m)
    {
        // Messages that need no follower progress.
        switch (m.Type)
        {
            case MessageType.MsgBeat:
                BroadcastHeartbeat();
                return RaftError.None;

            case MessageType.MsgCheckQuorum:
                // We count ourselves active; the others must have spoken within the last election timeout.
                if (Tracker.Progress.TryGetValue(Id, out Progress? self)) self.RecentActive = true;
                if (!Tracker.QuorumActive())
                {
                    _log.Log(RaftLogLevel.Warning, $"{Id:x} stepped down to follower since quorum is not active");
                    BecomeFollower(Term, None);
                }
                // Start the next observation window (the state may have changed to follower above,
                // which resets progress anyway).
                Tracker.Visit((id, pr) =>
                {
                    if (id != Id) pr.RecentActive = false;
                });
                return RaftError.None;

            case MessageType.MsgProp:
                return HandleProposal(m);

            case MessageType.MsgReadIndex:
                HandleReadIndex(m);
                return RaftError.None;
        }

        // Everything else comes from a follower we must know.
        if (!Tracker.Progress.TryGetValue(m.From, out Progress? pr))
        {
            _log.Log(RaftLogLevel.Debug, $"{Id:x} no progress available for {m.From:x}");
            return RaftError.None;
        }

        switch (m.Type)
        {
            case MessageType.MsgAppResp:
                HandleAppendResponse(m, pr);
                break;

            case MessageType.MsgHeartbeatResp:
                HandleHeartbeatResponse(m, pr);
                break;

            case MessageType.MsgSnapStatus:
                if (pr.State != ProgressState.Snapshot) return RaftError.None;
                if (!m.Reject)
                {
                    pr.BecomeProbe();
                    _log.Log(RaftLogLevel.Debug, $"{Id:x} snapshot succeeded, resumed sending replication messages to {m.From:x} [{pr}]");
                }
                else
                {
                    // The snapshot did not arrive: forget it, so that probing restarts from Match.
                    pr.PendingSnapshot = 0;
                    pr.BecomeProbe();
                    _log.Log(RaftLogLevel.Debug, $"{Id:x} snapshot failed, resumed sending replication messages to {m.From:x} [{pr}]");
                }
                // Wait for the follower's MsgAppResp (or a heartbeat response) before probing again:
                // the snapshot may still be in flight.
                pr.ProbeSent = true;
                break;

            case MessageType.MsgUnreachable:
                // Optimistic pipelining into an unreachable node only loses messages: probe instead.
                if (pr.State == ProgressState.Replicate) pr.BecomeProbe();
                _log.Log(RaftLogLevel.Debug, $"{Id:x} failed to send message to {m.From:x} because it is unreachable [{pr}]");
                break;

            case MessageType.MsgTransferLeader:
                HandleTransferLeader(m, pr);
                break;
        }
        return RaftError.None;
    }

    private RaftError HandleProposal(Message m)
    {
        if (m.Entries.Count == 0) throw _log.Panic($"{Id:x} stepped empty MsgProp");
        if (!Tracker.Progress.ContainsKey(Id))
        {
            // We were removed from the configuration while leading: we cannot commit anything.
            return RaftError.ProposalDropped;
        }
        if (LeadTransferee != None)
        {
            _log.Log(RaftLogLevel.Debug,
                $"{Id:x} [term {Term}] transfer leadership to {LeadTransferee:x} is in progress; dropping proposal");
            return RaftError.ProposalDropped;
        }

        Entry[]? replaced = null;
        for (int i = 0; i < m.Entries.Count; i++)
        {
            Entry e = m.Entries[i];
            if (e.Type is not (EntryType.ConfChange or EntryType.ConfChangeV2)) continue;

            IConfChange cc;
            try
            {
                cc = ConfChangeCodec.Decode(e.Type, e.Data.Span);
            }
            catch (FormatException ex)
            {
                throw _log.Panic($"{Id:x} cannot decode proposed conf change: {ex.Message}");
            }

            bool alreadyPending = PendingConfIndex > RaftLog.Applied;
            bool alreadyJoint = Tracker.Config.Voters.IsJoint;
            bool wantsLeaveJoint = cc.AsV2().Changes.Count == 0;

            string? refused = null;
            if (alreadyPending)
                refused = $"possible unapplied conf change at index {PendingConfIndex} (applied to {RaftLog.Applied})";
            else if (alreadyJoint && !wantsLeaveJoint)
                refused = "must transition out of joint config first";
            else if (!alreadyJoint && wantsLeaveJoint)
                refused = "not in joint state; refusing empty conf change";

            if (refused is not null)
            {
                _log.Log(RaftLogLevel.Info,
                    $"{Id:x} ignoring conf change {DescribeConfChange(cc)} at config {Tracker.Config}: {refused}");
                // Keep the entry's slot (the proposer's indexes stay right) but make it a no-op.
                replaced ??= m.Entries.ToArray();
                replaced[i] = new Entry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty);
            }
            else
            {
                PendingConfIndex = RaftLog.LastIndex() + (ulong)i + 1;
            }
        }

        if (!AppendEntry(replaced ?? m.Entries)) return RaftError.ProposalDropped;
        BroadcastAppend();
        return RaftError.None;
    }

    private static string DescribeConfChange(IConfChange cc)
    {
        ConfChangeV2 v2 = cc.AsV2();
        string changes = string.Join(" ", v2.Changes.Select(c => $"{c.Type}({c.NodeId})"));
        return $"{{Transition:{v2.Transition} Changes:[{changes}]}}";
    }

    private void HandleReadIndex(Message m)
    {
        // A single voter is its own quorum: the read index is simply the commit index.
        if (Tracker.IsSingleton())
        {
            Message? response = ResponseToReadIndexRequest(m, RaftLog.Committed);
            if (response is not null) Send(response);
            return;
        }

        // Until an entry of our term is committed, our commit index may be behind what the
        // previous leader committed (and acknowledged to clients). Hold the read until then.
        if (!CommittedEntryInCurrentTerm())
        {
            _pendingReadIndexMessages.Add(m);
            return;
        }
        SendReadIndexResponse(m);
    }

    private void SendReadIndexResponse(Message m)
    {
        switch (ReadOnly.Option)
        {
            case ReadOnlyOption.Safe:
                // Confirm leadership with a heartbeat round carrying the request's context.
                ReadOnlyMemory<byte> context = m.Entries[0].Data;
                ReadOnly.AddRequest(RaftLog.Committed, m);
                // Our own ack: we certainly consider ourselves leader.
                ReadOnly.RecvAck(Id, context.Span);
                BroadcastHeartbeat(context);
                break;
            case ReadOnlyOption.LeaseBased:
                // CheckQuorum guarantees no other leader was elected within our lease.
                Message? response = ResponseToReadIndexRequest(m, RaftLog.Committed);
                if (response is not null) Send(response);
                break;
        }
    }

    /// <summary>A local request becomes a ReadState; a forwarded one is answered with MsgReadIndexResp (returned).</summary>
    private Message? ResponseToReadIndexRequest(Message request, ulong readIndex)
    {
        if (request.From == None || request.From == Id)
        {
            ReadStates.Add(new ReadState(readIndex, request.Entries[0].Data));
            return null;
        }
        return new Message { Type = MessageType.MsgReadIndexResp, To = request.From, Index = readIndex, Entries = request.Entries };
    }

    private void ReleasePendingReadIndexMessages()
    {
        if (_pendingReadIndexMessages.Count == 0) return;
        if (!CommittedEntryInCurrentTerm())
        {
            _log.Log(RaftLogLevel.Error, $"pending MsgReadIndex should be released only after first commit in current term");
            return;
        }
        List<Message> messages = _pendingReadIndexMessages;
        _pendingReadIndexMessages = [];
        foreach (Message m in messages) SendReadIndexResponse(m);
    }

    private bool CommittedEntryInCurrentTerm() => RaftLog.ZeroTermOnCompacted(RaftLog.Committed) == Term;

    private void HandleAppendResponse(Message m, Progress pr)
    {
        pr.RecentActive = true;

        if (m.Reject)
        {
            _log.Log(RaftLogLevel.Debug,
                $"{Id:x} received MsgAppResp(rejected, hint: (index {m.RejectHint}, term {m.LogTerm})) from {m.From:x} for index {m.Index}");
            // The follower's hint is where its log may match ours. With its term we can skip our
            // own entries of later terms too: the next probe goes to the largest index at or
            // below the hint whose term is <= the follower's term there.
            ulong nextProbeIndex = m.RejectHint;
            if (m.LogTerm > 0) nextProbeIndex = RaftLog.FindConflictByTerm(m.RejectHint, m.LogTerm).Index;
            if (pr.MaybeDecrTo(m.Index, nextProbeIndex))
            {
                _log.Log(RaftLogLevel.Debug, $"{Id:x} decreased progress of {m.From:x} to [{pr}]");
                if (pr.State == ProgressState.Replicate) pr.BecomeProbe();
                SendAppend(m.From);
            }
            return;
        }

        bool oldPaused = pr.IsPaused();
        if (!pr.MaybeUpdate(m.Index)) return;

        switch (pr.State)
        {
            case ProgressState.Probe:
                // The probe found the match point: pipeline from here on.
                pr.BecomeReplicate();
                break;
            case ProgressState.Snapshot when pr.Match >= pr.PendingSnapshot:
                _log.Log(RaftLogLevel.Debug,
                    $"{Id:x} recovered from needing snapshot, resumed sending replication messages to {m.From:x} [{pr}]");
                // Probe first so that Next is set from Match, then replicate.
                pr.BecomeProbe();
                pr.BecomeReplicate();
                break;
            case ProgressState.Replicate:
                pr.Inflights.FreeLE(m.Index);
                break;
        }

        if (MaybeCommit())
        {
            // The commit index moved into our term: held reads can be served, and everyone hears the new commit.
            ReleasePendingReadIndexMessages();
            BroadcastAppend();
        }
        else if (oldPaused)
        {
            // The follower was paused (probe outstanding or window full) and may not have
            // everything: resume it, even with an empty MsgApp.
            SendAppend(m.From);
        }
        // Fill the window with whatever else is waiting (after a large backlog, several messages).
        while (MaybeSendAppend(m.From, sendIfEmpty: false))
        {
        }
        // The transferee caught up: tell it to campaign now.
        if (m.From == LeadTransferee && pr.Match == RaftLog.LastIndex())
        {
            _log.Log(RaftLogLevel.Info, $"{Id:x} sent MsgTimeoutNow to {m.From:x} after received MsgAppResp");
            SendTimeoutNow(m.From);
        }
    }

    private void HandleHeartbeatResponse(Message m, Progress pr)
    {
        pr.RecentActive = true;
        pr.ProbeSent = false;

        // A full window with a live follower: MsgApps were probably lost, free one slot so replication resumes.
        if (pr.State == ProgressState.Replicate && pr.Inflights.Full) pr.Inflights.FreeFirstOne();
        if (pr.Match < RaftLog.LastIndex()) SendAppend(m.From);

        if (ReadOnly.Option != ReadOnlyOption.Safe || m.Context.IsEmpty) return;

        IReadOnlyDictionary<ulong, bool>? acks = ReadOnly.RecvAck(m.From, m.Context.Span);
        if (acks is null || Tracker.Config.Voters.VoteResult(acks) != VoteResult.Won) return;

        // A quorum confirmed we were still leader after these reads arrived.
        foreach (ReadOnly.ReadIndexStatus rs in ReadOnly.Advance(m.Context.Span))
        {
            Message? response = ResponseToReadIndexRequest(rs.Request, rs.Index);
            if (response is not null) Send(response);
        }
    }

    private void HandleTransferLeader(Message m, Progress pr)
    {
        if (pr.IsLearner)
        {
            _log.Log(RaftLogLevel.Debug, $"{Id:x} is learner. Ignored transferring leadership");
            return;
        }
        ulong transferee = m.From;
        ulong last = LeadTransferee;
        if (last != None)
        {
            if (last == transferee)
            {
                _log.Log(RaftLogLevel.Info,
                    $"{Id:x} [term {Term}] transfer leadership to {transferee:x} is in progress, ignores request to same node {transferee:x}");
                return;
            }
            AbortLeaderTransfer();
            _log.Log(RaftLogLevel.Info, $"{Id:x} [term {Term}] abort previous transferring leadership to {last:x}");
        }
        if (transferee == Id)
        {
            _log.Log(RaftLogLevel.Debug, $"{Id:x} is already leader. Ignored transferring leadership to self");
            return;
        }
        _log.Log(RaftLogLevel.Info, $"{Id:x} [term {Term}] starts to transfer leadership to {transferee:x}");
        // The transfer must finish within an election timeout (TickHeartbeat aborts it then).
        ElectionElapsed = 0;
        LeadTransferee = transferee;
        if (pr.Match == RaftLog.LastIndex())
        {
            SendTimeoutNow(transferee);
            _log.Log(RaftLogLevel.Info,
                $"{Id:x} sends MsgTimeoutNow to {transferee:x} immediately as {transferee:x} already has up-to-date log");
        }
        else
        {
            SendAppend(transferee);
        }
    }

    private void SendTimeoutNow(ulong to) => Send(new Message { To = to, Type = MessageType.MsgTimeoutNow });

    private void SendAppend(ulong to) => MaybeSendAppend(to, sendIfEmpty: true);

    /// <summary>
    /// Sends the follower the entries from its Next (a MsgApp, possibly empty when sendIfEmpty), or
    /// a snapshot when those entries are compacted. False when nothing was sent (paused, nothing
    /// new, or no snapshot available).
    /// </summary>
    private bool MaybeSendAppend(ulong to, bool sendIfEmpty)
    {
        Progress pr = Tracker.Progress[to];
        if (pr.IsPaused()) return false;

        StorageError termErr = RaftLog.TryGetTerm(pr.Next - 1, out ulong term);
        StorageError entriesErr = RaftLog.TryGetEntries(pr.Next, _maxMsgSize, out IReadOnlyList<Entry> entries);
        if (entries.Count == 0 && !sendIfEmpty) return false;

        if (termErr != StorageError.None || entriesErr != StorageError.None)
            return MaybeSendSnapshot(to, pr);

        ulong previousIndex = pr.Next - 1; // Before the optimistic update below moves Next.
        if (entries.Count > 0)
        {
            switch (pr.State)
            {
                case ProgressState.Replicate:
                    // Pipeline: assume delivery, and count the message against the window.
                    ulong last = entries[^1].Index;
                    pr.OptimisticUpdate(last);
                    pr.Inflights.Add(last);
                    break;
                case ProgressState.Probe:
                    // One probe at a time until the follower answers.
                    pr.ProbeSent = true;
                    break;
                default:
                    throw _log.Panic($"{Id:x} is sending append in unhandled state {pr.State}");
            }
        }
        Send(new Message
        {
            To = to,
            Type = MessageType.MsgApp,
            Index = previousIndex,
            LogTerm = term,
            Entries = entries,
            Commit = RaftLog.Committed,
        });
        return true;
    }

    private bool MaybeSendSnapshot(ulong to, Progress pr)
    {
        // The entries the follower needs are compacted away.
        if (!pr.RecentActive)
        {
            _log.Log(RaftLogLevel.Debug, $"ignore sending snapshot to {to:x} since it is not recently active");
            return false;
        }
        StorageError err = RaftLog.TryGetSnapshot(out Snapshot snapshot);
        if (err == StorageError.SnapshotTemporarilyUnavailable)
        {
            _log.Log(RaftLogLevel.Debug, $"{Id:x} failed to send snapshot to {to:x} because snapshot is temporarily unavailable");
            return false;
        }
        if (err != StorageError.None) throw _log.Panic($"{Id:x} cannot get snapshot ({err})");
        if (snapshot.IsEmpty) throw _log.Panic("need non-empty snapshot");

        ulong index = snapshot.Metadata.Index, term = snapshot.Metadata.Term;
        _log.Log(RaftLogLevel.Debug,
            $"{Id:x} [firstindex: {RaftLog.FirstIndex()}, commit: {RaftLog.Committed}] sent snapshot[index: {index}, term: {term}] to {to:x} [{pr}]");
        pr.BecomeSnapshot(index);
        _log.Log(RaftLogLevel.Debug, $"{Id:x} paused sending replication messages to {to:x} [{pr}]");
        Send(new Message { To = to, Type = MessageType.MsgSnap, Snapshot = snapshot });
        return true;
    }

    private void SendHeartbeat(ulong to, ReadOnlyMemory<byte> context)
    {
        // Never tell a follower to commit past what it is known to hold: its log may still have
        // a conflicting tail there (an unmatched follower gets 0).
        ulong commit = Math.Min(Tracker.Progress[to].Match, RaftLog.Committed);
        Send(new Message { To = to, Type = MessageType.MsgHeartbeat, Commit = commit, Context = context });
    }

    private void BroadcastAppend()
    {
        Tracker.Visit((id, _) =>
        {
            if (id != Id) SendAppend(id);
        });
    }

    private void BroadcastHeartbeat()
    {
        // Carrying the newest pending read's context lets these acks confirm every pending read.
        byte[]? context = ReadOnly.LastPendingRequestContext();
        BroadcastHeartbeat(context ?? ReadOnlyMemory<byte>.Empty);
    }

    private void BroadcastHeartbeat(ReadOnlyMemory<byte> context)
    {
        Tracker.Visit((id, _) =>
        {
            if (id != Id) SendHeartbeat(id, context);
        });
    }
}
