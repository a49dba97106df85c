using System.Text;

namespace Dotcd.Raft.Tests.Core;

public sealed class RawNodeTests
{
    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void SingleNodeBecomesLeaderAndCommitsProposals()
    {
        var logger = new CapturingLogger(RaftLogLevel.Info);
        var node = new CoreNode(1, MemoryStorage.WithPeers([1]), logger: logger);
        node.Node.Campaign();
        node.HandleReady();
        Assert.Equal(StateType.Leader, node.Node.Status().RaftState);
        Assert.Equal(1UL, node.Node.Status().Lead);

        Assert.Equal(RaftError.None, node.Node.Propose(Bytes("a")));
        Assert.Equal(RaftError.None, node.Node.Propose(Bytes("b")));
        node.HandleReady();

        Assert.Equal(["a", "b"], node.AppliedNormalData());
        Status st = node.Node.Status();
        Assert.Equal(3UL, st.HardState.Commit); // empty leader entry + 2 proposals
        Assert.Equal(3UL, st.Applied);
        Assert.Equal(3UL, node.Storage.LastIndex());
        Assert.Contains("1 became leader at term 1", logger.Lines);
        Assert.Contains("1 is starting a new election at term 0", logger.Lines);
        Assert.False(node.Node.HasReady());
    }

    [Fact]
    public void ThreeNodesElectALeaderAndReplicate()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Equal(1UL, cluster.Leader());
        foreach (CoreNode n in cluster.Nodes.Values) Assert.Equal(1UL, n.Node.Status().Lead);

        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("x")));
        cluster.Stabilize();
        // A follower forwards its proposal to the leader.
        Assert.Equal(RaftError.None, cluster[3].Node.Propose(Bytes("y")));
        cluster.Stabilize();

        foreach (CoreNode n in cluster.Nodes.Values)
        {
            Assert.Equal(["x", "y"], n.AppliedNormalData());
            Assert.Equal(3UL, n.Node.Status().HardState.Commit);
        }
        Status leader = cluster[1].Node.Status();
        Assert.Equal([1UL, 2UL, 3UL], leader.Progress.Keys);
        Assert.All(leader.Progress.Values, p => Assert.Equal(3UL, p.Match));
        Assert.All(leader.Progress.Values, p => Assert.Equal(ProgressState.Replicate, p.State));
    }

    [Fact]
    public void ElectionLogsUseEtcdWording()
    {
        var logger = new CapturingLogger(RaftLogLevel.Info);
        var cluster = new CoreCluster(3);
        var node1 = new CoreNode(1, MemoryStorage.WithPeers([1, 2, 3]), logger: logger);
        cluster.Nodes[1] = node1;
        node1.Node.Campaign();
        cluster.Stabilize();

        Assert.Contains("1 is starting a new election at term 0", logger.Lines);
        Assert.Contains("1 became candidate at term 1", logger.Lines);
        Assert.Contains("1 [logterm: 0, index: 0] sent MsgVote request to 2 at term 1", logger.Lines);
        Assert.Contains("1 [logterm: 0, index: 0] sent MsgVote request to 3 at term 1", logger.Lines);
        Assert.Contains("1 received MsgVoteResp from 2 at term 1", logger.Lines);
        Assert.Contains("1 has received 2 MsgVoteResp votes and 0 vote rejections", logger.Lines);
        Assert.Contains("1 became leader at term 1", logger.Lines);
    }

    [Fact]
    public void FollowersElectALeaderByTicking()
    {
        var cluster = new CoreCluster(3, (id, storage) => new RaftConfig
        {
            Id = id, ElectionTick = 10, HeartbeatTick = 1, Storage = storage,
            Random = new SeededRaftRandom(id * 7), PreVote = true, CheckQuorum = true,
        });
        cluster.TickAll(25);
        Assert.NotNull(cluster.Leader());
    }

    [Fact]
    public void ReadIndexOnThreeNodesReturnsAReadStateAfterAHeartbeatRound()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster[1].Node.Propose(Bytes("v"));
        cluster.Stabilize();
        ulong commit = cluster[1].Node.Status().HardState.Commit;

        int heartbeatsBefore = cluster.Delivered.Count(m => m.Type == MessageType.MsgHeartbeat);
        cluster[1].Node.ReadIndex(Bytes("ctx-leader"));
        cluster.Stabilize();
        ReadState rs = Assert.Single(cluster[1].ReadStates);
        Assert.Equal(commit, rs.Index);
        Assert.Equal("ctx-leader", Encoding.UTF8.GetString(rs.RequestContext.Span));
        var heartbeats = cluster.Delivered.Where(m => m.Type == MessageType.MsgHeartbeat).Skip(heartbeatsBefore).ToList();
        Assert.Equal(2, heartbeats.Count);
        Assert.All(heartbeats, h => Assert.Equal("ctx-leader", Encoding.UTF8.GetString(h.Context.Span)));

        // A follower's request goes through the leader and comes back as a ReadState on the follower.
        cluster[2].Node.ReadIndex(Bytes("ctx-follower"));
        cluster.Stabilize();
        ReadState frs = Assert.Single(cluster[2].ReadStates);
        Assert.Equal(commit, frs.Index);
        Assert.Equal("ctx-follower", Encoding.UTF8.GetString(frs.RequestContext.Span));
    }

    [Fact]
    public void ReadIndexWaitsWithoutAQuorumOfHeartbeatAcks()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster.Isolate(1);
        cluster[1].Node.ReadIndex(Bytes("r"));
        cluster.Stabilize();
        Assert.Empty(cluster[1].ReadStates);

        cluster.Cut.Clear();
        cluster[1].Node.Tick(); // heartbeat carries the pending context
        cluster.Stabilize();
        Assert.Single(cluster[1].ReadStates);
    }

    [Fact]
    public void ConfChangeAddsANodeThatThenReplicates()
    {
        // Bootstrapped, so the log holds the whole membership history a new node replays.
        var cluster = new CoreCluster(3, bootstrap: true);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster[1].Node.Propose(Bytes("before"));
        cluster.Stabilize();

        // Node 4 starts empty; it learns the configuration from the log.
        cluster.Nodes[4] = new CoreNode(4, new MemoryStorage());
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(new ConfChange(ConfChangeType.AddNode, 4)));
        cluster.Stabilize();

        ConfState cs = cluster[1].Node.Status().Config;
        Assert.Equal([1UL, 2UL, 3UL, 4UL], cs.Voters);
        Assert.NotNull(cluster[1].LastConfState);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], cluster[1].LastConfState!.Voters);

        cluster[1].Node.Propose(Bytes("after"));
        cluster.Stabilize();
        Assert.Equal(["before", "after"], cluster[4].AppliedNormalData());
        Assert.Equal(cluster[1].Node.Status().HardState.Commit, cluster[4].Node.Status().HardState.Commit);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], cluster[4].Node.Status().Config.Voters);
    }

    [Fact]
    public void JointConfChangeLeavesAutomatically()
    {
        var cluster = new CoreCluster(3, bootstrap: true);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster.Nodes[4] = new CoreNode(4, new MemoryStorage());
        var cc = new ConfChangeV2
        {
            Changes = [new ConfChangeSingle(ConfChangeType.AddNode, 4), new ConfChangeSingle(ConfChangeType.RemoveNode, 3)],
        };
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(cc));
        cluster.Stabilize();

        Status st = cluster[1].Node.Status();
        Assert.Equal([1UL, 2UL, 4UL], st.Config.Voters);
        Assert.Empty(st.Config.VotersOutgoing);
        Assert.False(st.Config.AutoLeave);
        Assert.Equal([1UL, 2UL, 4UL], cluster[4].Node.Status().Config.Voters);
    }

    [Fact]
    public void BootstrapCommitsTheInitialConfiguration()
    {
        var storage = new MemoryStorage();
        var node = new CoreNode(1, storage);
        node.Node.Bootstrap([new Peer(1), new Peer(2)]);
        Assert.True(node.Node.HasReady());
        Ready rd = node.Node.Ready();
        Assert.Equal(2, rd.Entries.Count);
        Assert.Equal(2, rd.CommittedEntries.Count);
        Assert.Equal(new HardState(1, 0, 2), rd.HardState);
        Assert.True(rd.MustSync);
        storage.Append(rd.Entries);
        storage.SetHardState(rd.HardState);
        foreach (Entry e in rd.CommittedEntries) node.Node.ApplyConfChange(ConfChangeCodec.Decode(e.Type, e.Data.Span));
        node.Node.Advance();
        Assert.False(node.Node.HasReady());
        Assert.Equal([1UL, 2UL], node.Node.Status().Config.Voters);
        Assert.Throws<InvalidOperationException>(() => node.Node.Bootstrap([new Peer(3)]));
    }

    [Fact]
    public void StepRejectsLocalMessagesAndResponsesFromStrangers()
    {
        var node = new CoreNode(1, MemoryStorage.WithPeers([1, 2]));
        Assert.Equal(RaftError.StepLocalMessage, node.Node.Step(new Message { Type = MessageType.MsgHup, From = 2, To = 1 }));
        Assert.Equal(RaftError.StepPeerNotFound, node.Node.Step(new Message { Type = MessageType.MsgAppResp, From = 9, To = 1, Term = 1 }));
    }

    [Fact]
    public void ProposalWithoutLeaderIsDropped()
    {
        var cluster = new CoreCluster(3);
        Assert.Equal(RaftError.ProposalDropped, cluster[2].Node.Propose(Bytes("nobody")));
    }
}

public sealed class RawNodeReadyTests
{
    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void ReadyMustBeAdvancedBeforeTheNextOne()
    {
        var node = new CoreNode(1, MemoryStorage.WithPeers([1]));
        node.Node.Campaign();
        node.Node.Ready();
        Assert.Throws<InvalidOperationException>(() => node.Node.Ready());
        node.Node.Advance();
        Assert.Throws<InvalidOperationException>(() => node.Node.Advance());
    }

    [Fact]
    public void ReadyCarriesOnlyChangesAndSyncsOnlyForTermVoteOrEntries()
    {
        var cluster = new CoreCluster(3);
        CoreNode follower = cluster[2];
        cluster[1].Node.Campaign();
        foreach (Message m in cluster[1].HandleReady()) if (m.To == 2) follower.Node.Step(m);

        // The vote changes term and vote: sync, and the soft state is unchanged (still follower).
        Ready vote = follower.Node.Ready();
        Assert.True(vote.MustSync);
        Assert.Equal(new HardState(1, 1, 0), vote.HardState);
        Assert.Null(vote.SoftState);
        follower.Storage.SetHardState(vote.HardState);
        follower.Node.Advance();
        Assert.False(follower.Node.HasReady());
        foreach (Message m in vote.Messages) cluster[1].Node.Step(m);
        Assert.Equal(StateType.Leader, cluster[1].Node.Status().RaftState);

        // A heartbeat that only moves the commit index: a HardState without sync.
        cluster.Stabilize();
        cluster[1].Node.Propose(Bytes("x"));
        foreach (Message m in cluster[1].HandleReady()) cluster.Nodes[m.To].Node.Step(m);
        foreach (CoreNode n in new[] { cluster[2], cluster[3] }) foreach (Message m in n.HandleReady()) cluster[1].Node.Step(m);
        foreach (Message m in cluster[1].HandleReady()) if (m.To == 2) follower.Node.Step(m);
        Ready commit = follower.Node.Ready();
        Assert.False(commit.MustSync);
        Assert.Empty(commit.Entries);
        Assert.Equal(2UL, commit.HardState.Commit);
        Assert.Single(commit.CommittedEntries);
        follower.Node.Advance();
    }

    [Fact]
    public void FollowerStatusHasNoProgressAndLeaderStatusHasAll()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Empty(cluster[2].Node.Status().Progress);
        Status st = cluster[1].Node.Status();
        Assert.Equal(3, st.Progress.Count);
        Assert.Equal(StateType.Leader, st.RaftState);
        Assert.Equal(1UL, st.Id);
        Assert.Equal([1UL, 2UL, 3UL], st.Config.Voters);
    }

    [Fact]
    public void UnreachableFollowerIsProbedInsteadOfPipelined()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Equal(ProgressState.Replicate, cluster[1].Node.Status().Progress[2].State);
        cluster[1].Node.ReportUnreachable(2);
        Assert.Equal(ProgressState.Probe, cluster[1].Node.Status().Progress[2].State);
        // The next accepted append finds the follower again.
        cluster[1].Node.Propose(Bytes("y"));
        cluster.Stabilize();
        Assert.Equal(ProgressState.Replicate, cluster[1].Node.Status().Progress[2].State);
    }

    [Fact]
    public void FailedSnapshotReturnsTheFollowerToProbing()
    {
        var cluster = new CoreCluster(3);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster.Isolate(3);
        cluster[1].Node.Propose(Bytes("x"));
        cluster.Stabilize();
        CoreNode leader = cluster[1];
        ulong applied = leader.Node.Status().Applied;
        leader.Storage.CreateSnapshot(applied, leader.Node.Status().Config, default, out _);
        leader.Storage.Compact(applied);

        // 3 answers heartbeats (so it is active) but the snapshot is lost.
        cluster.Cut.Clear();
        cluster.DropWhen = m => m.Type == MessageType.MsgSnap;
        cluster.ReportDroppedSnapshots = false; // this test reports by hand
        leader.Node.Tick();
        cluster.Stabilize();
        ProgressStatus pr = leader.Node.Status().Progress[3];
        Assert.Equal(ProgressState.Snapshot, pr.State);
        Assert.Equal(applied, pr.PendingSnapshot);

        leader.Node.ReportSnapshot(3, SnapshotStatus.Failure);
        pr = leader.Node.Status().Progress[3];
        Assert.Equal(ProgressState.Probe, pr.State);
        Assert.Equal(0UL, pr.PendingSnapshot);

        cluster.DropWhen = null;
        leader.Node.Tick();
        cluster.Stabilize();
        Assert.Equal(leader.Node.Status().HardState.Commit, cluster[3].Node.Status().HardState.Commit);
    }
}
