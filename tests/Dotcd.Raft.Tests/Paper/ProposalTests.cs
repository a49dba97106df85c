using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Client proposals: forwarding to the leader, dropping, and the uncommitted-size limit.</summary>
public sealed class ProposalTests
{
    [Fact]
    public void FollowerForwardsProposalToLeader()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        Assert.Equal(RaftError.None, net.ProposeAndStabilize(2, "via2"));
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgProp && m.From == 2 && m.To == 1);
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "via2" }, n.State));
        Assert.Equal(1UL, net[1].PersistedTerm(2)); // The leader appended it in its own term.
    }

    [Fact]
    public void FollowerWithForwardingDisabledDropsProposal()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { DisableProposalForwarding = true });
        net.Elect(1);
        Assert.Equal(RaftError.ProposalDropped, net.ProposeAndStabilize(2, "nope"));
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgProp);
        Assert.All(net.Nodes, n => Assert.Empty(n.State));
        // The leader itself still accepts proposals.
        Assert.Equal(RaftError.None, net.ProposeAndStabilize(1, "yes"));
        Assert.Equal(new[] { "yes" }, net[2].State);
    }

    [Fact]
    public void ProposalWithoutKnownLeaderIsDropped()
    {
        var net = RaftNetwork.Create(3);
        Assert.Equal(RaftError.ProposalDropped, net.Propose(1, "x"));
        net[2].Raw.Campaign();
        Assert.Equal(RaftError.ProposalDropped, net.Propose(2, "x")); // A candidate has no leader either.
        net.Stabilize();
        Assert.All(net.Nodes, n => Assert.Empty(n.PersistedData()));
    }

    [Fact]
    public void LeaderDropsProposalsBeyondMaxUncommittedEntriesSize()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { MaxUncommittedEntriesSize = 100 });
        net.Elect(1);
        net.Isolate(2);
        net.Isolate(3);
        string payload = new('p', 30);
        // 30 + 30 + 30 fit in 100; a fourth would make 120.
        for (int i = 0; i < 3; i++) Assert.Equal(RaftError.None, net.ProposeAndStabilize(1, payload));
        Assert.Equal(RaftError.ProposalDropped, net.ProposeAndStabilize(1, payload));
        Assert.Equal(3, net[1].PersistedData().Count);

        // Once the tail commits, the budget is free again.
        net.Heal();
        net.TickAndStabilize(1, 1);
        Assert.Equal(3, net[1].State.Count);
        Assert.Equal(RaftError.None, net.ProposeAndStabilize(1, payload));
        Assert.Equal(4, net[2].State.Count);
    }

    [Fact]
    public void OversizedSingleProposalIsAcceptedWhenNothingIsUncommitted()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { MaxUncommittedEntriesSize = 10 });
        net.Elect(1);
        Assert.Equal(RaftError.None, net.ProposeAndStabilize(1, new string('b', 50)));
        Assert.Single(net[3].State);
    }

    [Fact]
    public void FollowersDoNotEnforceTheUncommittedLimitOnForwarding()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { MaxUncommittedEntriesSize = 100 });
        net.Elect(1);
        net.Isolate(3);
        string payload = new('q', 30);
        // Node 2 forwards everything; the leader commits each with node 2, so nothing piles up.
        for (int i = 0; i < 6; i++) Assert.Equal(RaftError.None, net.ProposeAndStabilize(2, payload));
        Assert.Equal(6, net[1].State.Count);
    }
}
