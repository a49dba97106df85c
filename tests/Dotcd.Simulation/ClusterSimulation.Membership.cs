using Dotcd.Raft;

namespace Dotcd.Simulation;

// Membership changes during the run: remove and re-add a voter, add a learner and promote it,
// replace or demote a voter through joint consensus (ConfChangeV2). Each plan is a list of steps
// whose goals are read from the leader's applied configuration, so a lost or duplicated proposal
// only means proposing again. Members of the newest configuration run; others are stopped, as
// etcd stops a member once it is removed.
public sealed partial class ClusterSimulation
{
    private const int MaxPlans = 3;
    private const long ConfRetryMs = 20L * TickMs;

    private readonly List<MemberStep> _steps = [];
    private int _plansStarted;
    private long _nextPlanAt;
    private long _lastConfProposal = long.MinValue / 2;
    private ulong _latestConfIndex;          // the newest conf change any member applied
    private ConfState _latestConf = ConfState.Empty; // the configuration it produced: who should run

    private enum StepAction { Done, Wait, Propose }

    private readonly record struct StepDecision(StepAction Action, IConfChange? Change = null)
    {
        public static readonly StepDecision Done = new(StepAction.Done);
        public static readonly StepDecision Wait = new(StepAction.Wait);
        public static StepDecision Propose(IConfChange cc) => new(StepAction.Propose, cc);
    }

    private sealed record MemberStep(string Name, Func<SimNode, StepDecision> Decide);

    private void OnMembership()
    {
        if (_now < _clientsStopTime) _queue.Schedule(_now + 3L * TickMs, new MembershipEvent());
        if (!Profile.Membership) return;
        SimNode? leader = CurrentLeader();
        if (leader is null) return;
        for (int guard = 0; guard < 8; guard++)
        {
            if (_steps.Count == 0)
            {
                if (_now >= _healTime || _plansStarted >= MaxPlans || IsJoint(leader.Conf)) return;
                // Spread plans over the chaos phase, so they meet crashes and partitions.
                if (_nextPlanAt == 0) _nextPlanAt = _now + _faultRandom.Range(0, 200) * (long)TickMs;
                if (_now < _nextPlanAt) return;
                _nextPlanAt = 0;
                PlanNext(leader.Conf);
                if (_steps.Count == 0) return;
            }
            MemberStep step = _steps[0];
            StepDecision d = step.Decide(leader);
            if (d.Action == StepAction.Done)
            {
                Line($"membership step done: {step.Name}");
                _steps.RemoveAt(0);
                _lastConfProposal = long.MinValue / 2;
                continue;
            }
            if (d.Action == StepAction.Propose && _now - _lastConfProposal >= ConfRetryMs)
            {
                _lastConfProposal = _now;
                RaftError err = leader.Raft!.ProposeConfChange(d.Change!);
                _trace.Record(_now, TraceKind.ConfChangePropose, leader.Id, (ulong)err);
                Line($"node {leader.Id}: propose conf change ({step.Name}): {DescribeConfChange(d.Change!)} -> {err}");
                Process(leader);
            }
            return;
        }
    }

    private void PlanNext(ConfState conf)
    {
        _plansStarted++;
        var voters = conf.Voters.OrderBy(x => x).ToList();
        var spares = _nodes.Keys.Where(id => !InConfig(conf, id)).ToList();
        int kind = _faultRandom.Next(4);
        if (spares.Count == 0 || voters.Count < 2) kind = 0;
        switch (kind)
        {
            case 0:
            {
                ulong x = _faultRandom.Pick(voters);
                long pauseUntil = 0;
                _steps.Add(new MemberStep($"remove {x}", l => InConfig(l.Conf, x) ? StepDecision.Propose(Simple(ConfChangeType.RemoveNode, x)) : StepDecision.Done));
                _steps.Add(new MemberStep("pause", _ =>
                {
                    if (pauseUntil == 0) pauseUntil = _now + _faultRandom.Range(5, 40) * (long)TickMs;
                    return _now >= pauseUntil ? StepDecision.Done : StepDecision.Wait;
                }));
                _steps.Add(new MemberStep($"re-add {x}", l => l.Conf.Voters.Contains(x) ? StepDecision.Done : StepDecision.Propose(Simple(ConfChangeType.AddNode, x))));
                break;
            }
            case 1:
            {
                ulong s = _faultRandom.Pick(spares);
                ulong y = 0;
                long waitSince = 0;
                _steps.Add(new MemberStep($"add learner {s}", l =>
                    l.Conf.Learners.Contains(s) || l.Conf.Voters.Contains(s) ? StepDecision.Done : StepDecision.Propose(Simple(ConfChangeType.AddLearnerNode, s))));
                _steps.Add(new MemberStep($"learner {s} catches up", l =>
                {
                    if (waitSince == 0) waitSince = _now;
                    Status st = l.Raft!.Status();
                    bool caughtUp = st.Progress.TryGetValue(s, out ProgressStatus p) && p.Match + 5 >= l.CommitSeen;
                    return caughtUp || _now - waitSince > 100L * TickMs ? StepDecision.Done : StepDecision.Wait;
                }));
                _steps.Add(new MemberStep($"promote {s}", l => l.Conf.Voters.Contains(s) ? StepDecision.Done : StepDecision.Propose(Simple(ConfChangeType.AddNode, s))));
                _steps.Add(new MemberStep($"remove a voter other than {s}", l =>
                {
                    if (y == 0)
                    {
                        var others = l.Conf.Voters.Where(v => v != s).OrderBy(v => v).ToList();
                        if (others.Count == 0) return StepDecision.Done;
                        y = _faultRandom.Pick(others);
                        Line($"membership: will remove {y}");
                    }
                    return InConfig(l.Conf, y) ? StepDecision.Propose(Simple(ConfChangeType.RemoveNode, y)) : StepDecision.Done;
                }));
                break;
            }
            default:
            {
                // Joint consensus: replace voter y by s (kind 2), or add s and demote y to a learner (kind 3).
                ulong s = _faultRandom.Pick(spares);
                ulong y = _faultRandom.Pick(voters);
                bool demote = kind == 3;
                var transition = _faultRandom.Pick(new[] { ConfChangeTransition.Auto, ConfChangeTransition.JointImplicit, ConfChangeTransition.JointExplicit });
                var change = new ConfChangeV2
                {
                    Transition = transition,
                    Changes = [new ConfChangeSingle(ConfChangeType.AddNode, s), new ConfChangeSingle(demote ? ConfChangeType.AddLearnerNode : ConfChangeType.RemoveNode, y)],
                };
                long enteredAt = 0;
                _steps.Add(new MemberStep($"joint {(demote ? "demote" : "replace")} {y} by {s} ({transition})", l =>
                {
                    bool reached = l.Conf.Voters.Contains(s) && !l.Conf.Voters.Contains(y);
                    return reached ? StepDecision.Done : IsJoint(l.Conf) ? StepDecision.Wait : StepDecision.Propose(change);
                }));
                _steps.Add(new MemberStep("leave joint", l =>
                {
                    if (!IsJoint(l.Conf)) return StepDecision.Done;
                    if (enteredAt == 0) enteredAt = _now;
                    // Auto-leave is the leader's job; ask explicitly when asked to, or when it seems stuck.
                    bool ask = transition == ConfChangeTransition.JointExplicit || _now - enteredAt > 30L * TickMs;
                    return ask ? StepDecision.Propose(new ConfChangeV2()) : StepDecision.Wait;
                }));
                if (demote)
                {
                    _steps.Add(new MemberStep($"remove learner {y}", l =>
                        InConfig(l.Conf, y) ? StepDecision.Propose(Simple(ConfChangeType.RemoveNode, y)) : StepDecision.Done));
                }
                break;
            }
        }
        Line($"membership plan {_plansStarted}: {string.Join(" -> ", _steps.Select(st => st.Name))}");
    }

    /// <summary>A single change, sometimes sent in the V2 format (a V2 with one change and Auto is a simple change).</summary>
    private IConfChange Simple(ConfChangeType type, ulong id) =>
        _faultRandom.Chance(0.3) ? new ConfChangeV2 { Changes = [new ConfChangeSingle(type, id)] } : new ConfChange(type, id);

    private static bool IsJoint(ConfState c) => c.VotersOutgoing.Count > 0;

    private static bool InConfig(ConfState c, ulong id) =>
        c.Voters.Contains(id) || c.VotersOutgoing.Contains(id) || c.Learners.Contains(id) || c.LearnersNext.Contains(id);

    /// <summary>A member applied a conf change; when it is the newest, reconcile who runs.</summary>
    private void OnConfApplied(SimNode node, ulong index)
    {
        if (index <= _latestConfIndex) return;
        _latestConfIndex = index;
        _latestConf = node.Conf;
        // Not now: the node is in the middle of its Ready, and it may be the one to stop.
        _queue.Schedule(_now, new ReconcileMembersEvent());
    }

    private void OnReconcileMembers()
    {
        foreach (SimNode n in _nodes.Values)
        {
            bool member = InConfig(_latestConf, n.Id);
            if (member && !n.ShouldRun)
            {
                n.ShouldRun = true;
                Line($"node {n.Id} joins the configuration: starting it");
                StartNode(n);
            }
            else if (!member && n.ShouldRun)
            {
                Stop(n);
            }
        }
    }
}
