using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Thesis §3.10: leadership transfer.</summary>
public sealed class LeaderTransferTests
{
    private const int E = 10;

    [Fact]
    public void TransferToUpToDateFollowerMakesItLeader()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net[1].Raw.TransferLeader(2);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[2].Role);
        Assert.Equal(2UL, net[2].Term);
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(2UL, net[1].Lead);
        Assert.Equal(0UL, net[2].Status.LeadTransferee);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgTimeoutNow && m.From == 1 && m.To == 2);
        net.ProposeAndStabilize(2, "b");
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "a", "b" }, n.State));
    }

    [Fact]
    public void TransferToLaggingFollowerWaitsUntilItCatchesUp()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        for (int i = 0; i < 3; i++) net.ProposeAndStabilize(1, $"m{i}");
        net.Heal();
        net.Sent.Clear();

        net[1].Raw.TransferLeader(3);
        Assert.Equal(3UL, net[1].Status.LeadTransferee);
        IReadOnlyList<Message> first = net.Process(1);
        Assert.DoesNotContain(first, m => m.Type == MessageType.MsgTimeoutNow); // Not before it has the log.
        Assert.Contains(first, m => m.Type == MessageType.MsgApp && m.To == 3);

        net.Stabilize();
        Assert.Equal(StateType.Leader, net[3].Role);
        Assert.Equal(new[] { "m0", "m1", "m2" }, net[3].PersistedData());
        int caughtUp = net.Sent.FindIndex(m => m.Type == MessageType.MsgAppResp && m.From == 3 && !m.Reject && m.Index == 4);
        int timeoutNow = net.Sent.FindIndex(m => m.Type == MessageType.MsgTimeoutNow);
        Assert.True(caughtUp >= 0 && timeoutNow > caughtUp, Msg.Describe(net.Sent));
    }

    [Fact]
    public void TransferToSelfIsIgnored()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net[1].Raw.TransferLeader(1);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(0UL, net[1].Status.LeadTransferee);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgTimeoutNow);
        Assert.Equal(RaftError.None, net.Propose(1, "x"));
    }

    [Fact]
    public void TransferToNonMemberIsIgnored()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net[1].Raw.TransferLeader(9);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(0UL, net[1].Status.LeadTransferee);
        Assert.Equal(RaftError.None, net.Propose(1, "x"));
    }

    [Fact]
    public void ProposalsAreDroppedWhileTransferIsInProgress()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        net[1].Raw.TransferLeader(3);
        net.Stabilize();
        Assert.Equal(3UL, net[1].Status.LeadTransferee);
        Assert.Equal(RaftError.ProposalDropped, net.Propose(1, "x"));
        net.Stabilize();
        Assert.DoesNotContain("x", net[1].PersistedData());
    }

    [Fact]
    public void TransferIsAbortedAfterElectionTimeout()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        net[1].Raw.TransferLeader(3);
        net.Stabilize();
        net.TickAndStabilize(E - 1, 1);
        Assert.Equal(3UL, net[1].Status.LeadTransferee);
        net.TickAndStabilize(1, 1);
        Assert.Equal(0UL, net[1].Status.LeadTransferee);
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(RaftError.None, net.ProposeAndStabilize(1, "x"));
        Assert.Equal(new[] { "x" }, net[2].State);
    }

    [Fact]
    public void TransferRequestedOnFollowerIsForwardedToLeader()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net[2].Raw.TransferLeader(2);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[2].Role);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgTransferLeader && m.To == 1);
    }

    [Fact]
    public void TransferSucceedsDespiteLeaderLeaseUnderCheckQuorum()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { CheckQuorum = true });
        net.Elect(1);
        net.TickAndStabilize(2);
        // The transferee's vote request is marked as a transfer and bypasses node 3's lease.
        net[1].Raw.TransferLeader(2);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[2].Role);
        Assert.Equal(2UL, net[3].Lead);
    }

    [Fact]
    public void TransferSkipsPreVote()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { PreVote = true });
        net.Elect(1);
        net.Sent.Clear();
        net[1].Raw.TransferLeader(3);
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[3].Role);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgPreVote);
    }
}
