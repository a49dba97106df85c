using Dotcd.Raft;

namespace Dotcd.Simulation;

// The nemesis: partitions, crashes, lossy and reordering links during the chaos phase; the heal;
// and the liveness probe that must commit within a bound once faults have stopped.
public sealed partial class ClusterSimulation
{
    private long _healedAt = -1;
    private ulong _probeSeq;
    private ulong _probeSeqAfterHeal; // the first probe sent after the heal
    private long _livenessAt = -1;

    private void ScheduleNemesis() =>
        _queue.Schedule(_now + _faultRandom.Range(5, 30) * (long)TickMs, new NemesisEvent());

    private void OnNemesis()
    {
        if (_now >= _healTime) return;
        ScheduleNemesis();
        int roll = _faultRandom.Next(100);
        if (roll < 30 && Profile.Partitions)
        {
            Partition();
        }
        else if (roll < 45 && Profile.Partitions)
        {
            HealPartition();
        }
        else if (roll < 75 && Profile.Crashes)
        {
            CrashSomeNode();
        }
        else if (roll < 85)
        {
            ShakeNetwork();
        }
        else if (roll < 92 && Profile.LeaderTransfers)
        {
            TransferLeadership();
        }
    }

    private void Partition()
    {
        var ids = _nodes.Keys.ToList();
        List<IReadOnlyList<ulong>> groups;
        SimNode? leader = CurrentLeader();
        if (leader is not null && _faultRandom.Chance(0.4))
        {
            groups = [new[] { leader.Id }, ids.Where(id => id != leader.Id).ToArray()];
        }
        else
        {
            _faultRandom.Shuffle(ids);
            int parts = _faultRandom.Chance(0.2) ? 3 : 2;
            groups = [];
            int at = 0;
            for (int p = 0; p < parts; p++)
            {
                int size = p == parts - 1 ? ids.Count - at : _faultRandom.Range(1, Math.Max(1, ids.Count - at - (parts - p - 1)));
                groups.Add(ids.Skip(at).Take(size).OrderBy(x => x).ToArray());
                at += size;
            }
        }
        _network.Partition(groups);
        Stats.Partitions++;
        _trace.Record(_now, TraceKind.Partition, (ulong)groups.Count, groups[0].Count > 0 ? groups[0][0] : 0);
        Line($"PARTITION {_network.Describe()}");
    }

    private void HealPartition()
    {
        if (!_network.IsPartitioned) return;
        _network.Heal();
        _trace.Record(_now, TraceKind.Heal);
        Line("partition healed");
    }

    private void CrashSomeNode()
    {
        var running = _nodes.Values.Where(n => n.Running).ToList();
        int down = _nodes.Values.Count(n => n.ShouldRun && !n.Running);
        // Keep at most a minority (rounded up) down at once: sometimes the cluster loses its quorum.
        if (running.Count == 0 || down >= (_members + 1) / 2) return;
        SimNode? leader = CurrentLeader();
        SimNode victim = leader is not null && _faultRandom.Chance(0.3) ? leader : _faultRandom.Pick(running);
        if (_faultRandom.Chance(0.3))
        {
            // Power loss in the middle of the victim's next Ready: written, not yet synced.
            victim.CrashBeforeNextSync = true;
            Line($"node {victim.Id} will crash before its next fsync");
            return;
        }
        Crash(victim, torn: Profile.TornWrites && _faultRandom.Chance(0.5));
        ScheduleRestart(victim);
    }

    private void ShakeNetwork()
    {
        int mode = _faultRandom.Next(4);
        switch (mode)
        {
            case 0:
                _network.DropRate = _faultRandom.Pick(new[] { 0, 0.02, 0.1, 0.3 });
                break;
            case 1:
                _network.DuplicateRate = _faultRandom.Pick(new[] { 0, 0.02, 0.1 });
                break;
            case 2:
                _network.LongDelayRate = _faultRandom.Pick(new[] { 0, 0.05, 0.2 });
                _network.LongDelayMax = _faultRandom.Pick(new[] { 300, 1000, 3000 });
                break;
            default:
                _network.DropRate = Profile.DropRate;
                _network.DuplicateRate = Profile.DuplicateRate;
                _network.LongDelayRate = Profile.LongDelayRate;
                break;
        }
        _trace.Record(_now, TraceKind.NetworkMode, (ulong)(_network.DropRate * 1000), (ulong)(_network.DuplicateRate * 1000), (ulong)(_network.LongDelayRate * 1000));
        Line($"network: drop={_network.DropRate} dup={_network.DuplicateRate} longDelay={_network.LongDelayRate} up to {_network.LongDelayMax}ms");
    }

    private void TransferLeadership()
    {
        SimNode? leader = CurrentLeader();
        if (leader is null) return;
        var voters = leader.Conf.Voters.Where(id => id != leader.Id).ToList();
        if (voters.Count == 0) return;
        ulong to = _faultRandom.Pick(voters);
        Line($"node {leader.Id}: transfer leadership to {to}");
        leader.Raft!.TransferLeader(to);
        Process(leader);
    }

    /// <summary>Faults stop: the network heals and calms, crashed members restart; then the probe starts.</summary>
    private void OnHeal()
    {
        _healedAt = _now;
        _network.Heal();
        _network.Calm();
        _trace.Record(_now, TraceKind.Heal, 1);
        Line("=== HEAL: faults stop; the cluster must elect a leader and commit ===");
        foreach (SimNode n in _nodes.Values)
        {
            n.CrashBeforeNextSync = false;
            if (n.ShouldRun && !n.Running) StartNode(n);
        }
        _probeSeqAfterHeal = _probeSeq + 1;
        _queue.Schedule(_now, new ProbeEvent());
    }

    /// <summary>Proposes a probe through the current leader until one proposed after the heal is applied.</summary>
    private void OnProbe()
    {
        if (_livenessAt >= 0) return;
        if (_now > _healedAt + LivenessBoundTicks * (long)TickMs)
        {
            Fail("liveness", $"no leader elected and proposal committed within {LivenessBoundTicks} ticks after faults healed\n{DescribeCluster()}");
            return;
        }
        SimNode? leader = CurrentLeader();
        if (leader is not null)
        {
            ulong seq = ++_probeSeq;
            var probe = new KvCommand(KvCommandKind.Probe, 0, seq, "", null, null);
            RaftError err = leader.Raft!.Propose(probe.Encode());
            _trace.Record(_now, TraceKind.Probe, leader.Id, seq, (ulong)err);
            Line($"probe {seq} proposed at node {leader.Id}: {err}");
            Process(leader);
        }
        _queue.Schedule(_now + 5L * TickMs, new ProbeEvent());
    }

    private void OnProbeApplied(SimNode node, ulong seq)
    {
        if (_livenessAt >= 0 || _healedAt < 0 || seq < _probeSeqAfterHeal) return;
        _livenessAt = _now;
        Stats.RecoveryTicks = (_now - _healedAt) / TickMs;
        Line($"probe {seq} applied at node {node.Id}: recovered {Stats.RecoveryTicks} ticks after the heal");
    }
}
