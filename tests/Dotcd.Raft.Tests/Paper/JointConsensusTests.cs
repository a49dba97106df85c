using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §6 / thesis §4.3: joint consensus with ConfChangeV2.</summary>
public sealed class JointConsensusTests
{
    private static ulong[] Sorted(IEnumerable<ulong> ids) => ids.OrderBy(x => x).ToArray();

    private static ConfChangeV2 Change(ConfChangeTransition transition, params (ConfChangeType Type, ulong Id)[] changes) => new()
    {
        Transition = transition,
        Changes = changes.Select(c => new ConfChangeSingle(c.Type, c.Id)).ToArray(),
    };

    private static RaftNetwork ClusterWithJoiners(params ulong[] joiners)
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        foreach (ulong id in joiners) net.AddNode(id, MemoryStorage.WithPeers([1, 2, 3]));
        return net;
    }

    [Fact]
    public void SingleVoterChangeWithAutoTransitionIsSimple()
    {
        RaftNetwork net = ClusterWithJoiners(4);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.Auto, (ConfChangeType.AddNode, 4)));
        net.TickAndStabilize(2);
        Assert.All(net.Nodes, n =>
        {
            Assert.Equal(new ulong[] { 1, 2, 3, 4 }, Sorted(n.Config.Voters));
            Assert.All(n.ConfStates, cs => Assert.Empty(cs.VotersOutgoing)); // Never joint.
        });
        Assert.Single(net[1].PersistedLog(), e => e.Type == EntryType.ConfChangeV2); // No leave entry either.
    }

    [Fact]
    public void AddingTwoVotersEntersJointConfigAndLeavesItAutomatically()
    {
        RaftNetwork net = ClusterWithJoiners(4, 5);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.Auto, (ConfChangeType.AddNode, 4), (ConfChangeType.AddNode, 5)));
        net.TickAndStabilize(3);

        foreach (TestNode n in net.Nodes)
        {
            // First the joint configuration (1 2 3 4 5)&&(1 2 3), then the new one alone.
            ConfState joint = n.ConfStates[^2];
            Assert.Equal(new ulong[] { 1, 2, 3, 4, 5 }, Sorted(joint.Voters));
            Assert.Equal(new ulong[] { 1, 2, 3 }, Sorted(joint.VotersOutgoing));
            Assert.True(joint.AutoLeave);
            ConfState final = n.ConfStates[^1];
            Assert.Equal(new ulong[] { 1, 2, 3, 4, 5 }, Sorted(final.Voters));
            Assert.Empty(final.VotersOutgoing);
            Assert.False(final.AutoLeave);
            Assert.Empty(n.Config.VotersOutgoing);
        }
        // The leader proposed the leave itself: an empty ConfChangeV2 entry follows the joint one.
        Entry[] ccs = net[1].PersistedLog().Where(e => e.Type == EntryType.ConfChangeV2).ToArray();
        Assert.Equal(2, ccs.Length);
        Assert.Empty(ConfChangeCodec.DecodeV2(ccs[1].Data.Span).Changes);
        Assert.Equal(new[] { "a" }, net[5].State);
    }

    [Fact]
    public void JointImplicitTransitionAlsoLeavesAutomatically()
    {
        RaftNetwork net = ClusterWithJoiners(4);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.JointImplicit, (ConfChangeType.AddNode, 4)));
        net.TickAndStabilize(3);
        Assert.Contains(net[1].ConfStates, cs => cs.VotersOutgoing.Count > 0);
        Assert.All(net.Nodes, n => Assert.Empty(n.Config.VotersOutgoing));
        Assert.All(net.Nodes, n => Assert.Equal(new ulong[] { 1, 2, 3, 4 }, Sorted(n.Config.Voters)));
    }

    [Fact]
    public void ExplicitJointConfigStaysUntilEmptyConfChangeV2()
    {
        RaftNetwork net = ClusterWithJoiners(4, 5);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.JointExplicit, (ConfChangeType.AddNode, 4), (ConfChangeType.AddNode, 5)));
        net.TickAndStabilize(5);
        Assert.All(net.Nodes, n =>
        {
            Assert.Equal(new ulong[] { 1, 2, 3 }, Sorted(n.Status.Config.VotersOutgoing));
            Assert.Equal(new ulong[] { 1, 2, 3, 4, 5 }, Sorted(n.Status.Config.Voters));
            Assert.False(n.Config.AutoLeave);
        });

        // Another change while joint is refused; only the empty change leaves.
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.Auto, (ConfChangeType.RemoveNode, 2)));
        Assert.All(net.Nodes, n => Assert.Equal(new ulong[] { 1, 2, 3 }, Sorted(n.Config.VotersOutgoing)));

        net.ProposeConfChangeAndStabilize(1, new ConfChangeV2());
        net.TickAndStabilize(2);
        Assert.All(net.Nodes, n =>
        {
            Assert.Empty(n.Config.VotersOutgoing);
            Assert.Equal(new ulong[] { 1, 2, 3, 4, 5 }, Sorted(n.Config.Voters));
        });
    }

    [Fact]
    public void CommitInJointConfigNeedsMajoritiesOfBothConfigs()
    {
        // Replace 2 and 3 by 4 and 5: joint (1 4 5)&&(1 2 3), left explicitly.
        RaftNetwork net = ClusterWithJoiners(4, 5);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.JointExplicit,
            (ConfChangeType.AddNode, 4), (ConfChangeType.AddNode, 5), (ConfChangeType.RemoveNode, 2), (ConfChangeType.RemoveNode, 3)));
        net.TickAndStabilize(3);
        Assert.Equal(new ulong[] { 1, 4, 5 }, Sorted(net[1].Config.Voters));
        Assert.Equal(new ulong[] { 1, 2, 3 }, Sorted(net[1].Config.VotersOutgoing));
        ulong commit = net[1].Committed;

        // Only the new half reachable: (1 4 5) has a majority, (1 2 3) does not.
        MessageFilter oldCut = net.Partition([1, 4, 5], [2, 3]);
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(commit, net[1].Committed);
        Assert.Contains("x", net[4].PersistedData());
        Assert.DoesNotContain("x", net[4].State);

        // Node 2 back: now both halves have a majority.
        oldCut.Remove();
        net.Isolate(3);
        net.TickAndStabilize(1, 1);
        Assert.True(net[1].Committed > commit);
        Assert.Equal(new[] { "a", "x" }, net[1].State);
        net.Heal();
        commit = net[1].Committed;

        // Only the old half reachable: (1 2 3) has a majority, (1 4 5) does not.
        MessageFilter newCut = net.Partition([1, 2, 3], [4, 5]);
        net.ProposeAndStabilize(1, "y");
        Assert.Equal(commit, net[1].Committed);
        newCut.Remove();
        net.TickAndStabilize(1, 1);
        Assert.Equal(new[] { "a", "x", "y" }, net[1].State);

        // After leaving, the old members no longer matter.
        net.ProposeConfChangeAndStabilize(1, new ConfChangeV2());
        net.TickAndStabilize(2);
        Assert.Empty(net[1].Config.VotersOutgoing);
        Assert.Equal(new ulong[] { 1, 4, 5 }, Sorted(net[1].Config.Voters));
        net.Stop(2);
        net.Stop(3);
        net.ProposeAndStabilize(1, "z");
        Assert.Equal(new[] { "a", "x", "y", "z" }, net[4].State);
        Assert.Equal(new[] { "a", "x", "y", "z" }, net[5].State);
    }

    [Fact]
    public void ElectionInJointConfigNeedsMajoritiesOfBothConfigs()
    {
        RaftNetwork net = ClusterWithJoiners(4, 5);
        net.ProposeConfChangeAndStabilize(1, Change(ConfChangeTransition.JointExplicit,
            (ConfChangeType.AddNode, 4), (ConfChangeType.AddNode, 5), (ConfChangeType.RemoveNode, 2), (ConfChangeType.RemoveNode, 3)));
        net.TickAndStabilize(3);
        net.Stop(1);

        // Node 4 with the votes of 4 and 5 only: a majority of (1 4 5) but none of (1 2 3).
        net.Partition([4, 5], [2, 3]);
        net[4].Raw.Campaign();
        net.Stabilize();
        Assert.NotEqual(StateType.Leader, net[4].Role);
        net.Heal();
        net.Elect(4);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.To == 4 && !m.Reject && (m.From == 2 || m.From == 3));
    }
}
