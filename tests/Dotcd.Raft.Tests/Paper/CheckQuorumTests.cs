using Dotcd.Raft.Tests.Harness;
using static Dotcd.Raft.Tests.Harness.Msg;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Thesis §6.2 / §9.6: CheckQuorum and the leader lease.</summary>
public sealed class CheckQuorumTests
{
    private const int E = 10;
    private static readonly NodeOptions s_checkQuorum = new() { CheckQuorum = true };

    [Fact]
    public void LeaderCutOffFromMajorityStepsDownAfterElectionTimeout()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net.Isolate(1);
        net.TickAndStabilize(E - 1, 1);
        Assert.Equal(StateType.Leader, net[1].Role); // No check before an election timeout passed.
        net.TickAndStabilize(E + 1, 1);
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(1UL, net[1].Term); // Stepping down does not start an election.
        Assert.Equal(0UL, net[1].Lead);
    }

    [Fact]
    public void LeaderWithoutCheckQuorumKeepsLeadingAlone()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(1);
        net.TickAndStabilize(5 * E, 1);
        Assert.Equal(StateType.Leader, net[1].Role);
    }

    [Fact]
    public void LeaderWithMajorityKeepsLeading()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net.Isolate(3);
        net.TickAndStabilize(5 * E);
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(1UL, net[2].Term);
    }

    [Fact]
    public void FollowerInLeaseIgnoresVoteRequests()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net.TickAndStabilize(2);
        net[3].Raw.Campaign();
        net.Stabilize();
        // 1 and 2 heard from the leader within an election timeout: they neither vote nor adopt term 2.
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(1UL, net[2].Term);
        Assert.Equal(1UL, net[2].Lead);
        Assert.Equal(StateType.Candidate, net[3].Role);
        Assert.Equal(2UL, net[3].Term);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.To == 3);
    }

    [Fact]
    public void ClusterElectsNewLeaderAfterLeaderCrashUnderCheckQuorum()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net.Stop(1);
        // The first follower to time out finds the other one out of its lease too, and wins.
        Assert.True(net.TickUntil(() => net.Leader() is not null, 4 * E), net.Describe());
        Assert.NotEqual(1UL, net.Leader()!.Id);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgVoteResp && !m.Reject && m.Term > 1);
    }

    [Fact]
    public void StuckCandidateWithHigherTermIsFreedWhenItRejoins()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net.Isolate(3);
        net.TickAndStabilize(4 * E);
        ulong stuckTerm = net[3].Term;
        Assert.True(stuckTerm > 1);
        net.Heal();
        // The others ignore its votes (lease), but its answer to the leader's heartbeat reveals
        // its term: the leader steps down and an election at a higher term follows.
        Assert.True(net.TickUntil(() => net.Leader() is { } l && l.Term > stuckTerm && net.Nodes.All(n => n.Lead == l.Id), 8 * E), net.Describe());
        Assert.All(net.Nodes, n => Assert.Equal(net.Leader()!.Term, n.Term));
    }

    [Fact]
    public void LeaderIgnoresVoteRequestOfHigherTermWithinLease()
    {
        var net = RaftNetwork.Create(3, s_checkQuorum);
        net.Elect(1);
        net[1].Raw.Step(Vote(from: 2, to: 1, term: 5, lastLogTerm: 1, lastIndex: 1));
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
    }
}
