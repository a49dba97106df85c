using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §7: log compaction and catching followers up with InstallSnapshot (MsgSnap).</summary>
public sealed class SnapshotCatchUpTests
{
    private const int E = 10;

    private static List<string> Values(int n, string prefix = "v") => Enumerable.Range(0, n).Select(i => $"{prefix}{i}").ToList();

    [Fact]
    public void LaggingFollowerIsCaughtUpWithSnapshotAfterLeaderCompacts()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        foreach (string v in Values(10)) net.ProposeAndStabilize(1, v);
        Snapshot snap = net[1].SnapshotAndCompact();
        Assert.Equal(11UL, snap.Metadata.Index);
        Assert.Equal(12UL, net[1].Storage.FirstIndex());

        net.Heal();
        net.TickAndStabilize(2, 1);
        net.Stabilize();
        Message msgSnap = Assert.Single(net.Sent, m => m.Type == MessageType.MsgSnap);
        Assert.Equal(3UL, msgSnap.To);
        Assert.Equal(11UL, msgSnap.Snapshot!.Metadata.Index);

        Assert.Equal(Values(10), net[3].State);
        Assert.Equal(11UL, net[3].AppliedIndex);
        net[3].Storage.TryGetSnapshot(out Snapshot followerSnap);
        Assert.Equal(11UL, followerSnap.Metadata.Index);
        Assert.Equal(1UL, followerSnap.Metadata.Term);
        Assert.Equal(ProgressState.Replicate, net[1].Status.Progress[3].State);

        // It keeps replicating normally afterwards.
        net.ProposeAndStabilize(1, "after");
        Assert.Equal(net[1].State, net[3].State);
        Assert.Equal(net[1].LogSummary(), net[3].LogSummary());
    }

    [Fact]
    public void RestartedFollowerIsCaughtUpWithSnapshot()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "early");
        net.Stop(3);
        foreach (string v in Values(5)) net.ProposeAndStabilize(1, v);
        net[1].SnapshotAndCompact();
        net.ProposeAndStabilize(1, "tail"); // An entry after the snapshot, sent by MsgApp.

        net.Restart(3);
        net.Process(3);
        Assert.Equal(new[] { "early" }, net[3].State); // Replayed from its own log.
        net.TickAndStabilize(2, 1);
        net.Stabilize();
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgSnap && m.To == 3);
        var expected = new List<string> { "early" };
        expected.AddRange(Values(5));
        expected.Add("tail");
        Assert.Equal(expected, net[3].State);
        Assert.Equal(net[1].AppliedIndex, net[3].AppliedIndex);
        net.AssertStateMachinesAgree();
    }

    [Fact]
    public void NewMemberWithEmptyStorageJoinsThroughSnapshot()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        foreach (string v in Values(4)) net.ProposeAndStabilize(1, v);

        // The member is added while unreachable; the leader then snapshots a configuration that
        // includes it (a node refuses a snapshot whose configuration lacks it) and compacts.
        net.AddNode(4, new MemoryStorage());
        net.Isolate(4);
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.AddNode, 4));
        Snapshot snap = net[1].SnapshotAndCompact();
        Assert.Contains(4UL, snap.Metadata.ConfState.Voters);
        net.Heal();
        net.TickAndStabilize(3, 1);
        net.Stabilize();

        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgSnap && m.To == 4);
        Assert.Equal(Values(4), net[4].State);
        Assert.Equal(snap.Metadata.Index, net[4].AppliedIndex);
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, net[4].ConfStates[0].Voters.OrderBy(x => x).ToArray());
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, net[4].Config.Voters.OrderBy(x => x).ToArray());

        // It is a full voter: with 2 cut off, 1 and 3 need node 4 for three of four.
        net.Isolate(2);
        ulong commit = net[1].Committed;
        net.ProposeAndStabilize(1, "with4");
        Assert.Equal(commit + 1, net[1].Committed);
        Assert.Equal("with4", net[4].State[^1]);
    }

    [Fact]
    public void SnapshotWithoutTheReceiverInItsConfigurationIsRefused()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        foreach (string v in Values(2)) net.ProposeAndStabilize(1, v);
        net[1].SnapshotAndCompact(); // Configuration (1 2 3): taken before node 4 was added.
        net.AddNode(4, new MemoryStorage());
        net.ProposeConfChangeAndStabilize(1, new ConfChange(ConfChangeType.AddNode, 4));
        net.TickAndStabilize(2, 1);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgSnap && m.To == 4);
        Assert.Empty(net[4].State);
        Assert.Equal(0UL, net[4].PersistedLastIndex);
    }

    [Fact]
    public void SnapshotRestoresStateAfterCrashOfACompactedMember()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        foreach (string v in Values(3)) net.ProposeAndStabilize(1, v);
        net[2].SnapshotAndCompact();
        net.ProposeAndStabilize(1, "later");
        net.Stop(2);
        net.Restart(2);
        net.Process(2);
        // The restarted member rebuilds its state from its own snapshot plus the entries after it.
        Assert.Equal(new[] { "v0", "v1", "v2", "later" }, net[2].State);
        Assert.Equal(new ulong[] { 1, 2, 3 }, net[2].Config.Voters.OrderBy(x => x).ToArray());
    }

    [Fact]
    public void FailedSnapshotIsRetriedAndFollowerStillCatchesUp()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        foreach (string v in Values(5)) net.ProposeAndStabilize(1, v);
        net[1].SnapshotAndCompact();
        net.Heal();
        MessageFilter noSnap = net.DropType(MessageType.MsgSnap);
        net.TickAndStabilize(3, 1);
        Assert.Contains(net.Dropped, m => m.Type == MessageType.MsgSnap && m.To == 3);
        Assert.Empty(net[3].State);

        noSnap.Remove();
        Assert.True(net.TickUntil(() => net[3].State.Count == 5, 3 * E), net.Describe());
        Assert.Equal(Values(5), net[3].State);
    }
}
