using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Thesis §9.6: the pre-vote phase keeps a partitioned node from disrupting the cluster.</summary>
public sealed class PreVoteTests
{
    private const int E = 10;

    /// <summary>Node 3 is cut off for a while and misses "x"; then the partition heals.</summary>
    private static RaftNetwork IsolateFollowerThenHeal(bool preVote, out ulong termBefore)
    {
        var net = RaftNetwork.Create(3, new NodeOptions { PreVote = preVote });
        net.Elect(1);
        termBefore = net[1].Term;
        net.Isolate(3);
        net.ProposeAndStabilize(1, "x");
        net.TickAndStabilize(4 * E); // Everyone ticks; node 3 times out at least twice.
        return net;
    }

    [Fact]
    public void IsolatedNodeWithPreVoteDoesNotIncreaseItsTerm()
    {
        RaftNetwork net = IsolateFollowerThenHeal(preVote: true, out ulong term);
        Assert.Equal(term, net[3].Term);
        Assert.Equal(StateType.PreCandidate, net[3].Role);
        Assert.Contains(net.Dropped, m => m.From == 3 && m.Type == MessageType.MsgPreVote && m.Term == term + 1);
        Assert.DoesNotContain(net.Dropped, m => m.From == 3 && m.Type == MessageType.MsgVote);
    }

    [Fact]
    public void RejoiningNodeWithPreVoteDoesNotDisruptLeader()
    {
        RaftNetwork net = IsolateFollowerThenHeal(preVote: true, out ulong term);
        net.Heal();
        net.TickAndStabilize(3 * E);
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.All(net.Nodes, n => Assert.Equal(term, n.Term));
        Assert.Equal(StateType.Follower, net[3].Role);
        Assert.Equal(1UL, net[3].Lead);
        Assert.Equal(new[] { "x" }, net[3].State);
    }

    [Fact]
    public void RejoiningNodeWithoutPreVoteDisruptsLeader()
    {
        RaftNetwork net = IsolateFollowerThenHeal(preVote: false, out ulong term);
        Assert.True(net[3].Term > term + 1, "the isolated node kept campaigning with ever higher terms");
        Assert.Equal(StateType.Candidate, net[3].Role);
        net.Heal();
        net.TickAndStabilize(6 * E);
        // Its higher term forced an election: the old leader's term is gone.
        Assert.True(net[1].Term > term);
        Assert.Contains(net[1].SoftStates, s => s.RaftState == StateType.Follower);
        // It cannot win (its log lacks "x"), but a new leader emerges and it catches up.
        TestNode leader = net.Leader()!;
        Assert.NotEqual(3UL, leader.Id);
        Assert.Equal(new[] { "x" }, net[3].State);
    }

    [Fact]
    public void PreVoteElectionIncrementsTermOnlyAfterWinningPreVote()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { PreVote = true });
        net[1].Raw.Campaign();
        Assert.Equal(StateType.PreCandidate, net[1].Role);
        Assert.Equal(0UL, net[1].Term);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Message[] requests = net.Sent.Where(m => m.From == 1 && m.Type is MessageType.MsgPreVote or MessageType.MsgVote).ToArray();
        Assert.Equal(MessageType.MsgPreVote, requests[0].Type);
        Assert.All(requests, r => Assert.Equal(1UL, r.Term)); // Pre-votes ask for the next term.
        Assert.Contains(requests, r => r.Type == MessageType.MsgVote);
        Assert.Equal(1UL, net[2].Vote); // Only the real vote is recorded.
    }

    [Fact]
    public void PreCandidateWithStaleLogIsRejectedAndKeepsItsTerm()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { PreVote = true });
        net.Elect(1);
        net.Isolate(3);
        net.ProposeAndStabilize(1, "x");
        net.Heal();
        net.Stop(1);
        net[3].Raw.Campaign();
        net.Stabilize();
        Assert.NotEqual(StateType.Leader, net[3].Role);
        Assert.Equal(1UL, net[3].Term);
        Assert.Equal(1UL, net[2].Term);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgPreVoteResp && m.From == 2 && m.To == 3 && m.Reject);
    }
}
