using Dotcd.Raft.Confchange;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft;

internal sealed partial class Raft
{
    /// <summary>Installs the configuration a ConfState describes into a fresh tracker (start-up and snapshot restore).</summary>
    private void RestoreConfig(ConfState cs)
    {
        Tracker = new ProgressTracker(Tracker.MaxInflight);
        TrackerConfig config;
        ProgressMap progress;
        try
        {
            (config, progress) = Changer.Restore(new Changer(Tracker, RaftLog.LastIndex()), cs);
        }
        catch (ConfChangeException ex)
        {
            throw _log.Panic($"unable to restore config {cs}: {ex.Message}");
        }
        ConfState installed = SwitchToConfig(config, progress);
        if (!cs.Equivalent(installed))
            throw _log.Panic($"ConfStates not equivalent after sorting:\n{cs}\n{installed}");
    }

    /// <summary>Applies a committed conf change (the host calls this while applying the entry).</summary>
    public ConfState ApplyConfChange(ConfChangeV2 cc)
    {
        var changer = new Changer(Tracker, RaftLog.LastIndex());
        TrackerConfig config;
        ProgressMap progress;
        try
        {
            if (cc.LeaveJoint) (config, progress) = changer.LeaveJoint();
            else if (cc.EnterJoint(out bool autoLeave)) (config, progress) = changer.EnterJoint(autoLeave, cc.Changes);
            else (config, progress) = changer.Simple(cc.Changes);
        }
        catch (ConfChangeException ex)
        {
            // A committed change every member applies cannot be skipped by one of them.
            throw _log.Panic($"{Id:x} cannot apply conf change: {ex.Message}");
        }
        return SwitchToConfig(config, progress);
    }

    /// <summary>
    /// Installs a new configuration and its progress map, then does what the change makes
    /// possible: a leader may commit with the new quorum and must bring new members up to date.
    /// </summary>
    private ConfState SwitchToConfig(TrackerConfig config, ProgressMap progress)
    {
        Tracker.Config = config;
        Tracker.Progress = progress;

        _log.Log(RaftLogLevel.Info, $"{Id:x} switched to configuration {Tracker.Config}");
        ConfState cs = Tracker.ConfState();
        bool member = Tracker.Progress.TryGetValue(Id, out Progress? pr);
        IsLearner = member && pr!.IsLearner;

        if ((!member || IsLearner) && State == StateType.Leader)
        {
            // The leader was removed (or demoted): it can no longer be part of a quorum, and a
            // leader outside the configuration would keep the others from electing one. Step down.
            BecomeFollower(Term, None);
            return cs;
        }

        // Only the leader acts on the change; an empty config (before bootstrap) has nothing to do.
        if (State != StateType.Leader || cs.Voters.Count == 0) return cs;

        if (MaybeCommit())
        {
            // The new quorum commits more (e.g. a voter was removed): everyone hears of it.
            BroadcastAppend();
        }
        else
        {
            // New members get their first MsgApp now rather than at the next heartbeat.
            Tracker.Visit((id, _) =>
            {
                if (id != Id) MaybeSendAppend(id, sendIfEmpty: false);
            });
        }
        // A transfer to a node that left cannot finish.
        if (LeadTransferee != None && !Tracker.Progress.ContainsKey(LeadTransferee)) AbortLeaderTransfer();
        return cs;
    }

    /// <summary>
    /// Replaces log and configuration with a snapshot from the leader; false when it is stale
    /// (or merely confirms our log, in which case only the commit index moves).
    /// </summary>
    private bool Restore(Snapshot snapshot)
    {
        SnapshotMetadata meta = snapshot.Metadata;
        if (meta.Index <= RaftLog.Committed) return false;
        if (State != StateType.Follower)
        {
            // Only a follower accepts a snapshot; a leader receiving one of its own term means two leaders.
            _log.Log(RaftLogLevel.Warning, $"{Id:x} attempted to restore snapshot as leader; should never happen");
            BecomeFollower(Term + 1, None);
            return false;
        }

        // A snapshot whose configuration lacks us would leave us without progress: a bug elsewhere.
        ConfState cs = meta.ConfState;
        if (!cs.Voters.Contains(Id) && !cs.Learners.Contains(Id) && !cs.VotersOutgoing.Contains(Id))
        {
            _log.Log(RaftLogLevel.Warning,
                $"{Id:x} attempted to restore snapshot but it is not in the ConfState {cs}; should never happen");
            return false;
        }

        // We already hold the snapshot's last entry: keep our log (it may be longer) and just commit.
        if (RaftLog.MatchTerm(meta.Index, meta.Term))
        {
            _log.Log(RaftLogLevel.Info,
                $"{Id:x} [commit: {RaftLog.Committed}, lastindex: {RaftLog.LastIndex()}, lastterm: {RaftLog.LastTerm()}] fast-forwarded commit to snapshot [index: {meta.Index}, term: {meta.Term}]");
            RaftLog.CommitTo(meta.Index);
            return false;
        }

        RaftLog.Restore(snapshot);
        RestoreConfig(cs);

        Progress self = Tracker.Progress[Id];
        self.MaybeUpdate(self.Next - 1);

        _log.Log(RaftLogLevel.Info,
            $"{Id:x} [commit: {RaftLog.Committed}, lastindex: {RaftLog.LastIndex()}, lastterm: {RaftLog.LastTerm()}] restored snapshot [index: {meta.Index}, term: {meta.Term}]");
        return true;
    }
}
