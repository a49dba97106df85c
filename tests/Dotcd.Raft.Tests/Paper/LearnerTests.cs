using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Thesis §4.2.1: non-voting members (learners).</summary>
public sealed class LearnerTests
{
    private const int E = 10;

    [Fact]
    public void LearnerReceivesAndAppliesCommittedEntries()
    {
        var net = RaftNetwork.Create(3, learners: [4]);
        net.Elect(1);
        net.ProposeAndStabilize(1, "x");
        net.ProposeAndStabilize(1, "y");
        Assert.Equal(new[] { "x", "y" }, net[4].State);
        Assert.Equal(net[1].LogSummary(), net[4].LogSummary());
        Assert.True(net[1].Status.Progress[4].IsLearner);
    }

    [Fact]
    public void CandidateDoesNotAskLearnerForItsVote()
    {
        var net = RaftNetwork.Create(3, learners: [4]);
        net.Elect(1);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgVote && m.To == 4);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.From == 4);
    }

    [Fact]
    public void LearnerNeverCampaigns()
    {
        var net = RaftNetwork.Create(3, learners: [4]);
        net.Isolate(4);
        net.Tick(4, 5 * E);
        net[4].Raw.Campaign();
        net.Stabilize();
        Assert.Equal(StateType.Follower, net[4].Role);
        Assert.Equal(0UL, net[4].Term);
        Assert.DoesNotContain(net.Sent, m => m.From == 4);
    }

    [Fact]
    public void LearnerDoesNotCountTowardsCommit()
    {
        var net = RaftNetwork.Create(2, learners: [3]);
        net.Elect(1);
        net.Isolate(2);
        net.ProposeAndStabilize(1, "x");
        Assert.Contains("x", net[3].PersistedData()); // The learner stores it...
        Assert.Equal(1UL, net[1].Committed);           // ...but only voters count: 1 of 2 is no majority.
        Assert.Empty(net[3].State);
        net.Heal();
        net.TickAndStabilize(1, 1);
        Assert.Equal(new[] { "x" }, net[3].State);
    }

    [Fact]
    public void PromotedLearnerVotesAndCountsTowardsCommit()
    {
        var net = RaftNetwork.Create(2, learners: [3]);
        net.Elect(1);
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.AddNode, 3));
        net.TickAndStabilize(2);
        Assert.All(net.Nodes, n =>
        {
            Assert.Equal(new ulong[] { 1, 2, 3 }, n.Config.Voters.OrderBy(x => x).ToArray());
            Assert.Empty(n.Config.Learners);
        });
        net.Isolate(2);
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(new[] { "x" }, net[3].State); // 1 and 3 are two of three.

        net.Stop(1);
        net.Heal();
        net.Elect(3);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgVote && m.From == 3 && m.To == 2);
    }

    [Fact]
    public void VoterCanBeDemotedToLearner()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeConfChangeAndStabilize(1, new ConfChangeV2
        {
            Changes = [new ConfChangeSingle(ConfChangeType.AddLearnerNode, 3)],
        });
        net.TickAndStabilize(3);
        Assert.All(net.Nodes, n =>
        {
            Assert.Equal(new ulong[] { 1, 2 }, n.Config.Voters.OrderBy(x => x).ToArray());
            Assert.Equal(new ulong[] { 3 }, n.Config.Learners.ToArray());
            Assert.Empty(n.Config.VotersOutgoing);
        });
        // Node 3 no longer counts: with 2 cut off nothing commits.
        net.Isolate(2);
        ulong commit = net[1].Committed;
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(commit, net[1].Committed);
    }

    [Fact]
    public void LeaderDoesNotTransferLeadershipToLearner()
    {
        var net = RaftNetwork.Create(3, learners: [4]);
        net.Elect(1);
        net[1].Raw.TransferLeader(4);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(0UL, net[1].Status.LeadTransferee);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgTimeoutNow);
    }
}
