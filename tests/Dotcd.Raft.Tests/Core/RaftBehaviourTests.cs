using System.Text;

namespace Dotcd.Raft.Tests.Core;

/// <summary>Features of the core seen through RawNode: transfer, quorum checks, pre-vote, snapshots, limits, learners.</summary>
public sealed class RaftBehaviourTests
{
    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static Entry E(ulong index, ulong term) => new(term, index, EntryType.Normal, ReadOnlyMemory<byte>.Empty);

    private static CoreCluster ElectedCluster(int size = 3, Func<ulong, MemoryStorage, RaftConfig>? configure = null)
    {
        var cluster = new CoreCluster(size, configure);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Equal(1UL, cluster.Leader());
        return cluster;
    }

    [Fact]
    public void ElectionTimeoutIsRandomizedBetweenOneAndTwoElectionTicks()
    {
        var seen = new HashSet<int>();
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var storage = MemoryStorage.WithPeers([1, 2, 3]);
            var node = new RawNode(new RaftConfig { Id = 1, ElectionTick = 10, HeartbeatTick = 1, Storage = storage, Random = new SeededRaftRandom(seed) });
            int ticks = 0;
            while (node.Status().RaftState == StateType.Follower)
            {
                node.Tick();
                ticks++;
                Assert.True(ticks < 20, "campaigned too late");
            }
            Assert.InRange(ticks, 10, 19);
            seen.Add(ticks);
        }
        Assert.True(seen.Count > 3, "timeouts are not randomized");
    }

    [Fact]
    public void LeaderTransferHandsLeadershipToAnUpToDateFollower()
    {
        CoreCluster cluster = ElectedCluster();
        ulong term = cluster[1].Node.Status().Term;
        cluster[1].Node.TransferLeader(2);
        cluster.Stabilize();
        Assert.Equal(2UL, cluster.Leader());
        Assert.Equal(term + 1, cluster[2].Node.Status().Term);
        Assert.Contains(cluster.Delivered, m => m.Type == MessageType.MsgTimeoutNow && m.To == 2);
    }

    [Fact]
    public void LeaderTransferToALaggingFollowerCatchesItUpFirst()
    {
        CoreCluster cluster = ElectedCluster();
        cluster.Cut.Add((1, 3));
        cluster[1].Node.Propose(Bytes("missed by 3"));
        cluster.Stabilize();
        cluster.Cut.Clear();

        cluster[1].Node.TransferLeader(3);
        cluster.Stabilize();
        Assert.Equal(3UL, cluster.Leader());
        Assert.Contains("missed by 3", cluster[3].AppliedNormalData());
    }

    [Fact]
    public void ProposalsAreDroppedDuringATransferUntilItTimesOut()
    {
        CoreCluster cluster = ElectedCluster();
        cluster.Isolate(3);
        cluster[1].Node.Propose(Bytes("a"));
        cluster.Stabilize();

        cluster[1].Node.TransferLeader(3); // 3 cannot catch up: the transfer hangs
        cluster.Stabilize();
        Assert.Equal(3UL, cluster[1].Node.Status().LeadTransferee);
        Assert.Equal(RaftError.ProposalDropped, cluster[1].Node.Propose(Bytes("b")));

        for (int i = 0; i < 10; i++) cluster[1].Node.Tick();
        Assert.Equal(0UL, cluster[1].Node.Status().LeadTransferee);
        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("c")));
        cluster.Stabilize();
        Assert.Equal(["a", "c"], cluster[2].AppliedNormalData());
    }

    [Fact]
    public void LeaderStepsDownWithoutQuorum()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(checkQuorum: true));
        cluster.Isolate(1);
        for (int i = 0; i < 20; i++)
        {
            cluster[1].Node.Tick();
            cluster.Stabilize();
        }
        Assert.Equal(StateType.Follower, cluster[1].Node.Status().RaftState);
    }

    [Fact]
    public void LeaderWithAnActiveQuorumKeepsLeading()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(checkQuorum: true));
        cluster.TickAll(50);
        Assert.Equal(1UL, cluster.Leader());
    }

    [Fact]
    public void PreVoteKeepsAPartitionedNodeFromDisruptingTheCluster()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(preVote: true, checkQuorum: true));
        ulong term = cluster[1].Node.Status().Term;
        cluster.Isolate(3);
        cluster.TickAll(100);
        // The isolated node only ran pre-elections: its term did not move.
        Assert.Equal(term, cluster[3].Node.Status().Term);

        cluster.Cut.Clear();
        cluster.TickAll(20);
        Assert.Equal(1UL, cluster.Leader());
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(term, n.Node.Status().Term));
    }

    [Fact]
    public void WithoutPreVoteARejoiningNodeForcesANewTerm()
    {
        CoreCluster cluster = ElectedCluster();
        ulong term = cluster[1].Node.Status().Term;
        cluster.Isolate(3);
        cluster.TickAll(30);
        Assert.True(cluster[3].Node.Status().Term > term);
        cluster.Cut.Clear();
        cluster.TickAll(30);
        Assert.NotNull(cluster.Leader());
        Assert.True(cluster[1].Node.Status().Term > term);
    }

    [Fact]
    public void FollowerBehindACompactedLogGetsASnapshot()
    {
        CoreCluster cluster = ElectedCluster();
        cluster.Isolate(3);
        for (int i = 0; i < 10; i++) cluster[1].Node.Propose(Bytes($"v{i}"));
        cluster.Stabilize();

        // The leader's host snapshots and compacts everything applied.
        CoreNode leader = cluster[1];
        ulong applied = leader.Node.Status().Applied;
        Assert.Equal(StorageError.None, leader.Storage.CreateSnapshot(applied, leader.Node.Status().Config, "state"u8.ToArray(), out _));
        Assert.Equal(StorageError.None, leader.Storage.Compact(applied));

        cluster.Cut.Clear();
        cluster.TickAll(3);
        Assert.Contains(cluster.Delivered, m => m.Type == MessageType.MsgSnap && m.To == 3);
        Assert.Equal(StorageError.None, cluster[3].Storage.TryGetSnapshot(out Snapshot snap));
        Assert.Equal(applied, snap.Metadata.Index);
        Assert.Equal("state"u8.ToArray(), snap.Data.ToArray());

        // Replication continues normally after the snapshot.
        leader.Node.Propose(Bytes("after"));
        cluster.Stabilize();
        Assert.Equal(leader.Node.Status().HardState.Commit, cluster[3].Node.Status().HardState.Commit);
        Assert.Equal(["after"], cluster[3].AppliedNormalData());
        Assert.Equal(ProgressState.Replicate, leader.Node.Status().Progress[3].State);
    }

    [Fact]
    public void UncommittedSizeLimitDropsProposals()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(maxUncommitted: 10));
        cluster.Isolate(1); // nothing commits
        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("12345678")));
        Assert.Equal(RaftError.ProposalDropped, cluster[1].Node.Propose(Bytes("12345678")));
        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("12")));

        cluster.Cut.Clear();
        cluster[1].Node.Tick();
        cluster.Stabilize();
        // Once committed, the budget is free again.
        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("12345678")));
    }

    [Fact]
    public void LearnerReceivesEntriesButNeverCampaigns()
    {
        var cluster = new CoreCluster(3, storage: _ => MemoryStorage.WithPeers([1, 2], [3]));
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        cluster[1].Node.Propose(Bytes("x"));
        cluster.Stabilize();
        Assert.Equal(["x"], cluster[3].AppliedNormalData());
        Assert.True(cluster[1].Node.Status().Progress[3].IsLearner);
        // The vote went to the voters only.
        Assert.DoesNotContain(cluster.Delivered, m => m.Type == MessageType.MsgVote && m.To == 3);

        cluster.Isolate(3);
        ulong term = cluster[3].Node.Status().Term;
        for (int i = 0; i < 100; i++) cluster[3].Node.Tick();
        cluster.Stabilize();
        Assert.Equal(StateType.Follower, cluster[3].Node.Status().RaftState);
        Assert.Equal(term, cluster[3].Node.Status().Term);
        cluster[3].Node.Campaign();
        Assert.Equal(StateType.Follower, cluster[3].Node.Status().RaftState);
    }

    [Fact]
    public void SecondConfChangeIsRefusedWhileTheFirstIsUnapplied()
    {
        CoreCluster cluster = ElectedCluster();
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(new ConfChange(ConfChangeType.AddLearnerNode, 4)));
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(new ConfChange(ConfChangeType.AddLearnerNode, 5)));
        cluster.Stabilize();

        var tail = cluster[1].Applied.TakeLast(2).ToList();
        Assert.Equal(EntryType.ConfChange, tail[0].Type);
        Assert.Equal(EntryType.Normal, tail[1].Type);
        Assert.True(tail[1].Data.IsEmpty);
        Assert.Equal([4UL], cluster[1].Node.Status().Config.Learners);

        // Once applied, the next change is accepted.
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(new ConfChange(ConfChangeType.AddLearnerNode, 5)));
        cluster.Stabilize();
        Assert.Equal([4UL, 5UL], cluster[1].Node.Status().Config.Learners);
    }

    [Fact]
    public void FollowerDropsProposalsWhenForwardingIsDisabled()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(disableForwarding: true));
        Assert.Equal(RaftError.ProposalDropped, cluster[2].Node.Propose(Bytes("x")));
        Assert.Equal(RaftError.None, cluster[1].Node.Propose(Bytes("y")));
    }

    [Fact]
    public void LeaseBasedReadIndexAnswersWithoutAHeartbeatRound()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(checkQuorum: true, readOnly: ReadOnlyOption.LeaseBased));
        cluster.Isolate(1);
        cluster[1].Node.ReadIndex(Bytes("lease"));
        cluster.Stabilize();
        ReadState rs = Assert.Single(cluster[1].ReadStates);
        Assert.Equal(cluster[1].Node.Status().HardState.Commit, rs.Index);
    }

    [Fact]
    public void ReadIndexWaitsForTheFirstCommitOfTheLeadersTerm()
    {
        CoreCluster cluster = ElectedCluster();
        cluster.Isolate(1);
        // Node 2 wins an election by hand; then its appends to 3 are lost, so its empty entry does not
        // commit, while heartbeats (which could confirm a read) still get through.
        cluster[2].Node.Campaign();
        foreach (Message vote in cluster[2].HandleReady()) if (vote.To == 3) cluster[3].Node.Step(vote);
        foreach (Message resp in cluster[3].HandleReady()) cluster[2].Node.Step(resp);
        Assert.Equal(StateType.Leader, cluster[2].Node.Status().RaftState);
        cluster.DropWhen = m => m.From == 2 && m.To == 3 && m.Type == MessageType.MsgApp;
        cluster.Stabilize();

        cluster[2].Node.ReadIndex(Bytes("early"));
        cluster.Stabilize();
        cluster[2].Node.Tick();
        cluster.Stabilize();
        Assert.Contains(cluster.Delivered, m => m.Type == MessageType.MsgHeartbeatResp && m.From == 3 && m.To == 2);
        Assert.Empty(cluster[2].ReadStates);

        cluster.DropWhen = null;
        cluster.Cut.Clear();
        cluster[2].Node.Tick();
        cluster.Stabilize();
        ReadState rs = Assert.Single(cluster[2].ReadStates);
        Assert.Equal(cluster[2].Node.Status().HardState.Commit, rs.Index);
    }

    [Fact]
    public void RejectedAppendsBacktrackOneTermAtATime()
    {
        // Node 2 holds a long tail of term 2 that node 1 (leader of term 3's log) never had.
        static MemoryStorage Storage(ulong id)
        {
            var s = MemoryStorage.WithPeers([1, 2, 3]);
            var entries = new List<Entry> { E(1, 1), E(2, 1) };
            if (id == 2) for (ulong i = 3; i <= 30; i++) entries.Add(E(i, 2));
            else entries.AddRange([E(3, 3), E(4, 3)]);
            s.Append(entries);
            s.SetHardState(new HardState(id == 2 ? 2UL : 3UL, 0, 2));
            return s;
        }
        var cluster = new CoreCluster(3, storage: Storage);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Equal(1UL, cluster.Leader());

        int rejections = cluster.Delivered.Count(m => m.Type == MessageType.MsgAppResp && m.Reject && m.From == 2);
        Assert.InRange(rejections, 1, 2);
        Assert.Equal(cluster[1].Node.Status().HardState.Commit, cluster[2].Node.Status().HardState.Commit);
        Assert.Equal(StorageError.None, cluster[2].Storage.TryGetTerm(3, out ulong t3));
        Assert.Equal(3UL, t3);
        Assert.Equal(cluster[1].Storage.LastIndex(), cluster[2].Storage.LastIndex());
    }

    [Fact]
    public void RemovedLeaderStepsDownAndTheRestElectANewOne()
    {
        var cluster = new CoreCluster(3, bootstrap: true);
        cluster[1].Node.Campaign();
        cluster.Stabilize();
        Assert.Equal(RaftError.None, cluster[1].Node.ProposeConfChange(new ConfChange(ConfChangeType.RemoveNode, 1)));
        cluster.Stabilize();
        Assert.Equal(StateType.Follower, cluster[1].Node.Status().RaftState);
        Assert.Equal([2UL, 3UL], cluster[2].Node.Status().Config.Voters);

        cluster.TickAll(30);
        ulong? leader = cluster.Leader();
        Assert.NotNull(leader);
        Assert.NotEqual(1UL, leader);
    }

    [Fact]
    public void AStaleLeaderLearnsTheNewTermFromAFollowerAndStepsDown()
    {
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(checkQuorum: true, preVote: true));
        cluster.Isolate(1);
        cluster.TickAll(30); // 2 or 3 win a new term; 1 steps down by CheckQuorum or still thinks it leads
        ulong? newLeader = cluster.Nodes.Values.Where(n => n.Id != 1 && n.Node.Status().RaftState == StateType.Leader).Select(n => (ulong?)n.Id).SingleOrDefault();
        Assert.NotNull(newLeader);
        cluster.Cut.Clear();
        cluster.TickAll(10);
        Assert.Equal(newLeader, cluster.Leader());
        Assert.Equal(newLeader, cluster[1].Node.Status().Lead);
    }

    [Fact]
    public void LargeBacklogIsSentInMessagesOfBoundedSize()
    {
        ulong entrySize = new Entry(0, 0, EntryType.Normal, new byte[100]).Size;
        CoreCluster cluster = ElectedCluster(configure: CoreCluster.Config(maxSizePerMsg: entrySize * 4));
        cluster.Isolate(3);
        for (int i = 0; i < 40; i++) cluster[1].Node.Propose(new byte[100]);
        cluster.Stabilize();
        cluster.Cut.Clear();
        cluster.TickAll(2);
        var toThree = cluster.Delivered.Where(m => m.Type == MessageType.MsgApp && m.To == 3).ToList();
        Assert.All(toThree, m => Assert.True(m.Entries.Count <= 4));
        Assert.Equal(cluster[1].Node.Status().HardState.Commit, cluster[3].Node.Status().HardState.Commit);
    }
}
