using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §6: cluster membership changes, one member at a time.</summary>
public sealed class MembershipTests
{
    private const int E = 10;

    private static ulong[] Voters(TestNode n) => n.Config.Voters.OrderBy(x => x).ToArray();

    /// <summary>Adds node 4 to a running 3-member cluster led by 1. Node 4 starts knowing the old configuration.</summary>
    private static RaftNetwork ClusterWithAddedNode4()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net.AddNode(4, MemoryStorage.WithPeers([1, 2, 3]));
        Assert.Equal(RaftError.None, net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.AddNode, 4)));
        net.TickAndStabilize(2);
        return net;
    }

    [Fact]
    public void AddedNodeCatchesUpWithTheLog()
    {
        RaftNetwork net = ClusterWithAddedNode4();
        Assert.All(net.Nodes, n => Assert.Equal(new ulong[] { 1, 2, 3, 4 }, Voters(n)));
        Assert.Equal(net[1].LogSummary(), net[4].LogSummary());
        Assert.Equal(new[] { "a" }, net[4].State);
        net.ProposeAndStabilize(1, "b");
        Assert.Equal(new[] { "a", "b" }, net[4].State);
    }

    [Fact]
    public void AddedNodeCountsTowardsTheLargerQuorum()
    {
        RaftNetwork net = ClusterWithAddedNode4();
        ulong commit = net[1].Committed;
        // Four voters need three acknowledgements: 1 and 2 alone no longer commit.
        net.Isolate(3);
        net.Isolate(4);
        net.ProposeAndStabilize(1, "b");
        Assert.Equal(commit, net[1].Committed);
        // With node 4 back, 1, 2 and 4 commit.
        net.Heal();
        net.Isolate(3);
        net.TickAndStabilize(1, 1);
        Assert.True(net[1].Committed > commit);
        Assert.Equal(new[] { "a", "b" }, net[4].State);
    }

    [Fact]
    public void AddedNodeVotesAndCanBeElected()
    {
        RaftNetwork net = ClusterWithAddedNode4();
        net.Stop(1);
        // 2 needs three of four votes; without 4 it has only its own and 3's.
        net.Isolate(4);
        net[2].Raw.Campaign();
        net.Stabilize();
        Assert.NotEqual(StateType.Leader, net[2].Role);
        net.Heal();
        net.Elect(2);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.From == 4 && m.To == 2 && !m.Reject);
        // And node 4 itself can lead.
        net.Elect(4);
        net.ProposeAndStabilize(4, "from4");
        foreach (ulong id in new ulong[] { 2, 3, 4 }) Assert.Equal(new[] { "a", "from4" }, net[id].State);
    }

    [Fact]
    public void RemovingMembersShrinksTheQuorum()
    {
        var net = RaftNetwork.Create(5);
        net.Elect(1);
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.RemoveNode, 5));
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.RemoveNode, 4));
        foreach (ulong id in new ulong[] { 1, 2, 3 }) Assert.Equal(new ulong[] { 1, 2, 3 }, Voters(net[id]));
        net.Stop(4);
        net.Stop(5);
        net.Isolate(3);
        // Two of the remaining three are a majority; two of the original five would not be.
        ulong commit = net[1].Committed;
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(commit + 1, net[1].Committed);
        Assert.Equal(new[] { "x" }, net[2].State);
    }

    [Fact]
    public void LeaderStopsReplicatingToARemovedFollower()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.RemoveNode, 3));
        net.Sent.Clear();
        net.ProposeAndStabilize(1, "x");
        net.TickAndStabilize(3, 1);
        Assert.DoesNotContain(net.Sent, m => m.To == 3);
        Assert.Empty(net[3].State);
        Assert.False(net[1].Status.Progress.ContainsKey(3));
    }

    [Fact]
    public void ClusterContinuesAfterRemovingItsLeader()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.RemoveNode, 1));
        foreach (ulong id in new ulong[] { 2, 3 }) Assert.Equal(new ulong[] { 2, 3 }, Voters(net[id]));
        Assert.DoesNotContain(1UL, net[1].Config.Voters);

        // The removed member shuts down, as a host does once it applied its own removal.
        net.Stop(1);
        Assert.True(net.TickUntil(() => net.Leader() is not null, 4 * E), net.Describe());
        TestNode leader = net.Leader()!;
        Assert.True(leader.Term > 1);
        net.ProposeAndStabilize(leader.Id, "b");
        Assert.Equal(new[] { "a", "b" }, net[2].State);
        Assert.Equal(new[] { "a", "b" }, net[3].State);
    }

    [Fact]
    public void SecondConfChangeIsRefusedWhileFirstIsPending()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.AddNode(4, MemoryStorage.WithPeers([1, 2, 3]));
        net.AddNode(5, MemoryStorage.WithPeers([1, 2, 3]));
        net[1].Raw.ProposeConfChange(new ConfChange(ConfChangeType.AddNode, 4));
        net[1].Raw.ProposeConfChange(new ConfChange(ConfChangeType.AddNode, 5));
        net.Stabilize();
        net.TickAndStabilize(2);
        Assert.All(net.Nodes.Where(n => n.Id <= 4), n => Assert.Equal(new ulong[] { 1, 2, 3, 4 }, Voters(n)));
        // The refused change leaves no conf change entry behind.
        Assert.Single(net[1].PersistedLog(), e => e.Type != EntryType.Normal);
    }

    [Fact]
    public void ConfChangeTakesEffectOnlyWhenApplied()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(2);
        net.Isolate(3);
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.RemoveNode, 3));
        // Appended but not committed: the configuration is still the old one.
        Assert.Equal(new ulong[] { 1, 2, 3 }, Voters(net[1]));
        Assert.Contains(net[1].PersistedLog(), e => e.Type == EntryType.ConfChange);
        net.Heal();
        net.TickAndStabilize(1, 1);
        Assert.Equal(new ulong[] { 1, 2 }, Voters(net[1]));
        Assert.Equal(new ulong[] { 1, 2 }, Voters(net[2]));
    }
}
