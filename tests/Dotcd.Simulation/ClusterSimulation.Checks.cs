using Dotcd.Raft;
using Dotcd.Simulation.Checkers;

namespace Dotcd.Simulation;

// Periodic and final checks over the members' logs and state.
public sealed partial class ClusterSimulation
{
    private void OnCheck()
    {
        _queue.Schedule(_now + 50L * TickMs, new CheckEvent());
        CheckLogs();
    }

    /// <summary>Log matching over every durable log, and over every running member's in-memory log.</summary>
    private void CheckLogs()
    {
        var durable = _nodes.Values.Where(n => !n.Disk.IsEmpty).Select(n => DurableViewOf(n.Id, n.Disk)).ToList();
        Fail(LogMatchingChecker.Check(durable, _now));
        var live = _nodes.Values.Where(n => n.Running).Select(n => ViewOf(n.Id, n.Storage!, n.CommitSeen)).ToList();
        Fail(LogMatchingChecker.Check(live, _now));
    }

    private void FinalChecks()
    {
        CheckLogs();
        if (_failure is not null) return;
        if (_livenessAt < 0)
        {
            Fail("liveness", $"no proposal committed after faults healed (run too short?)\n{DescribeCluster()}");
            return;
        }
        // Convergence: with clients stopped and no faults, every running member of the leader's
        // configuration has applied everything the leader committed, and all hold the same state.
        SimNode? leader = CurrentLeader();
        if (leader is null)
        {
            Fail("convergence", $"no leader at the end of a calm period\n{DescribeCluster()}");
            return;
        }
        foreach (SimNode n in _nodes.Values)
        {
            if (!n.Running || !InConfig(leader.Conf, n.Id)) continue;
            if (n.StateMachine!.Applied < leader.CommitSeen)
            {
                Fail("convergence", $"node {n.Id} applied {n.StateMachine.Applied} of leader {leader.Id}'s commit {leader.CommitSeen} after a calm period\n{DescribeCluster()}");
                return;
            }
            if (n.StateMachine.Applied == leader.StateMachine!.Applied && n.StateMachine.ChainHash != leader.StateMachine.ChainHash)
            {
                Fail("convergence", $"node {n.Id} and leader {leader.Id} applied {n.StateMachine.Applied} entries into different states");
                return;
            }
        }
        CheckLinearizability();
    }
}
