using Dotcd.Raft.Tests.Harness;
using static Dotcd.Raft.Tests.Harness.Msg;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Thesis §6.4: linearizable reads with ReadIndex (ReadOnlySafe).</summary>
public sealed class ReadIndexTests
{
    private const int E = 10;

    [Fact]
    public void LeaderAnswersReadIndexOnlyAfterAHeartbeatQuorum()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net[1].Raw.ReadIndex(Bytes("ctx1"));
        IReadOnlyList<Message> sent = net.Process(1);
        Message[] beats = sent.Where(m => m.Type == MessageType.MsgHeartbeat).ToArray();
        Assert.Equal(2, beats.Length);
        Assert.All(beats, b => Assert.Equal("ctx1", Text(b.Context)));
        Assert.Empty(net[1].ReadStates); // Not before a quorum confirmed the leadership.

        net.Stabilize();
        ReadState rs = Assert.Single(net[1].ReadStates);
        Assert.Equal(2UL, rs.Index); // The commit index when the read arrived.
        Assert.Equal("ctx1", Text(rs.RequestContext));
    }

    [Fact]
    public void OneHeartbeatAckBesidesTheLeaderIsEnough()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        net[1].Raw.ReadIndex(Bytes("r"));
        net.Stabilize();
        Assert.Equal("r", Text(Assert.Single(net[1].ReadStates).RequestContext));
    }

    [Fact]
    public void LeaderWithoutQuorumNeverAnswersRead()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(2);
        net.Isolate(3);
        net[1].Raw.ReadIndex(Bytes("r"));
        net.TickAndStabilize(3 * E, 1);
        Assert.Empty(net[1].ReadStates);
    }

    [Fact]
    public void FollowerReadIndexIsForwardedToLeader()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net[2].Raw.ReadIndex(Bytes("f"));
        net.Stabilize();
        ReadState rs = Assert.Single(net[2].ReadStates);
        Assert.Equal(2UL, rs.Index);
        Assert.Equal("f", Text(rs.RequestContext));
        Assert.Empty(net[1].ReadStates);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgReadIndex && m.From == 2 && m.To == 1);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgReadIndexResp && m.From == 1 && m.To == 2 && m.Index == 2);
    }

    [Fact]
    public void PartitionedOldLeaderCannotServeReads()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(1);
        net.Elect(2);
        net.ProposeAndStabilize(2, "new");
        Assert.Equal(StateType.Leader, net[1].Role); // It still believes it leads term 1.

        net[1].Raw.ReadIndex(Bytes("old"));
        net.TickAndStabilize(3 * E, 1);
        Assert.Empty(net[1].ReadStates); // A read here would miss "new".

        net[2].Raw.ReadIndex(Bytes("cur"));
        net.Stabilize();
        Assert.True(Assert.Single(net[2].ReadStates).Index >= 3);
    }

    [Fact]
    public void NewLeaderAnswersReadOnlyAfterCommittingAnEntryOfItsTerm()
    {
        var net = RaftNetwork.Create(3);
        MessageFilter acks = net.Intercept(MessageType.MsgAppResp);
        net.Elect(1);
        Assert.Equal(0UL, net[1].Committed); // Its empty entry of term 1 is not acknowledged yet.
        net[1].Raw.ReadIndex(Bytes("early"));
        net.TickAndStabilize(2, 1);
        Assert.Empty(net[1].ReadStates);

        acks.Remove();
        foreach (Message m in acks.Captured!) net.DeliverUnfiltered(m);
        net.Stabilize();
        net.TickAndStabilize(1, 1);
        ReadState rs = Assert.Single(net[1].ReadStates);
        Assert.Equal(1UL, rs.Index);
        Assert.Equal("early", Text(rs.RequestContext));
    }

    [Fact]
    public void SingleMemberAnswersReadIndexImmediately()
    {
        var net = RaftNetwork.Create(1);
        net.Elect(1);
        net[1].Raw.ReadIndex(Bytes("solo"));
        net.Process(1);
        ReadState rs = Assert.Single(net[1].ReadStates);
        Assert.Equal(1UL, rs.Index);
    }

    [Fact]
    public void LeaseBasedReadIsAnsweredWithoutHeartbeatRound()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { CheckQuorum = true, ReadOnlyOption = ReadOnlyOption.LeaseBased });
        net.Elect(1);
        net.Sent.Clear();
        net[1].Raw.ReadIndex(Bytes("lease"));
        IReadOnlyList<Message> sent = net.Process(1);
        Assert.DoesNotContain(sent, m => m.Type == MessageType.MsgHeartbeat);
        Assert.Equal("lease", Text(Assert.Single(net[1].ReadStates).RequestContext));
    }
}
