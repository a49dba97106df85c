namespace Dotcd.Raft;

/// <summary>
/// The thread-unsafe Raft node the host drives: inputs go in (Tick, Step, Propose, ...), a Ready
/// comes out, the host does the IO and calls Advance. See Ready for the host's contract.
/// </summary>
public sealed partial class RawNode
{
    private readonly Raft _raft;
    private readonly IRaftStorage _storage;

    // What the host last saw, so that a Ready carries only changes.
    private SoftState _previousSoftState;
    private HardState _previousHardState;

    // The Ready handed out and not yet advanced; null when none is outstanding.
    private Ready? _outstanding;

    /// <summary>Validates the configuration and restores the node from config.Storage.</summary>
    public RawNode(RaftConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _raft = new Raft(config);
        _storage = config.Storage;
        _previousSoftState = _raft.SoftState;
        _previousHardState = _raft.HardState;
    }

    internal Raft Raft => _raft;

    /// <summary>
    /// Starts a fresh cluster (etcd's RawNode.Bootstrap): on an empty storage, appends one
    /// ConfChange AddNode entry per peer at term 1, commits them and applies the configuration,
    /// so the node can campaign at once. The entries still come out of the next Ready to be
    /// persisted and applied like any others.
    /// </summary>
    public void Bootstrap(IReadOnlyList<Peer> peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (peers.Count == 0) throw new ArgumentException("must provide at least one peer to Bootstrap", nameof(peers));
        if (_outstanding is not null) throw new InvalidOperationException("cannot Bootstrap while a Ready is outstanding");
        if (_storage.LastIndex() != 0) throw new InvalidOperationException("can't bootstrap a nonempty Storage");

        // Nothing is persisted yet: the first Ready must carry a HardState for the host to write.
        _previousHardState = HardState.Empty;

        _raft.BecomeFollower(1, Raft.None);
        var entries = new Entry[peers.Count];
        for (int i = 0; i < peers.Count; i++)
        {
            var cc = new ConfChange(ConfChangeType.AddNode, peers[i].Id, peers[i].Context);
            entries[i] = new Entry(1, (ulong)i + 1, EntryType.ConfChange, ConfChangeCodec.Encode(cc));
        }
        _raft.RaftLog.Append(entries);

        // Committed but not applied: the host sees the conf changes in CommittedEntries and applies
        // them again (adding a present node is a no-op). Applying here first sets each new
        // progress's Next after these entries, which must never be sent as new.
        _raft.RaftLog.CommitTo((ulong)entries.Length);
        foreach (Peer peer in peers)
            _raft.ApplyConfChange(new ConfChange(ConfChangeType.AddNode, peer.Id).AsV2());
    }

    /// <summary>Advances the logical clock by one tick (elections, heartbeats, quorum checks).</summary>
    public void Tick() => _raft.Tick();

    /// <summary>Starts an election now (a pre-election first when PreVote is on).</summary>
    public void Campaign() => _raft.Step(new Message { Type = MessageType.MsgHup });

    /// <summary>Proposes data to be appended to the log; it may still be lost (the host retries).</summary>
    public RaftError Propose(ReadOnlyMemory<byte> data) =>
        _raft.Step(new Message
        {
            Type = MessageType.MsgProp,
            From = _raft.Id,
            Entries = [new Entry(0, 0, EntryType.Normal, data)],
        });

    /// <summary>Proposes a membership change, as a ConfChange entry (v1) or a ConfChangeV2 entry.</summary>
    public RaftError ProposeConfChange(IConfChange cc)
    {
        ArgumentNullException.ThrowIfNull(cc);
        Entry entry = cc.AsV1() is ConfChange v1
            ? new Entry(0, 0, EntryType.ConfChange, ConfChangeCodec.Encode(v1))
            : new Entry(0, 0, EntryType.ConfChangeV2, ConfChangeCodec.Encode(cc.AsV2()));
        return _raft.Step(new Message { Type = MessageType.MsgProp, Entries = [entry] });
    }

    /// <summary>Applies a committed conf change entry's change; returns the resulting configuration.</summary>
    public ConfState ApplyConfChange(IConfChange cc)
    {
        ArgumentNullException.ThrowIfNull(cc);
        return _raft.ApplyConfChange(cc.AsV2());
    }

    /// <summary>Steps a message from a peer. Local-only types give StepLocalMessage; responses from non-members StepPeerNotFound.</summary>
    public RaftError Step(Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (IsLocalMessage(m.Type)) return RaftError.StepLocalMessage;
        if (IsResponseMessage(m.Type) && !_raft.Tracker.Progress.ContainsKey(m.From)) return RaftError.StepPeerNotFound;
        return _raft.Step(m);
    }

    /// <summary>Asks for a read index; the answer comes back as a ReadState carrying requestContext.</summary>
    public void ReadIndex(ReadOnlyMemory<byte> requestContext) =>
        _raft.Step(new Message { Type = MessageType.MsgReadIndex, Entries = [new Entry(0, 0, EntryType.Normal, requestContext)] });

    /// <summary>Asks the leader to hand leadership to transferee.</summary>
    public void TransferLeader(ulong transferee) =>
        _raft.Step(new Message { Type = MessageType.MsgTransferLeader, From = transferee });

    /// <summary>Reports that the last send to id failed: the leader stops pipelining to it.</summary>
    public void ReportUnreachable(ulong id) => _raft.Step(new Message { Type = MessageType.MsgUnreachable, From = id });

    /// <summary>Reports how a snapshot sent to id ended.</summary>
    public void ReportSnapshot(ulong id, SnapshotStatus status) =>
        _raft.Step(new Message { Type = MessageType.MsgSnapStatus, From = id, Reject = status == SnapshotStatus.Failure });

    /// <summary>Whether Ready would return any work.</summary>
    public bool HasReady()
    {
        if (_raft.SoftState != _previousSoftState) return true;
        HardState hs = _raft.HardState;
        if (!hs.IsEmpty && hs != _previousHardState) return true;
        RaftLog log = _raft.RaftLog;
        if (log.Unstable.Snapshot is { IsEmpty: false }) return true;
        return _raft.Messages.Count > 0 || log.Unstable.Count > 0 || log.HasNextEntries() || _raft.ReadStates.Count > 0;
    }

    /// <summary>
    /// The work the host must do now (see Ready). At most one Ready is outstanding: call Advance
    /// after handling it before asking for the next.
    /// </summary>
    public Ready Ready()
    {
        if (_outstanding is not null) throw new InvalidOperationException("Ready called again before Advance");
        RaftLog log = _raft.RaftLog;
        SoftState softState = _raft.SoftState;
        HardState hardState = _raft.HardState;
        IReadOnlyList<Entry> entries = log.UnstableEntries();
        var ready = new Ready
        {
            Entries = entries,
            CommittedEntries = log.NextEntries(),
            Messages = _raft.TakeMessages(),
            SoftState = softState != _previousSoftState ? softState : null,
            HardState = hardState != _previousHardState ? hardState : HardState.Empty,
            Snapshot = log.Unstable.Snapshot,
            ReadStates = _raft.ReadStates.Count > 0 ? _raft.ReadStates : Array.Empty<ReadState>(),
            // Term, vote, log entries and a received snapshot must be durable before any message
            // that relies on them leaves (a MsgAppResp acknowledging a snapshot promises it is on
            // disk; the simulation lost committed entries without this); a commit index alone can
            // be recovered from a quorum.
            MustSync = entries.Count > 0 || log.Unstable.Snapshot is not null ||
                hardState.Vote != _previousHardState.Vote || hardState.Term != _previousHardState.Term,
        };

        // Accepting the Ready: the host now owns these messages and read states.
        if (ready.SoftState is not null) _previousSoftState = softState;
        if (ready.ReadStates.Count > 0) _raft.ReadStates = [];
        _outstanding = ready;
        return ready;
    }

    /// <summary>
    /// Tells the node the last Ready was handled: its entries and snapshot are stable and its
    /// committed entries applied.
    /// </summary>
    public void Advance()
    {
        Ready ready = _outstanding ?? throw new InvalidOperationException("Advance called without an outstanding Ready");
        _outstanding = null;
        if (!ready.HardState.IsEmpty) _previousHardState = ready.HardState;
        _raft.Advance(ready);
    }

    /// <summary>The node's current state; Progress is filled only on the leader.</summary>
    public Status Status()
    {
        var progress = new SortedDictionary<ulong, ProgressStatus>();
        if (_raft.State == StateType.Leader)
        {
            _raft.Tracker.Visit((id, pr) => progress[id] = new ProgressStatus(
                pr.Match, pr.Next, pr.State, pr.IsLearner, pr.RecentActive, pr.IsPaused(),
                pr.Inflights.Count, pr.Inflights.Full, pr.PendingSnapshot));
        }
        return new Status
        {
            Id = _raft.Id,
            HardState = _raft.HardState,
            SoftState = _raft.SoftState,
            Applied = _raft.RaftLog.Applied,
            Config = _raft.Tracker.ConfState(),
            Progress = progress,
            LeadTransferee = _raft.LeadTransferee,
        };
    }

    // Inputs the node makes for itself; a peer must never send them.
    private static bool IsLocalMessage(MessageType type) =>
        type is MessageType.MsgHup or MessageType.MsgBeat or MessageType.MsgUnreachable or
            MessageType.MsgSnapStatus or MessageType.MsgCheckQuorum;

    private static bool IsResponseMessage(MessageType type) =>
        type is MessageType.MsgAppResp or MessageType.MsgVoteResp or MessageType.MsgHeartbeatResp or
            MessageType.MsgUnreachable or MessageType.MsgPreVoteResp;
}
