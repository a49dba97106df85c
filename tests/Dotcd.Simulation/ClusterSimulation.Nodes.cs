using System.Buffers.Binary;
using Dotcd.Raft;
using Dotcd.Simulation.Checkers;

namespace Dotcd.Simulation;

// Hosting members: start and restart from the durable disk, the Ready loop, apply, compaction,
// and the network between members.
public sealed partial class ClusterSimulation
{
    private RaftConfig NewRaftConfig(SimNode node, MemoryStorage storage, ulong applied) => new()
    {
        Id = node.Id,
        ElectionTick = ElectionTicks,
        HeartbeatTick = HeartbeatTicks,
        Storage = storage,
        Applied = applied,
        MaxSizePerMsg = Profile.MaxSizePerMsg,
        MaxInflightMsgs = Profile.MaxInflightMsgs,
        MaxCommittedSizePerReady = Profile.MaxCommittedSizePerReady,
        CheckQuorum = Profile.CheckQuorum,
        PreVote = Profile.PreVote,
        Random = new SeededRaftRandom(_nodeRandom.NextUInt64()),
    };

    /// <summary>Starts a node from its disk: fresh (and bootstrapped when it is a first member) when
    /// the disk is empty, else restarted from the durable snapshot, log, hard state and checkpoint.</summary>
    private void StartNode(SimNode node)
    {
        if (node.Running) return;
        node.Incarnation++;
        node.ForgetVolatile();
        SimDisk disk = node.Disk;
        if (disk.IsEmpty)
        {
            var storage = new MemoryStorage();
            node.Storage = storage;
            node.StateMachine = new KvStateMachine();
            node.Conf = ConfState.Empty;
            node.Term = 0;
            node.CommitSeen = 0;
            node.Raft = new RawNode(NewRaftConfig(node, storage, 0));
            if (node.IsInitialMember)
            {
                var peers = new List<Peer>();
                for (ulong id = 1; id <= (ulong)_members; id++) peers.Add(new Peer(id));
                node.Raft.Bootstrap(peers);
            }
            _appliedOrder.ObservePosition(node.Id, 0, 0, fromSnapshot: false, _now);
            _trace.Record(_now, TraceKind.Start, node.Id, (ulong)node.Incarnation);
            Line($"node {node.Id} starts empty{(node.IsInitialMember ? " (bootstrap)" : "")}");
        }
        else
        {
            MemoryStorage storage = disk.BuildStorage();
            Snapshot snap = disk.Snapshot;
            StateCheckpoint cp = disk.Checkpoint;
            HardState hs = disk.HardState;
            // A snapshot record can outlive the hard state of its Ready (a torn write); the snapshot
            // itself proves its index committed.
            if (hs.Commit < snap.Metadata.Index)
            {
                hs = hs with { Commit = snap.Metadata.Index, Term = Math.Max(hs.Term, snap.Metadata.Term) };
                storage.SetHardState(hs);
            }
            KvStateMachine sm;
            if (cp.Applied > snap.Metadata.Index)
            {
                sm = KvStateMachine.Deserialize(cp.Data);
                node.Conf = cp.ConfState;
                // Raft restores its configuration only from a snapshot, and will not hand back the
                // entries up to Applied: so the checkpoint becomes the storage's snapshot.
                StorageError err = storage.CreateSnapshot(cp.Applied, cp.ConfState, cp.Data, out _);
                if (err != StorageError.None) throw new SimulationException($"node {node.Id}: checkpoint snapshot at {cp.Applied}: {err}");
            }
            else
            {
                sm = KvStateMachine.Deserialize(snap.Data.Span);
                node.Conf = snap.Metadata.ConfState;
            }
            if (sm.Applied != Math.Max(cp.Applied, snap.Metadata.Index))
                throw new SimulationException($"node {node.Id}: restored state machine at {sm.Applied}");
            node.Storage = storage;
            node.StateMachine = sm;
            node.Term = hs.Term;
            node.CommitSeen = hs.Commit;
            node.Raft = new RawNode(NewRaftConfig(node, storage, sm.Applied));
            _appliedOrder.ObservePosition(node.Id, sm.Applied, sm.ChainHash, fromSnapshot: false, _now);
            Fail(_appliedOrder.Failure);
            _trace.Record(_now, TraceKind.Restart, node.Id, (ulong)node.Incarnation, sm.Applied, hs.Commit);
            Line($"node {node.Id} restarts: term={hs.Term} vote={hs.Vote} commit={hs.Commit} snapshot={snap.Metadata.Index} " +
                 $"last={storage.LastIndex()} applied={sm.Applied} conf=[{node.Conf}]");
        }
        node.Role = StateType.Follower;
        ScheduleTick(node);
        Process(node);
    }

    private void ScheduleTick(SimNode node) =>
        _queue.Schedule(_now + node.TickIntervalMs + _nodeRandom.Range(-3, 3), new TickEvent(node.Id, node.Incarnation));

    /// <summary>Power loss: volatile state is gone, unsynced writes are lost (or a prefix survives, torn).</summary>
    private void Crash(SimNode node, bool torn)
    {
        if (!node.Running) return;
        int unsynced = node.Disk.UnsyncedCount;
        int keep = torn && unsynced > 0 ? _faultRandom.Next(unsynced + 1) : 0;
        node.Disk.Crash(keep);
        node.ForgetVolatile();
        Stats.Crashes++;
        _trace.Record(_now, TraceKind.Crash, node.Id, (ulong)unsynced, (ulong)keep);
        Line($"node {node.Id} CRASHES (unsynced records {unsynced}, kept {keep})");
    }

    /// <summary>A removed member shuts down cleanly, as etcd does once it sees its removal.</summary>
    private void Stop(SimNode node)
    {
        node.ShouldRun = false;
        if (!node.Running) return;
        node.Disk.Sync();
        node.ForgetVolatile();
        _trace.Record(_now, TraceKind.Stop, node.Id);
        Line($"node {node.Id} stops (removed from the configuration)");
    }

    private void OnRestart(RestartEvent e)
    {
        SimNode node = _nodes[e.Node];
        if (node.ShouldRun && !node.Running) StartNode(node);
    }

    private void OnTick(TickEvent e)
    {
        SimNode node = _nodes[e.Node];
        if (!node.Running || node.Incarnation != e.Incarnation) return;
        _trace.Record(_now, TraceKind.Tick, node.Id);
        node.Raft!.Tick();
        Process(node);
        if (!node.Running) return;
        // Background flush: unsynced writes (commit-only hard states, checkpoints) reach the disk eventually.
        if (_nodeRandom.Chance(0.3)) node.Disk.Sync();
        ScheduleTick(node);
    }

    private void Process(SimNode node)
    {
        while (_failure is null && node.Running && node.Raft!.HasReady())
        {
            HandleReady(node, node.Raft.Ready());
        }
    }

    private void HandleReady(SimNode node, Ready rd)
    {
        RawNode raft = node.Raft!;
        MemoryStorage storage = node.Storage!;
        _trace.Record(_now, TraceKind.Ready, node.Id, (ulong)rd.Entries.Count, (ulong)rd.CommittedEntries.Count, (ulong)rd.Messages.Count);
        if (_trace.Verbose)
        {
            Line($"node {node.Id} ready: soft={(rd.SoftState is { } s ? $"{s.RaftState}/lead={s.Lead}" : "-")} " +
                 $"hs={(rd.HardState.IsEmpty ? "-" : $"term={rd.HardState.Term} vote={rd.HardState.Vote} commit={rd.HardState.Commit}")} " +
                 $"entries={FormatEntries(rd.Entries)} committed={FormatEntries(rd.CommittedEntries)} " +
                 $"snapshot={(rd.Snapshot is { } sn ? $"{sn.Metadata.Index}/{sn.Metadata.Term}" : "-")} readStates={rd.ReadStates.Count} msgs={rd.Messages.Count} sync={rd.MustSync}");
        }

        bool becameLeader = false;
        if (rd.SoftState is { } soft)
        {
            becameLeader = soft.RaftState == StateType.Leader && node.Role != StateType.Leader;
            node.Role = soft.RaftState;
            node.Lead = soft.Lead;
        }
        if (!rd.HardState.IsEmpty)
        {
            if (rd.HardState.Term < node.Term)
                Fail("term regressed", $"node {node.Id} persisted term {rd.HardState.Term} after {node.Term}");
            node.Term = rd.HardState.Term;
            if (node.Term > Stats.MaxTerm) Stats.MaxTerm = node.Term;
        }

        // 1. Persist: snapshot, entries, hard state (the WAL's order), then fsync when asked to.
        if (rd.Snapshot is { } snapshot)
        {
            node.Disk.WriteReceivedSnapshot(snapshot, HardState.Empty);
            StorageError err = storage.ApplySnapshot(snapshot);
            if (err != StorageError.None) Fail("snapshot", $"node {node.Id} could not apply snapshot {snapshot.Metadata.Index}: {err}");
        }
        if (rd.Entries.Count > 0)
        {
            node.Disk.WriteEntries(rd.Entries);
            storage.Append(rd.Entries);
        }
        if (!rd.HardState.IsEmpty)
        {
            node.Disk.WriteHardState(rd.HardState);
            storage.SetHardState(rd.HardState);
        }
        // MustSync covers entries and term/vote (etcd's rule); a snapshot is always made durable
        // before the MsgAppResp that acknowledges it goes out (etcd fsyncs snapshot files itself).
        if (rd.MustSync || rd.Snapshot is not null)
        {
            if (node.CrashBeforeNextSync)
            {
                Crash(node, torn: Profile.TornWrites);
                ScheduleRestart(node);
                return;
            }
            if (!BreakDurabilityForTests) node.Disk.Sync();
        }
        if (rd.MustSync && !rd.HardState.IsEmpty &&
            !_electionSafety.ObserveDurableVote(node.Id, rd.HardState.Term, rd.HardState.Vote, _now))
        {
            Fail(_electionSafety.Failure);
        }

        // Checks that need the log as persisted.
        if (becameLeader)
        {
            Stats.Elections++;
            _trace.Record(_now, TraceKind.Role, node.Id, node.Term, (ulong)StateType.Leader);
            Line($"node {node.Id} is LEADER of term {node.Term}");
            if (!_electionSafety.ObserveLeader(node.Term, node.Id, _now)) Fail(_electionSafety.Failure);
            if (!_completeness.CheckLeader(node.Term, ViewOf(node.Id, storage, node.CommitSeen), _now)) Fail(_completeness.Failure);
        }
        if (!rd.HardState.IsEmpty)
        {
            if (rd.HardState.Commit < node.CommitSeen && rd.Snapshot is null)
                Fail("commit regressed", $"node {node.Id} persisted commit {rd.HardState.Commit} after {node.CommitSeen}");
            if (node.Role == StateType.Leader && rd.HardState.Commit > node.CommitSeen) RecordCommits(node, storage, node.CommitSeen, rd.HardState.Commit);
            node.CommitSeen = rd.HardState.Commit;
        }
        if (_failure is not null) return;

        // 2. Send, now that what the messages promise is durable.
        foreach (Message m in rd.Messages) Send(node, m);

        // 3. Apply.
        KvStateMachine sm = node.StateMachine!;
        bool applied = false;
        if (rd.Snapshot is { } snap)
        {
            var (dataApplied, _) = KvStateMachine.PeekPosition(snap.Data.Span);
            if (dataApplied != snap.Metadata.Index)
                Fail("snapshot", $"node {node.Id} got snapshot {snap.Metadata.Index} whose data is at {dataApplied}");
            sm = KvStateMachine.Deserialize(snap.Data.Span);
            node.StateMachine = sm;
            node.Conf = snap.Metadata.ConfState;
            applied = true;
            Stats.SnapshotsApplied++;
            _trace.Record(_now, TraceKind.ApplySnapshot, node.Id, snap.Metadata.Index, snap.Metadata.Term);
            Line($"node {node.Id} applies snapshot {snap.Metadata.Index}/{snap.Metadata.Term} conf=[{node.Conf}]");
            if (!_appliedOrder.ObservePosition(node.Id, sm.Applied, sm.ChainHash, fromSnapshot: true, _now)) Fail(_appliedOrder.Failure);
            // Writes waiting here may have been applied inside the snapshot; their clients time out.
            node.Waiters.Clear();
        }
        foreach (Entry e in rd.CommittedEntries)
        {
            if (_failure is not null) return;
            ApplyEntry(node, e);
            applied = true;
        }
        if (applied)
        {
            node.Disk.WriteCheckpoint(new StateCheckpoint(node.StateMachine!.Applied, node.Conf, node.StateMachine.Serialize()));
        }
        foreach (ReadState rs in rd.ReadStates)
        {
            ulong readId = rs.RequestContext.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(rs.RequestContext.Span) : 0;
            if (node.ReadsAwaitingIndex.Remove(readId, out PendingRead? read))
            {
                read.Index = rs.Index;
                node.ReadsAwaitingApply.Add(read);
            }
        }
        ServeReads(node);
        if (_failure is not null || !node.Running) return;

        // 4. Advance, then maybe compact the log behind the applied index.
        raft.Advance();
        MaybeCompact(node);
    }

    private void ApplyEntry(SimNode node, Entry e)
    {
        KvStateMachine sm = node.StateMachine!;
        if (e.Index <= sm.Applied)
        {
            Fail("applied order", $"node {node.Id} was handed entry {e.Index} again (applied {sm.Applied})");
            return;
        }
        KvApplyResult result = sm.Apply(e, out KvCommand? command);
        _trace.Record(_now, TraceKind.Apply, node.Id, e.Index, e.Term, sm.ChainHash);
        if (!_appliedOrder.ObserveApply(node.Id, e.Index, e.Term, sm.ChainHash, _now))
        {
            Fail(_appliedOrder.Failure);
            return;
        }
        if (e.Type is EntryType.ConfChange or EntryType.ConfChangeV2)
        {
            IConfChange cc = ConfChangeCodec.Decode(e.Type, e.Data.Span);
            node.Conf = node.Raft!.ApplyConfChange(cc);
            Stats.ConfChanges++;
            _trace.Record(_now, TraceKind.ConfChangeApply, node.Id, e.Index);
            Line($"node {node.Id} applies conf change at {e.Index}: {DescribeConfChange(cc)} -> [{node.Conf}]");
            OnConfApplied(node, e.Index);
            return;
        }
        if (command is not { } cmd) return;
        if (_trace.Verbose) Line($"node {node.Id} applies {e.Index}/{e.Term} {cmd}{(result.Applied ? "" : " (duplicate, skipped)")}");
        if (cmd.Kind == KvCommandKind.Probe)
        {
            OnProbeApplied(node, cmd.Seq);
            return;
        }
        if (node.Waiters.Remove((cmd.ClientId, cmd.Seq), out long opId) && result.Applied)
        {
            Linearizability.KvOutput output = cmd.Kind switch
            {
                KvCommandKind.Put => Linearizability.KvOutput.Done,
                KvCommandKind.Delete => Linearizability.KvOutput.Deleted(result.Succeeded),
                _ => Linearizability.KvOutput.Swapped(result.Succeeded),
            };
            ReplyToClient(node, cmd.ClientId, new ClientReply(opId, ReplyStatus.Ok, output, node.Id, node.Lead));
        }
    }

    /// <summary>The leader advanced its commit index: remember the entries and the term they were committed in.</summary>
    private void RecordCommits(SimNode leader, MemoryStorage storage, ulong from, ulong to)
    {
        ulong low = Math.Max(from + 1, storage.FirstIndex());
        if (low > to) return;
        if (storage.TryGetEntries(low, to + 1, ulong.MaxValue, out IReadOnlyList<Entry> entries) != StorageError.None) return;
        foreach (Entry e in entries)
        {
            if (!_completeness.ObserveCommit(e, leader.Term, leader.Id, _now))
            {
                Fail(_completeness.Failure);
                return;
            }
        }
    }

    private void MaybeCompact(SimNode node)
    {
        MemoryStorage storage = node.Storage!;
        KvStateMachine sm = node.StateMachine!;
        storage.TryGetSnapshot(out Snapshot current);
        if (sm.Applied < current.Metadata.Index + node.SnapshotEvery) return;
        byte[] data = sm.Serialize();
        if (storage.CreateSnapshot(sm.Applied, node.Conf, data, out Snapshot snap) != StorageError.None) return;
        node.Disk.WriteCompaction(snap);
        ulong compactTo = sm.Applied > (ulong)Profile.KeepAfterCompaction ? sm.Applied - (ulong)Profile.KeepAfterCompaction : 0;
        if (compactTo >= storage.FirstIndex()) storage.Compact(compactTo);
        _trace.Record(_now, TraceKind.CreateSnapshot, node.Id, sm.Applied, compactTo);
        Line($"node {node.Id} snapshots at {sm.Applied} and compacts to {compactTo}");
    }

    private void ScheduleRestart(SimNode node) =>
        _queue.Schedule(_now + _faultRandom.Range(2, 40) * (long)TickMs, new RestartEvent(node.Id));

    // ---- network between members ----

    private void Send(SimNode from, Message m)
    {
        _trace.Record(_now, TraceKind.Send, m.From, m.To, (ulong)m.Type, m.Term);
        if (m.To == from.Id) throw new SimulationException($"node {from.Id} sent a message to itself: {m}");
        if (!_nodes.ContainsKey(m.To) || !_network.Connected(m.From, m.To) || _network.ShouldDrop())
        {
            _trace.Record(_now, TraceKind.Drop, m.From, m.To, (ulong)m.Type);
            if (_trace.Verbose) Line($"  drop {m}");
            if (m.Type == MessageType.MsgSnap) ReportSnapshotLater(from.Id, from.Incarnation, m.To, SnapshotStatus.Failure);
            return;
        }
        if (m.Type == MessageType.MsgSnap) m = MergedSnapshot(from, m);
        if (_trace.Verbose) Line($"  send {m}");
        _queue.Schedule(_now + _network.Delay(), new DeliverEvent(m, from.Incarnation));
        if (_network.ShouldDuplicate())
        {
            _trace.Record(_now, TraceKind.Duplicate, m.From, m.To, (ulong)m.Type);
            _queue.Schedule(_now + _network.Delay(), new DeliverEvent(m, from.Incarnation));
        }
    }

    /// <summary>
    /// Like etcd's server, the leader sends its current applied state rather than the storage's
    /// older snapshot: that snapshot may predate the recipient joining, and a member refuses a
    /// snapshot whose configuration does not hold it.
    /// </summary>
    private Message MergedSnapshot(SimNode leader, Message m)
    {
        KvStateMachine sm = leader.StateMachine!;
        if (m.Snapshot is null || sm.Applied <= m.Snapshot.Metadata.Index) return m;
        if (leader.Storage!.TryGetTerm(sm.Applied, out ulong term) != StorageError.None) return m;
        var snap = new Snapshot(sm.Serialize(), new SnapshotMetadata(leader.Conf, sm.Applied, term));
        return new Message
        {
            Type = m.Type, To = m.To, From = m.From, Term = m.Term, LogTerm = m.LogTerm, Index = m.Index,
            Entries = m.Entries, Commit = m.Commit, Snapshot = snap, Reject = m.Reject, RejectHint = m.RejectHint, Context = m.Context,
        };
    }

    private void OnDeliver(DeliverEvent e)
    {
        Message m = e.Message;
        SimNode to = _nodes[m.To];
        bool delivered = to.Running && _network.Connected(m.From, m.To);
        _trace.Record(_now, delivered ? TraceKind.Deliver : TraceKind.Drop, m.From, m.To, (ulong)m.Type, m.Term);
        if (m.Type == MessageType.MsgSnap)
            ReportSnapshotLater(m.From, e.SenderIncarnation, m.To, delivered ? SnapshotStatus.Finish : SnapshotStatus.Failure);
        if (!delivered) return;
        if (_trace.Verbose) Line($"  deliver {m}");
        to.Raft!.Step(m);
        Process(to);
    }

    /// <summary>Tells the sender how its snapshot went, as etcd's transport does; only to the same life of the sender.</summary>
    private void ReportSnapshotLater(ulong leader, int incarnation, ulong to, SnapshotStatus status)
    {
        SimNode node = _nodes[leader];
        if (!node.Running || node.Incarnation != incarnation) return;
        _trace.Record(_now, TraceKind.ReportSnapshot, leader, to, (ulong)status);
        Line($"node {leader}: snapshot to {to} {status}");
        node.Raft!.ReportSnapshot(to, status);
        if (status == SnapshotStatus.Failure) node.Raft.ReportUnreachable(to);
        Process(node);
    }

    private LogView ViewOf(ulong id, MemoryStorage storage, ulong commit)
    {
        storage.TryGetSnapshot(out _);
        ulong first = storage.FirstIndex();
        ulong last = storage.LastIndex();
        storage.TryGetTerm(first - 1, out ulong snapTerm);
        IReadOnlyList<Entry> entries = Array.Empty<Entry>();
        if (last >= first) storage.TryGetEntries(first, last + 1, ulong.MaxValue, out entries);
        return new LogView(id, commit, first - 1, snapTerm, entries);
    }

    private static LogView DurableViewOf(ulong id, SimDisk disk) =>
        new(id, disk.HardState.Commit, disk.Snapshot.Metadata.Index, disk.Snapshot.Metadata.Term, disk.Entries.ToArray());

    private static string FormatEntries(IReadOnlyList<Entry> entries) =>
        entries.Count == 0 ? "-" : entries.Count == 1 ? $"{entries[0].Index}/{entries[0].Term}" :
            $"{entries[0].Index}/{entries[0].Term}..{entries[^1].Index}/{entries[^1].Term}";

    private static string DescribeConfChange(IConfChange cc)
    {
        ConfChangeV2 v2 = cc.AsV2();
        if (v2.Changes.Count == 0) return "leave joint";
        string changes = string.Join(", ", v2.Changes.Select(c => $"{c.Type} {c.NodeId}"));
        return cc.AsV1() is null ? $"V2[{v2.Transition}] {changes}" : changes;
    }
}
