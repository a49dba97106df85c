using Dotcd.Raft.Confchange;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft;

/// <summary>
/// The Raft state machine of one node (etcd's raft struct): roles, elections, replication, reads,
/// membership. Inputs arrive through Step and Tick; outputs collect in Messages, ReadStates and the
/// log's unstable tail until RawNode hands them to the host in a Ready.
/// Files: Raft.cs (state, roles, ticks), Raft.Step.cs (inputs every role handles, follower and
/// candidate), Raft.Leader.cs (the leader), Raft.Config.cs (membership and snapshots).
/// </summary>
internal sealed partial class Raft
{
    public const ulong None = 0;

    // The MsgVote context that marks a campaign started by a leader transfer: it may disturb a leader lease.
    private static readonly byte[] s_campaignTransfer = "CampaignTransfer"u8.ToArray();

    private readonly ulong _maxMsgSize;          // Byte cap of the entries in one MsgApp.
    private readonly ulong _maxUncommittedSize;  // Byte cap of the leader's uncommitted tail (PayloadSize).
    private readonly int _heartbeatTimeout;
    private readonly int _electionTimeout;
    private readonly bool _checkQuorum;
    private readonly bool _preVote;
    private readonly bool _disableProposalForwarding;
    private readonly IRaftRandom _random;
    private readonly RaftLogSink _log;

    // MsgReadIndex received before the leader committed an entry of its own term: until then its
    // commit index may lag what an older leader committed, so the reads wait (etcd issue 12680).
    private List<Message> _pendingReadIndexMessages = [];

    public ulong Id { get; }

    // Persistent (HardState): Term never decreases; Vote is whom we voted for in Term (None if nobody).
    public ulong Term { get; private set; }
    public ulong Vote { get; private set; }

    public RaftLog RaftLog { get; }

    public ProgressTracker Tracker { get; private set; }

    public StateType State { get; private set; }

    /// <summary>Whether this node is a learner in the current configuration.</summary>
    public bool IsLearner { get; private set; }

    /// <summary>Outgoing messages, drained by RawNode.Ready.</summary>
    public List<Message> Messages { get; private set; } = [];

    /// <summary>Answered read requests, drained by RawNode.Ready.</summary>
    public List<ReadState> ReadStates { get; set; } = [];

    public ulong Lead { get; private set; }

    /// <summary>The target of a leader transfer in progress, or None.</summary>
    public ulong LeadTransferee { get; private set; }

    // Only one conf change may be pending (in the log, not yet applied): the leader refuses a
    // second one while PendingConfIndex > Applied. Set to the last index on becoming leader
    // because the new leader cannot know what its log holds above Applied.
    public ulong PendingConfIndex { get; private set; }

    // Payload bytes the leader appended but has not seen committed (an estimate; see Advance).
    public ulong UncommittedSize { get; private set; }

    public ReadOnly ReadOnly { get; private set; }

    // Ticks since the last election timeout reset (follower/candidate: since hearing from a leader
    // or granting a vote; leader: since the last quorum check).
    public int ElectionElapsed { get; set; }

    // Ticks since the last heartbeat (leader only).
    public int HeartbeatElapsed { get; private set; }

    // In [electionTimeout, 2*electionTimeout), drawn anew on every role change.
    public int RandomizedElectionTimeout { get; private set; }

    public Raft(RaftConfig config)
    {
        config.Validate();
        if (config.Storage is null) throw new RaftConfigException("storage cannot be nil");
        _log = new RaftLogSink(config.Logger ?? NullRaftLogger.Instance);
        ulong maxCommittedSize = config.MaxCommittedSizePerReady == 0 ? config.MaxSizePerMsg : config.MaxCommittedSizePerReady;
        RaftLog = new RaftLog(config.Storage, _log, maxCommittedSize);
        RaftInitialState initial = config.Storage.InitialState();

        Id = config.Id;
        Lead = None;
        _maxMsgSize = config.MaxSizePerMsg;
        _maxUncommittedSize = config.MaxUncommittedEntriesSize == 0 ? EntrySizes.NoLimit : config.MaxUncommittedEntriesSize;
        Tracker = new ProgressTracker(config.MaxInflightMsgs);
        _electionTimeout = config.ElectionTick;
        _heartbeatTimeout = config.HeartbeatTick;
        _checkQuorum = config.CheckQuorum;
        _preVote = config.PreVote;
        ReadOnly = new ReadOnly(config.ReadOnlyOption);
        _disableProposalForwarding = config.DisableProposalForwarding;
        _random = config.Random;

        RestoreConfig(initial.ConfState);

        if (!initial.HardState.IsEmpty) LoadState(initial.HardState);
        if (config.Applied > 0) RaftLog.AppliedTo(config.Applied);
        BecomeFollower(Term, None);

        if (_log.IsEnabled(RaftLogLevel.Info))
        {
            string peers = string.Join(",", Tracker.VoterNodes().Select(n => n.ToString("x")));
            _log.Log(RaftLogLevel.Info,
                $"newRaft {Id:x} [peers: [{peers}], term: {Term}, commit: {RaftLog.Committed}, applied: {RaftLog.Applied}, lastindex: {RaftLog.LastIndex()}, lastterm: {RaftLog.LastTerm()}]");
        }
    }

    public RaftLogSink Log => _log;

    public bool HasLeader => Lead != None;

    public SoftState SoftState => new(Lead, State);

    public HardState HardState => new(Term, Vote, RaftLog.Committed);

    /// <summary>Whether this node may campaign: it is a voter of the current configuration.</summary>
    public bool Promotable => Tracker.Progress.TryGetValue(Id, out Progress? pr) && !pr.IsLearner;

    /// <summary>
    /// Queues a message, stamping From and (except for vote traffic, which carries its own term,
    /// and proposals/read requests, which are not bound to a term) the current term.
    /// </summary>
    private void Send(Message m)
    {
        ulong term;
        if (m.Type is MessageType.MsgVote or MessageType.MsgVoteResp or MessageType.MsgPreVote or MessageType.MsgPreVoteResp)
        {
            if (m.Term == 0) throw _log.Panic($"term should be set when sending {m.Type}");
            term = m.Term;
        }
        else
        {
            if (m.Term != 0) throw _log.Panic($"term should not be set when sending {m.Type} (was {m.Term})");
            // A proposal or read request forwarded to the leader keeps term 0: it is a local message there.
            term = m.Type is MessageType.MsgProp or MessageType.MsgReadIndex ? 0 : Term;
        }
        Messages.Add(m with { From = Id, Term = term });
    }

    /// <summary>Hands the queued messages to the caller and starts a new queue.</summary>
    public List<Message> TakeMessages()
    {
        List<Message> messages = Messages;
        Messages = [];
        return messages;
    }

    /// <summary>
    /// Called by RawNode.Advance with the Ready the host handled: moves applied, lets the leader
    /// leave a joint config automatically, and marks entries and snapshot stable.
    /// </summary>
    public void Advance(Ready ready)
    {
        ulong appliedIndex = ready.CommittedEntries.Count > 0
            ? ready.CommittedEntries[^1].Index
            : ready.Snapshot?.Metadata.Index ?? 0;
        if (appliedIndex > 0)
        {
            RaftLog.AppliedTo(appliedIndex);
            if (Tracker.Config.AutoLeave && appliedIndex >= PendingConfIndex && State == StateType.Leader)
            {
                // The joint config is applied: propose leaving it. An empty ConfChangeV2 is the
                // leave request; PendingConfIndex then keeps further changes out until it applies.
                var entry = new Entry(0, 0, EntryType.ConfChangeV2, ConfChangeCodec.Encode(new ConfChangeV2()));
                if (AppendEntry([entry]))
                {
                    _log.Log(RaftLogLevel.Info, $"initiating automatic transition out of joint configuration {Tracker.Config}");
                    // Send it now rather than at the next heartbeat response (etcd waits for that).
                    BroadcastAppend();
                }
                // Whether appended or dropped (uncommitted size limit), nothing more happens until
                // the log applies this far: then the leave entry is applied, or the next try made.
                PendingConfIndex = RaftLog.LastIndex();
            }
        }
        ReduceUncommittedSize(ready.CommittedEntries);

        if (ready.Entries.Count > 0)
        {
            Entry last = ready.Entries[^1];
            RaftLog.StableTo(last.Index, last.Term);
        }
        if (ready.Snapshot is { IsEmpty: false } snapshot) RaftLog.StableSnapTo(snapshot.Metadata.Index);
    }

    /// <summary>Moves the commit index to what a quorum acknowledged, if that entry is of the current term.</summary>
    private bool MaybeCommit() => RaftLog.MaybeCommit(Tracker.Committed(), Term);

    /// <summary>Resets the volatile state every role change starts from; a new term clears the vote.</summary>
    private void Reset(ulong term)
    {
        if (Term != term)
        {
            Term = term;
            Vote = None;
        }
        Lead = None;
        ElectionElapsed = 0;
        HeartbeatElapsed = 0;
        ResetRandomizedElectionTimeout();
        AbortLeaderTransfer();
        Tracker.ResetVotes();

        ulong lastIndex = RaftLog.LastIndex();
        Tracker.Visit((id, pr) =>
        {
            pr.Match = id == Id ? lastIndex : 0;
            pr.Next = lastIndex + 1;
            pr.State = ProgressState.Probe;
            pr.PendingSnapshot = 0;
            pr.RecentActive = false;
            pr.ProbeSent = false;
            pr.Inflights = new Inflights(Tracker.MaxInflight);
        });

        PendingConfIndex = 0;
        UncommittedSize = 0;
        // Reads waiting for this leadership are dropped with it; the host retries them (as etcd's server does).
        ReadOnly = new ReadOnly(ReadOnly.Option);
        _pendingReadIndexMessages = [];
    }

    /// <summary>The leader appends its own entries (stamping term and index); false when the uncommitted size limit drops them.</summary>
    private bool AppendEntry(IReadOnlyList<Entry> entries)
    {
        ulong lastIndex = RaftLog.LastIndex();
        var stamped = new Entry[entries.Count];
        for (int i = 0; i < entries.Count; i++)
            stamped[i] = entries[i] with { Term = Term, Index = lastIndex + 1 + (ulong)i };

        if (!IncreaseUncommittedSize(stamped))
        {
            _log.Log(RaftLogLevel.Debug,
                $"{Id:x} appending new entries to log would exceed uncommitted entry size limit; dropping proposal");
            return false;
        }
        lastIndex = RaftLog.Append(stamped);
        Tracker.Progress[Id].MaybeUpdate(lastIndex);
        // A single voter commits at once; others wait for MsgAppResp.
        MaybeCommit();
        return true;
    }

    public void Tick()
    {
        if (State == StateType.Leader) TickHeartbeat();
        else TickElection();
    }

    // Followers and candidates: campaign when no leader was heard for an election timeout.
    private void TickElection()
    {
        ElectionElapsed++;
        if (Promotable && PastElectionTimeout)
        {
            ElectionElapsed = 0;
            Step(new Message { From = Id, Type = MessageType.MsgHup });
        }
    }

    // Leader: heartbeat every heartbeat timeout; check quorum and give up a stalled transfer every election timeout.
    private void TickHeartbeat()
    {
        HeartbeatElapsed++;
        ElectionElapsed++;

        if (ElectionElapsed >= _electionTimeout)
        {
            ElectionElapsed = 0;
            if (_checkQuorum) Step(new Message { From = Id, Type = MessageType.MsgCheckQuorum });
            // The transfer did not finish within an election timeout: the leader takes proposals again.
            if (State == StateType.Leader && LeadTransferee != None) AbortLeaderTransfer();
        }

        if (State != StateType.Leader) return;

        if (HeartbeatElapsed >= _heartbeatTimeout)
        {
            HeartbeatElapsed = 0;
            Step(new Message { From = Id, Type = MessageType.MsgBeat });
        }
    }

    public void BecomeFollower(ulong term, ulong lead)
    {
        Reset(term);
        Lead = lead;
        State = StateType.Follower;
        _log.Log(RaftLogLevel.Info, $"{Id:x} became follower at term {Term}");
    }

    public void BecomeCandidate()
    {
        if (State == StateType.Leader) throw _log.Panic("invalid transition [leader -> candidate]");
        Reset(Term + 1);
        Vote = Id;
        State = StateType.Candidate;
        _log.Log(RaftLogLevel.Info, $"{Id:x} became candidate at term {Term}");
    }

    public void BecomePreCandidate()
    {
        if (State == StateType.Leader) throw _log.Panic("invalid transition [leader -> pre-candidate]");
        // A pre-candidate keeps its term and vote: a pre-election changes nothing durable.
        Tracker.ResetVotes();
        Lead = None;
        State = StateType.PreCandidate;
        _log.Log(RaftLogLevel.Info, $"{Id:x} became pre-candidate at term {Term}");
    }

    public void BecomeLeader()
    {
        if (State == StateType.Follower) throw _log.Panic("invalid transition [follower -> leader]");
        Reset(Term);
        Lead = Id;
        State = StateType.Leader;
        // Our own progress is trivially replicated; the state only matters for Status.
        Tracker.Progress[Id].BecomeReplicate();

        // Entries above Applied may hold a conf change we cannot see yet: treat them as pending.
        PendingConfIndex = RaftLog.LastIndex();

        // An empty entry of our term: committing it commits everything before it (§5.4.2).
        var empty = new Entry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty);
        if (!AppendEntry([empty])) throw _log.Panic("empty entry was dropped");
        // It does not count against the uncommitted size (it has no payload anyway).
        ReduceUncommittedSize([empty]);
        _log.Log(RaftLogLevel.Info, $"{Id:x} became leader at term {Term}");
    }

    private void LoadState(HardState state)
    {
        if (state.Commit < RaftLog.Committed || state.Commit > RaftLog.LastIndex())
            throw _log.Panic($"{Id:x} state.commit {state.Commit} is out of range [{RaftLog.Committed}, {RaftLog.LastIndex()}]");
        RaftLog.CommitTo(state.Commit);
        Term = state.Term;
        Vote = state.Vote;
    }

    private bool PastElectionTimeout => ElectionElapsed >= RandomizedElectionTimeout;

    private void ResetRandomizedElectionTimeout() =>
        RandomizedElectionTimeout = _electionTimeout + _random.Next(_electionTimeout);

    private void AbortLeaderTransfer() => LeadTransferee = None;

    private bool IncreaseUncommittedSize(IReadOnlyList<Entry> entries)
    {
        ulong size = EntrySizes.PayloadSize(entries);
        // Always admit a proposal when nothing is uncommitted, so one large entry cannot wedge the leader.
        if (UncommittedSize > 0 && size > 0 && UncommittedSize + size > _maxUncommittedSize) return false;
        UncommittedSize += size;
        return true;
    }

    private void ReduceUncommittedSize(IReadOnlyList<Entry> entries)
    {
        // Entries from an earlier term (committed after a leader change) were never counted, so
        // this can undershoot; it never goes below zero.
        if (UncommittedSize == 0) return;
        ulong size = EntrySizes.PayloadSize(entries);
        UncommittedSize = size > UncommittedSize ? 0 : UncommittedSize - size;
    }
}
