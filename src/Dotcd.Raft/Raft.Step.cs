namespace Dotcd.Raft;

internal sealed partial class Raft
{
    private enum CampaignType
    {
        PreElection,
        Election,
        Transfer, // An election a leader asked for (MsgTimeoutNow): it overrides leader leases.
    }

    /// <summary>The entry point of every input: handles terms, elections and votes, then dispatches by role.</summary>
    public RaftError Step(Message m)
    {
        // Terms first. Term 0 marks a local message (ticks, proposals, reports).
        if (m.Term == 0)
        {
        }
        else if (m.Term > Term)
        {
            if (m.Type is MessageType.MsgVote or MessageType.MsgPreVote)
            {
                bool force = m.Context.Span.SequenceEqual(s_campaignTransfer);
                bool inLease = _checkQuorum && Lead != None && ElectionElapsed < _electionTimeout;
                if (!force && inLease)
                {
                    // We heard from a live leader within the election timeout: a vote request now
                    // comes from a node that was cut off, and must not depose that leader.
                    _log.Log(RaftLogLevel.Info,
                        $"{Id:x} [logterm: {RaftLog.LastTerm()}, index: {RaftLog.LastIndex()}, vote: {Vote:x}] ignored {m.Type} from {m.From:x} [logterm: {m.LogTerm}, index: {m.Index}] at term {Term}: lease is not expired (remaining ticks: {_electionTimeout - ElectionElapsed})");
                    return RaftError.None;
                }
            }
            if (m.Type == MessageType.MsgPreVote)
            {
                // A pre-vote never changes our term.
            }
            else if (m.Type == MessageType.MsgPreVoteResp && !m.Reject)
            {
                // A granted pre-vote carries the term we would campaign at; we only move there
                // if the pre-election wins. A rejection's higher term is real and handled below.
            }
            else
            {
                _log.Log(RaftLogLevel.Info,
                    $"{Id:x} [term: {Term}] received a {m.Type} message with higher term from {m.From:x} [term: {m.Term}]");
                if (m.Type is MessageType.MsgApp or MessageType.MsgHeartbeat or MessageType.MsgSnap)
                    BecomeFollower(m.Term, m.From);
                else
                    BecomeFollower(m.Term, None);
            }
        }
        else if (m.Term < Term)
        {
            if ((_checkQuorum || _preVote) && m.Type is MessageType.MsgHeartbeat or MessageType.MsgApp)
            {
                // A leader of an older term: it may have been cut off while we moved on (after a
                // pre-vote or lease loss it cannot learn our term from a vote). Tell it our term so
                // it steps down instead of blocking us forever.
                Send(new Message { To = m.From, Type = MessageType.MsgAppResp });
            }
            else if (m.Type == MessageType.MsgPreVote)
            {
                // Reject so the pre-candidate learns our term and stops trying.
                _log.Log(RaftLogLevel.Info,
                    $"{Id:x} [logterm: {RaftLog.LastTerm()}, index: {RaftLog.LastIndex()}, vote: {Vote:x}] rejected {m.Type} from {m.From:x} [logterm: {m.LogTerm}, index: {m.Index}] at term {Term}");
                Send(new Message { To = m.From, Term = Term, Type = MessageType.MsgPreVoteResp, Reject = true });
            }
            else
            {
                _log.Log(RaftLogLevel.Info,
                    $"{Id:x} [term: {Term}] ignored a {m.Type} message with lower term from {m.From:x} [term: {m.Term}]");
            }
            return RaftError.None;
        }

        switch (m.Type)
        {
            case MessageType.MsgHup:
                Hup();
                break;

            case MessageType.MsgVote:
            case MessageType.MsgPreVote:
                HandleVoteRequest(m);
                break;

            default:
                return State switch
                {
                    StateType.Leader => StepLeader(m),
                    StateType.Candidate or StateType.PreCandidate => StepCandidate(m),
                    _ => StepFollower(m),
                };
        }
        return RaftError.None;
    }

    private void Hup()
    {
        if (State == StateType.Leader)
        {
            _log.Log(RaftLogLevel.Debug, $"{Id:x} ignoring MsgHup because already leader");
            return;
        }
        if (!Promotable)
        {
            _log.Log(RaftLogLevel.Warning, $"{Id:x} is unpromotable and can not campaign; ignoring MsgHup");
            return;
        }
        // A committed but unapplied conf change could make us a non-voter: wait until it is applied.
        int pending = NumberOfPendingConfChanges();
        if (pending != 0 && RaftLog.Committed > RaftLog.Applied)
        {
            _log.Log(RaftLogLevel.Warning,
                $"{Id:x} cannot campaign at term {Term} since there are still {pending} pending configuration changes to apply");
            return;
        }
        _log.Log(RaftLogLevel.Info, $"{Id:x} is starting a new election at term {Term}");
        Campaign(_preVote ? CampaignType.PreElection : CampaignType.Election);
    }

    /// <summary>Conf change entries (either format) among the committed, unapplied entries.</summary>
    private int NumberOfPendingConfChanges()
    {
        // Entries under FirstIndex are covered by a pending snapshot, which carries its ConfState.
        ulong low = Math.Max(RaftLog.Applied + 1, RaftLog.FirstIndex());
        ulong high = RaftLog.Committed + 1;
        if (low >= high) return 0;
        StorageError err = RaftLog.Slice(low, high, EntrySizes.NoLimit, out IReadOnlyList<Entry> entries);
        if (err != StorageError.None) throw _log.Panic($"unexpected error getting unapplied entries ({err})");
        int n = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Type is EntryType.ConfChange or EntryType.ConfChangeV2) n++;
        }
        return n;
    }

    private void HandleVoteRequest(Message m)
    {
        // We may vote for the candidate if: we already did in this term (a repeated request), or we
        // have neither voted nor know a leader in this term, or it is a pre-vote for a later term
        // (a pre-vote promises nothing).
        bool canVote = Vote == m.From ||
                       (Vote == None && Lead == None) ||
                       (m.Type == MessageType.MsgPreVote && m.Term > Term);
        if (canVote && RaftLog.IsUpToDate(m.Index, m.LogTerm))
        {
            _log.Log(RaftLogLevel.Info,
                $"{Id:x} [logterm: {RaftLog.LastTerm()}, index: {RaftLog.LastIndex()}, vote: {Vote:x}] cast {m.Type} for {m.From:x} [logterm: {m.LogTerm}, index: {m.Index}] at term {Term}");
            // The response carries the request's term, not ours: for a pre-vote ours is lower, and
            // the pre-candidate would ignore a response from the past.
            Send(new Message { To = m.From, Term = m.Term, Type = VoteResponseType(m.Type) });
            if (m.Type == MessageType.MsgVote)
            {
                // Only a real vote is recorded, and it postpones our own campaign.
                ElectionElapsed = 0;
                Vote = m.From;
            }
        }
        else
        {
            _log.Log(RaftLogLevel.Info,
                $"{Id:x} [logterm: {RaftLog.LastTerm()}, index: {RaftLog.LastIndex()}, vote: {Vote:x}] rejected {m.Type} from {m.From:x} [logterm: {m.LogTerm}, index: {m.Index}] at term {Term}");
            Send(new Message { To = m.From, Term = Term, Type = VoteResponseType(m.Type), Reject = true });
        }
    }

    private static MessageType VoteResponseType(MessageType type) => type switch
    {
        MessageType.MsgVote => MessageType.MsgVoteResp,
        MessageType.MsgPreVote => MessageType.MsgPreVoteResp,
        _ => throw new RaftInvariantException($"not a vote message: {type}"),
    };

    private void Campaign(CampaignType type)
    {
        if (!Promotable)
        {
            // Callers check first; a learner or removed node must never campaign.
            _log.Log(RaftLogLevel.Warning, $"{Id:x} is unpromotable; campaign() should have been called");
        }
        ulong term;
        MessageType voteMsg;
        if (type == CampaignType.PreElection)
        {
            BecomePreCandidate();
            voteMsg = MessageType.MsgPreVote;
            // Ask for votes at the term we would campaign at, without moving there yet.
            term = Term + 1;
        }
        else
        {
            BecomeCandidate();
            voteMsg = MessageType.MsgVote;
            term = Term;
        }
        // Our own vote first: a single voter wins at once.
        if (Poll(Id, VoteResponseType(voteMsg), true).Result == Quorum.VoteResult.Won)
        {
            if (type == CampaignType.PreElection) Campaign(CampaignType.Election);
            else BecomeLeader();
            return;
        }

        ReadOnlyMemory<byte> context = type == CampaignType.Transfer ? s_campaignTransfer : ReadOnlyMemory<byte>.Empty;
        foreach (ulong id in Tracker.Config.Voters.Ids())
        {
            if (id == Id) continue;
            _log.Log(RaftLogLevel.Info,
                $"{Id:x} [logterm: {RaftLog.LastTerm()}, index: {RaftLog.LastIndex()}] sent {voteMsg} request to {id:x} at term {Term}");
            Send(new Message
            {
                Term = term,
                To = id,
                Type = voteMsg,
                Index = RaftLog.LastIndex(),
                LogTerm = RaftLog.LastTerm(),
                Context = context,
            });
        }
    }

    private (int Granted, int Rejected, Quorum.VoteResult Result) Poll(ulong id, MessageType type, bool granted)
    {
        if (granted) _log.Log(RaftLogLevel.Info, $"{Id:x} received {type} from {id:x} at term {Term}");
        else _log.Log(RaftLogLevel.Info, $"{Id:x} received {type} rejection from {id:x} at term {Term}");
        Tracker.RecordVote(id, granted);
        return Tracker.TallyVotes();
    }

    private RaftError StepCandidate(Message m)
    {
        // A pre-candidate counts only pre-vote responses, a candidate only vote responses; stale
        // responses of the other kind are ignored.
        MessageType myVoteResponse = State == StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
        switch (m.Type)
        {
            case MessageType.MsgProp:
                _log.Log(RaftLogLevel.Info, $"{Id:x} no leader at term {Term}; dropping proposal");
                return RaftError.ProposalDropped;

            // A leader of our term (m.Term == Term here) exists: follow it.
            case MessageType.MsgApp:
                BecomeFollower(m.Term, m.From);
                HandleAppendEntries(m);
                break;
            case MessageType.MsgHeartbeat:
                BecomeFollower(m.Term, m.From);
                HandleHeartbeat(m);
                break;
            case MessageType.MsgSnap:
                BecomeFollower(m.Term, m.From);
                HandleSnapshot(m);
                break;

            case var t when t == myVoteResponse:
                var (granted, rejected, result) = Poll(m.From, m.Type, !m.Reject);
                _log.Log(RaftLogLevel.Info, $"{Id:x} has received {granted} {m.Type} votes and {rejected} vote rejections");
                switch (result)
                {
                    case Quorum.VoteResult.Won:
                        if (State == StateType.PreCandidate)
                        {
                            Campaign(CampaignType.Election);
                        }
                        else
                        {
                            BecomeLeader();
                            BroadcastAppend();
                        }
                        break;
                    case Quorum.VoteResult.Lost:
                        // A rejected pre-candidate returns to the term it is at; so does a candidate
                        // (its term already moved, which a vote rejection at that term cannot undo).
                        BecomeFollower(Term, None);
                        break;
                }
                break;

            case MessageType.MsgTimeoutNow:
                _log.Log(RaftLogLevel.Debug, $"{Id:x} [term {Term} state {State}] ignored MsgTimeoutNow from {m.From:x}");
                break;
        }
        return RaftError.None;
    }

    private RaftError StepFollower(Message m)
    {
        switch (m.Type)
        {
            case MessageType.MsgProp:
                if (Lead == None)
                {
                    _log.Log(RaftLogLevel.Info, $"{Id:x} no leader at term {Term}; dropping proposal");
                    return RaftError.ProposalDropped;
                }
                if (_disableProposalForwarding)
                {
                    _log.Log(RaftLogLevel.Info, $"{Id:x} not forwarding to leader {Lead:x} at term {Term}; dropping proposal");
                    return RaftError.ProposalDropped;
                }
                Send(m with { To = Lead, Term = 0 }); // Send restamps the term.
                break;

            case MessageType.MsgApp:
                ElectionElapsed = 0;
                Lead = m.From;
                HandleAppendEntries(m);
                break;
            case MessageType.MsgHeartbeat:
                ElectionElapsed = 0;
                Lead = m.From;
                HandleHeartbeat(m);
                break;
            case MessageType.MsgSnap:
                ElectionElapsed = 0;
                Lead = m.From;
                HandleSnapshot(m);
                break;

            case MessageType.MsgTransferLeader:
                if (Lead == None)
                {
                    _log.Log(RaftLogLevel.Info, $"{Id:x} no leader at term {Term}; dropping leader transfer msg");
                    return RaftError.None;
                }
                Send(m with { To = Lead, Term = 0 }); // Send restamps the term.
                break;

            case MessageType.MsgTimeoutNow:
                if (Promotable)
                {
                    _log.Log(RaftLogLevel.Info,
                        $"{Id:x} [term {Term}] received MsgTimeoutNow from {m.From:x} and starts an election to get leadership.");
                    // Leadership transfer never uses a pre-vote: the old leader asked for it, and
                    // the forced campaign gets past the voters' leader leases.
                    Campaign(CampaignType.Transfer);
                }
                else
                {
                    _log.Log(RaftLogLevel.Info, $"{Id:x} received MsgTimeoutNow from {m.From:x} but is not promotable");
                }
                break;

            case MessageType.MsgReadIndex:
                if (Lead == None)
                {
                    _log.Log(RaftLogLevel.Info, $"{Id:x} no leader at term {Term}; dropping index reading msg");
                    return RaftError.None;
                }
                Send(m with { To = Lead, Term = 0 }); // Send restamps the term.
                break;

            case MessageType.MsgReadIndexResp:
                if (m.Entries.Count != 1)
                {
                    _log.Log(RaftLogLevel.Error,
                        $"{Id:x} invalid format of MsgReadIndexResp from {m.From:x}, entries count: {m.Entries.Count}");
                    return RaftError.None;
                }
                ReadStates.Add(new ReadState(m.Index, m.Entries[0].Data));
                break;
        }
        return RaftError.None;
    }

    private void HandleAppendEntries(Message m)
    {
        if (m.Index < RaftLog.Committed)
        {
            // Everything up to Committed is already settled: tell the leader where we are.
            Send(new Message { To = m.From, Type = MessageType.MsgAppResp, Index = RaftLog.Committed });
            return;
        }

        if (RaftLog.MaybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries, out ulong lastNewIndex))
        {
            Send(new Message { To = m.From, Type = MessageType.MsgAppResp, Index = lastNewIndex });
            return;
        }

        // Our log does not match at m.Index. Hint the leader at the largest (index, term) where the
        // logs may still match: no entry of ours with a term above m.LogTerm can match the leader's
        // entries at or below m.Index, so a follower with a long divergent tail of a stale term is
        // found in one round trip per term instead of one per entry.
        ulong hintIndex = Math.Min(m.Index, RaftLog.LastIndex());
        (hintIndex, ulong hintTerm) = RaftLog.FindConflictByTerm(hintIndex, m.LogTerm);
        _log.Log(RaftLogLevel.Debug,
            $"{Id:x} [logterm: {RaftLog.ZeroTermOnCompacted(m.Index)}, index: {m.Index}] rejected MsgApp [logterm: {m.LogTerm}, index: {m.Index}] from {m.From:x}");
        Send(new Message
        {
            To = m.From,
            Type = MessageType.MsgAppResp,
            Index = m.Index,
            Reject = true,
            RejectHint = hintIndex,
            LogTerm = hintTerm,
        });
    }

    private void HandleHeartbeat(Message m)
    {
        // The leader sends min(our match, its commit), so this never passes our log.
        RaftLog.CommitTo(m.Commit);
        Send(new Message { To = m.From, Type = MessageType.MsgHeartbeatResp, Context = m.Context });
    }

    private void HandleSnapshot(Message m)
    {
        Snapshot snapshot = m.Snapshot ?? Snapshot.Empty;
        ulong index = snapshot.Metadata.Index, term = snapshot.Metadata.Term;
        if (Restore(snapshot))
        {
            _log.Log(RaftLogLevel.Info, $"{Id:x} [commit: {RaftLog.Committed}] restored snapshot [index: {index}, term: {term}]");
            Send(new Message { To = m.From, Type = MessageType.MsgAppResp, Index = RaftLog.LastIndex() });
        }
        else
        {
            _log.Log(RaftLogLevel.Info, $"{Id:x} [commit: {RaftLog.Committed}] ignored snapshot [index: {index}, term: {term}]");
            Send(new Message { To = m.From, Type = MessageType.MsgAppResp, Index = RaftLog.Committed });
        }
    }
}
