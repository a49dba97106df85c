using Dotcd.Raft.Quorum;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Confchange;

/// <summary>
/// Computes the configuration and progress map that result from a membership change, after
/// checking the change is allowed. Works on copies: the tracker it was given is never modified;
/// the caller installs the result. New members get Next = lastIndex.
/// </summary>
/// <remarks>
/// Joint consensus: EnterJoint copies the incoming voters to the outgoing half and applies the
/// changes to the incoming half; LeaveJoint drops the outgoing half. Simple changes may alter at
/// most one voter, since any two majorities of configs differing by one voter intersect.
/// </remarks>
internal sealed class Changer(ProgressTracker tracker, ulong lastIndex)
{
    public ProgressTracker Tracker => tracker;

    public ulong LastIndex => lastIndex;

    /// <summary>Enters a joint configuration with the changes applied to the incoming half.</summary>
    public (TrackerConfig Config, ProgressMap Progress) EnterJoint(bool autoLeave, IReadOnlyList<ConfChangeSingle> ccs)
    {
        var (cfg, prs) = CheckAndCopy();
        if (cfg.Voters.IsJoint)
        {
            throw new ConfChangeException("config is already joint");
        }
        if (cfg.Voters.Incoming.Count == 0)
        {
            // An empty incoming half makes every decision trivially won: refuse it.
            throw new ConfChangeException("can't make a zero-voter config joint");
        }

        cfg.Voters.Outgoing.Clear();
        foreach (ulong id in cfg.Voters.Incoming)
        {
            cfg.Voters.Outgoing.Add(id);
        }
        Apply(cfg, prs, ccs);
        cfg.AutoLeave = autoLeave;
        return CheckAndReturn(cfg, prs);
    }

    /// <summary>Leaves the joint configuration: LearnersNext become learners, outgoing-only voters are dropped.</summary>
    public (TrackerConfig Config, ProgressMap Progress) LeaveJoint()
    {
        var (cfg, prs) = CheckAndCopy();
        if (!cfg.Voters.IsJoint)
        {
            throw new ConfChangeException("can't leave a non-joint config");
        }

        foreach (ulong id in cfg.LearnersNext)
        {
            cfg.Learners.Add(id);
            prs[id].IsLearner = true;
        }
        cfg.LearnersNext.Clear();

        foreach (ulong id in cfg.Voters.Outgoing)
        {
            if (!cfg.Voters.Incoming.Contains(id) && !cfg.Learners.Contains(id))
            {
                prs.Remove(id);
            }
        }
        cfg.Voters.Outgoing.Clear();
        cfg.AutoLeave = false;
        return CheckAndReturn(cfg, prs);
    }

    /// <summary>Applies changes that alter at most one voter, without joint consensus.</summary>
    public (TrackerConfig Config, ProgressMap Progress) Simple(IReadOnlyList<ConfChangeSingle> ccs)
    {
        var (cfg, prs) = CheckAndCopy();
        if (cfg.Voters.IsJoint)
        {
            throw new ConfChangeException("can't apply simple config change in joint config");
        }
        Apply(cfg, prs, ccs);
        if (SymmetricDifference(tracker.Config.Voters.Incoming, cfg.Voters.Incoming) > 1)
        {
            throw new ConfChangeException("more than one voter changed without entering joint config");
        }
        return CheckAndReturn(cfg, prs);
    }

    /// <summary>
    /// Rebuilds the configuration a ConfState describes, starting from the changer's tracker
    /// (normally empty). A joint state is rebuilt as: the outgoing voters added one by one, then
    /// EnterJoint with the incoming voters, learners and LearnersNext, exactly as etcd does, so
    /// that the result passes through valid configurations only.
    /// </summary>
    public static (TrackerConfig Config, ProgressMap Progress) Restore(Changer changer, ConfState cs)
    {
        var outgoing = new List<ConfChangeSingle>();
        foreach (ulong id in cs.VotersOutgoing)
        {
            outgoing.Add(new ConfChangeSingle(ConfChangeType.AddNode, id));
        }

        // The incoming changes are applied to a copy of the outgoing voters, so the outgoing
        // voters are first removed, then the incoming voters and learners added. A LearnersNext
        // id is an outgoing voter, so adding it as a learner lands it in LearnersNext.
        var incoming = new List<ConfChangeSingle>();
        foreach (ulong id in cs.VotersOutgoing)
        {
            incoming.Add(new ConfChangeSingle(ConfChangeType.RemoveNode, id));
        }
        foreach (ulong id in cs.Voters)
        {
            incoming.Add(new ConfChangeSingle(ConfChangeType.AddNode, id));
        }
        foreach (ulong id in cs.Learners)
        {
            incoming.Add(new ConfChangeSingle(ConfChangeType.AddLearnerNode, id));
        }
        foreach (ulong id in cs.LearnersNext)
        {
            incoming.Add(new ConfChangeSingle(ConfChangeType.AddLearnerNode, id));
        }

        // Each step starts from the result of the previous one, on a private tracker.
        var current = new ProgressTracker(changer.Tracker.MaxInflight)
        {
            Config = changer.Tracker.Config.Clone(),
            Progress = changer.Tracker.Progress.Clone(),
        };

        void Step(Func<Changer, (TrackerConfig Config, ProgressMap Progress)> op)
        {
            var (cfg, prs) = op(new Changer(current, changer.LastIndex));
            current.Config = cfg;
            current.Progress = prs;
        }

        if (outgoing.Count == 0)
        {
            foreach (var cc in incoming)
            {
                Step(c => c.Simple(new[] { cc }));
            }
        }
        else
        {
            foreach (var cc in outgoing)
            {
                Step(c => c.Simple(new[] { cc }));
            }
            Step(c => c.EnterJoint(cs.AutoLeave, incoming));
        }
        return (current.Config, current.Progress);
    }

    // Applies the changes to the incoming half (and learners). Node id 0 is ignored, as in etcd.
    private void Apply(TrackerConfig cfg, ProgressMap prs, IReadOnlyList<ConfChangeSingle> ccs)
    {
        foreach (var cc in ccs)
        {
            if (cc.NodeId == 0)
            {
                continue;
            }
            switch (cc.Type)
            {
                case ConfChangeType.AddNode:
                    MakeVoter(cfg, prs, cc.NodeId);
                    break;
                case ConfChangeType.AddLearnerNode:
                    MakeLearner(cfg, prs, cc.NodeId);
                    break;
                case ConfChangeType.RemoveNode:
                    Remove(cfg, prs, cc.NodeId);
                    break;
                case ConfChangeType.UpdateNode:
                    break; // Only the host's member metadata changes.
                default:
                    throw new ConfChangeException($"unexpected conf type {(int)cc.Type}");
            }
        }
        if (cfg.Voters.Incoming.Count == 0)
        {
            throw new ConfChangeException("removed all voters");
        }
    }

    private void MakeVoter(TrackerConfig cfg, ProgressMap prs, ulong id)
    {
        if (!prs.TryGetValue(id, out Progress? pr))
        {
            InitProgress(cfg, prs, id, isLearner: false);
            return;
        }
        pr.IsLearner = false;
        cfg.Learners.Remove(id);
        cfg.LearnersNext.Remove(id);
        cfg.Voters.Incoming.Add(id);
    }

    // A voter of the outgoing half cannot become a learner before the joint config is left (it
    // would be voter and learner at once): it goes to LearnersNext instead.
    private void MakeLearner(TrackerConfig cfg, ProgressMap prs, ulong id)
    {
        if (!prs.TryGetValue(id, out Progress? pr))
        {
            InitProgress(cfg, prs, id, isLearner: true);
            return;
        }
        if (pr.IsLearner)
        {
            return;
        }
        // Remove drops the progress unless the id is an outgoing voter; keep it either way.
        Remove(cfg, prs, id);
        prs[id] = pr;
        if (cfg.Voters.Outgoing.Contains(id))
        {
            cfg.LearnersNext.Add(id);
        }
        else
        {
            pr.IsLearner = true;
            cfg.Learners.Add(id);
        }
    }

    // Outgoing voters keep their progress: the outgoing half still needs it until LeaveJoint.
    private static void Remove(TrackerConfig cfg, ProgressMap prs, ulong id)
    {
        if (!prs.ContainsKey(id))
        {
            return;
        }
        cfg.Voters.Incoming.Remove(id);
        cfg.Learners.Remove(id);
        cfg.LearnersNext.Remove(id);
        if (!cfg.Voters.Outgoing.Contains(id))
        {
            prs.Remove(id);
        }
    }

    // New members start probing at lastIndex and count as active so that CheckQuorum does not
    // depose the leader right after adding them.
    private void InitProgress(TrackerConfig cfg, ProgressMap prs, ulong id, bool isLearner)
    {
        if (isLearner)
        {
            cfg.Learners.Add(id);
        }
        else
        {
            cfg.Voters.Incoming.Add(id);
        }
        prs[id] = new Progress(lastIndex, tracker.MaxInflight, isLearner) { RecentActive = true };
    }

    private (TrackerConfig Config, ProgressMap Progress) CheckAndCopy() =>
        CheckAndReturn(tracker.Config.Clone(), tracker.Progress.Clone());

    private static (TrackerConfig Config, ProgressMap Progress) CheckAndReturn(TrackerConfig cfg, ProgressMap prs)
    {
        CheckInvariants(cfg, prs);
        return (cfg, prs);
    }

    private static void CheckInvariants(TrackerConfig cfg, ProgressMap prs)
    {
        foreach (var ids in new IEnumerable<ulong>[] { cfg.Voters.Ids(), cfg.Learners, cfg.LearnersNext })
        {
            foreach (ulong id in ids)
            {
                if (!prs.ContainsKey(id))
                {
                    throw new ConfChangeException($"no progress for {id}");
                }
            }
        }

        foreach (ulong id in cfg.LearnersNext)
        {
            if (!cfg.Voters.Outgoing.Contains(id))
            {
                throw new ConfChangeException($"{id} is in LearnersNext, but not Voters[1]");
            }
            if (prs[id].IsLearner)
            {
                throw new ConfChangeException($"{id} is in LearnersNext, but is already marked as learner");
            }
        }

        foreach (ulong id in cfg.Learners)
        {
            if (cfg.Voters.Outgoing.Contains(id))
            {
                throw new ConfChangeException($"{id} is in Learners and Voters[1]");
            }
            if (cfg.Voters.Incoming.Contains(id))
            {
                throw new ConfChangeException($"{id} is in Learners and Voters[0]");
            }
            if (!prs[id].IsLearner)
            {
                throw new ConfChangeException($"{id} is in Learners, but is not marked as learner");
            }
        }

        if (!cfg.Voters.IsJoint)
        {
            if (cfg.LearnersNext.Count > 0)
            {
                throw new ConfChangeException("LearnersNext must be nil when not joint");
            }
            if (cfg.AutoLeave)
            {
                throw new ConfChangeException("AutoLeave must be false when not joint");
            }
        }
    }

    private static int SymmetricDifference(MajorityConfig left, MajorityConfig right)
    {
        int n = 0;
        foreach (ulong id in left)
        {
            if (!right.Contains(id)) n++;
        }
        foreach (ulong id in right)
        {
            if (!left.Contains(id)) n++;
        }
        return n;
    }
}
