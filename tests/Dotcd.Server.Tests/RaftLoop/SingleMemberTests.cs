using System.Text;
using Dotcd.Raft;
using Dotcd.Server.RaftLoop;
using static Dotcd.Server.Tests.RaftLoop.RaftLoopTest;

namespace Dotcd.Server.Tests.RaftLoop;

public sealed class SingleMemberTests
{
    [Fact]
    public async Task SingleMemberBootstrapsAndElectsItself()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        var changes = new System.Collections.Concurrent.ConcurrentQueue<LeaderChange>();
        using RaftNodeHost host = await StartLeaderAsync(Options(dir) with { OnLeaderChanged = changes.Enqueue }, target);

        Assert.Equal([new LeaderChange(host.MemberId, 2, IsLeader: true)], changes);
        Assert.Equal(host.MemberId, host.Leader);
        Assert.True(host.IsLeader);
        Assert.Equal(2UL, host.Term); // Bootstrap entries are term 1; the first election makes term 2.
        Assert.Equal([host.MemberId], host.ConfState.Voters);
        Assert.Equal(1, host.Metrics.LeaderChangesSeen);

        // The bootstrap conf change reached the apply target with etcd's member JSON as its context.
        ConfChange bootstrap = Assert.IsType<ConfChange>(Assert.Single(target.ConfChanges));
        Assert.Equal(ConfChangeType.AddNode, bootstrap.Type);
        Assert.Equal(host.MemberId, bootstrap.NodeId);
        Assert.Equal($"{{\"id\":{host.MemberId},\"peerURLs\":[\"http://localhost:2380\"],\"name\":\"default\"}}",
            Encoding.UTF8.GetString(target.ConfChangeContexts[0].Span));

        // The new leader's empty entry (index 2) is applied as a no-op that moves the consistent index.
        await Eventually(() => host.AppliedIndex >= 2, "the leader's first entry is applied");
        Assert.Equal(2UL, target.CurrentConsistentIndex);
    }

    [Fact]
    public async Task ProposalsCompleteInOrderWithTheirApplyResults()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost host = await StartLeaderAsync(Options(dir), target);

        for (int i = 1; i <= 20; i++)
        {
            ApplyResult result = await host.ProposeAsync(Put($"key{i}", $"value{i}"));
            Assert.Equal(i, RevisionOf(result));
            Assert.Equal($"value{i}", target.Get($"key{i}"));
        }

        // Applied in log order, each entry once, and the counters say so (etcd's metric meanings).
        IReadOnlyList<ulong> applied = target.AppliedIndexes;
        Assert.Equal(applied.Order().Distinct(), applied);
        Assert.Equal(host.AppliedIndex, applied[^1]);
        Assert.Equal((long)host.AppliedIndex, host.Metrics.ProposalsApplied);
        Assert.Equal((long)host.CommittedIndex, host.Metrics.ProposalsCommitted);
        Assert.Equal(0, host.Metrics.ProposalsPending);
        Assert.Equal(0, host.Metrics.ProposalsFailed);
        Assert.True(host.Metrics.WalFsyncDurations.Count >= 20);
        Assert.Equal(host.Metrics.WalFsyncDurations.Count, host.Metrics.WalFsyncDurations.CumulativeCounts()[^1]);
    }

    [Fact]
    public async Task AnEntryIsAppliedOnlyAfterTheWalSyncedIt()
    {
        using var dir = new TempDir();
        int fsyncs = 0;
        int slow = 0;
        var target = new FileKvTarget(dir.Sub("kv"));
        RaftNodeOptions options = Options(dir, onFsync: _ =>
        {
            if (Volatile.Read(ref slow) != 0) Thread.Sleep(50); // A slow disk: the apply thread has time to run ahead, if allowed to.
            Interlocked.Increment(ref fsyncs);
        });
        using RaftNodeHost host = await StartLeaderAsync(options, target);
        await Eventually(() => host.AppliedIndex >= 2, "the leader's first entry is applied");

        int before;
        do
        {
            before = Volatile.Read(ref fsyncs);
            await Task.Delay(30); // Until the member is idle: no sync of earlier work is still to come.
        }
        while (Volatile.Read(ref fsyncs) != before);

        int fsyncsAtApply = -1;
        target.OnApply = _ => fsyncsAtApply = Volatile.Read(ref fsyncs);
        Volatile.Write(ref slow, 1);
        await host.ProposeAsync(Put("k", "v"));

        Assert.True(fsyncsAtApply > before, $"applied after {fsyncsAtApply} fsyncs; {before} happened before the proposal");
    }

    [Fact]
    public async Task ConcurrentProposalsFromManyTasksAllComplete()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost host = await StartLeaderAsync(Options(dir), target);

        const int Tasks = 16;
        const int PerTask = 40;
        long[][] revisions = await Task.WhenAll(Enumerable.Range(0, Tasks).Select(t => Task.Run(async () =>
        {
            var mine = new long[PerTask];
            for (int i = 0; i < PerTask; i++) mine[i] = RevisionOf(await host.ProposeAsync(Put($"t{t}/k{i}", $"{t}:{i}")));
            return mine;
        })));

        // Every write got its own revision, each task saw its writes in order, and all are there.
        Assert.Equal(Tasks * PerTask, revisions.SelectMany(r => r).Distinct().Count());
        Assert.All(revisions, mine => Assert.Equal(mine.Order(), mine));
        Assert.Equal(Tasks * PerTask, target.Count);
        Assert.Equal("15:39", target.Get("t15/k39"));
        Assert.Equal(0, host.Metrics.ProposalsPending);
    }

    [Fact]
    public async Task QueuedProposalsShareOneWalSync()
    {
        using var dir = new TempDir();
        int fsyncs = 0;
        int stalled = 0;
        var stall = new ManualResetEventSlim(true);
        var target = new FileKvTarget(dir.Sub("kv"));
        RaftNodeOptions options = Options(dir, onFsync: _ =>
        {
            Interlocked.Increment(ref fsyncs);
            if (!stall.IsSet) Volatile.Write(ref stalled, 1);
            stall.Wait(Patience); // Runs on the raft thread: holding it here lets proposals pile up.
        });
        using RaftNodeHost host = await StartLeaderAsync(options, target);
        await Eventually(() => host.AppliedIndex >= 2, "the leader's first entry is applied");

        stall.Reset();
        Task<ApplyResult> first = host.ProposeAsync(Put("first", "x"));
        await Eventually(() => Volatile.Read(ref stalled) == 1, "the raft thread is inside the first fsync");
        int before = Volatile.Read(ref fsyncs);
        Task<ApplyResult>[] rest = Enumerable.Range(0, 200).Select(i => host.ProposeAsync(Put($"k{i}", "v"))).ToArray();
        stall.Set();
        await first;
        await Task.WhenAll(rest);

        // 200 proposals that waited together went to disk in one Ready: a handful of syncs, not 200.
        int used = Volatile.Read(ref fsyncs) - before;
        Assert.True(used <= 4, $"200 queued proposals took {used} fsyncs");
        Assert.Equal(201, target.Count);
    }

    [Fact]
    public async Task RequestsLargerThanMaxRequestBytesAreRefused()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost host = await StartLeaderAsync(Options(dir) with { MaxRequestBytes = 1024 }, target);

        var error = await Assert.ThrowsAsync<EtcdServerException>(() => host.ProposeAsync(Put("big", new string('x', 1100))));
        Assert.Equal("etcdserver: request is too large", error.Message);
        Assert.Equal(Dotcd.Grpc.StatusCode.InvalidArgument, error.Error.Code);
        Assert.Equal(1, RevisionOf(await host.ProposeAsync(Put("small", new string('x', 900)))));
    }

    [Fact]
    public async Task TooManyRequestsWhileTheApplyTargetIsBlocked()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        // Patient proposals: on a busy machine 5100 of them must not time out before the check.
        using RaftNodeHost host = await StartLeaderAsync(Options(dir) with { RequestTimeout = TimeSpan.FromMinutes(1) }, target);
        await Eventually(() => host.AppliedIndex >= 2, "the leader's first entry is applied");

        // 5001 proposals: none of them can see commit more than 5000 ahead of apply (applied is
        // the leader's no-op at 2), but once all are committed the gap is 5001.
        target.Gate.Reset();
        Task<ApplyResult>[] backlog = Enumerable.Range(0, 5001).Select(i => host.ProposeAsync(Put($"k{i}", "v"))).ToArray();
        await Eventually(() => host.CommittedIndex == 2 + 5001, "all 5001 proposals are committed");
        Assert.Equal(2UL, host.AppliedIndex);

        var error = await Assert.ThrowsAsync<EtcdServerException>(() => host.ProposeAsync(Put("one-too-many", "v")));
        Assert.Equal("etcdserver: too many requests", error.Message);
        Assert.Equal(Dotcd.Grpc.StatusCode.ResourceExhausted, error.Error.Code);

        target.Gate.Set();
        await Task.WhenAll(backlog);
        Assert.Equal(5001, target.Count);
        Assert.Equal(5002, RevisionOf(await host.ProposeAsync(Put("after", "v"))));
    }

    [Fact]
    public async Task StoppingFailsPendingWaitersWithServerStopped()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        RaftNodeHost host = await StartLeaderAsync(Options(dir), target);
        await Eventually(() => host.AppliedIndex >= 2, "the leader's first entry is applied");

        target.Gate.Reset();
        Task<ApplyResult>[] pending = Enumerable.Range(0, 10).Select(i => host.ProposeAsync(Put($"k{i}", "v"))).ToArray();
        await Eventually(() => host.CommittedIndex >= host.AppliedIndex + 10, "the proposals are committed");
        Task reads = host.WaitLinearizableAsync();

        Task stop = Task.Run(host.Dispose); // Waits for the blocked apply call to return.
        foreach (Task<ApplyResult> waiter in pending)
        {
            var error = await Assert.ThrowsAsync<EtcdServerException>(() => waiter);
            Assert.Equal("etcdserver: server stopped", error.Message);
            Assert.Equal(Dotcd.Grpc.StatusCode.Unavailable, error.Error.Code);
        }
        target.Gate.Set();
        await stop.WaitAsync(Patience);
        await host.Completion.WaitAsync(Patience); // A requested stop is not a failure.

        // The read had its read index but could not reach it with apply blocked.
        var readError = await Assert.ThrowsAsync<EtcdServerException>(() => reads);
        Assert.Equal("etcdserver: server stopped", readError.Message);
        var late = await Assert.ThrowsAsync<EtcdServerException>(() => host.ProposeAsync(Put("late", "v")));
        Assert.Equal("etcdserver: server stopped", late.Message);
        Assert.Equal(1, host.Metrics.LeaderChangesSeen);
    }

    [Fact]
    public async Task LinearizableReadsWaitingTogetherShareOneReadIndexRound()
    {
        using var dir = new TempDir();
        var stall = new ManualResetEventSlim(true);
        int stalled = 0;
        var target = new FileKvTarget(dir.Sub("kv"));
        RaftNodeOptions options = Options(dir, onFsync: _ =>
        {
            if (!stall.IsSet) Volatile.Write(ref stalled, 1);
            stall.Wait(Patience);
        });
        using RaftNodeHost host = await StartLeaderAsync(options, target);
        await host.ProposeAsync(Put("k", "v1"));
        await host.WaitLinearizableAsync();
        long roundsBefore = host.ReadIndexRounds;

        // Hold the raft thread in an fsync so that 100 reads arrive while it cannot answer.
        stall.Reset();
        Task<ApplyResult> write = host.ProposeAsync(Put("k", "v2"));
        await Eventually(() => Volatile.Read(ref stalled) == 1, "the raft thread is inside an fsync");
        Task[] reads = Enumerable.Range(0, 100).Select(_ => host.WaitLinearizableAsync()).ToArray();
        stall.Set();
        await write;
        await Task.WhenAll(reads).WaitAsync(Patience);

        long rounds = host.ReadIndexRounds - roundsBefore;
        Assert.InRange(rounds, 1, 2); // The round already started, plus one for everyone who came later.
        Assert.Equal("v2", target.Get("k"));
    }

    [Fact]
    public async Task ALinearizableReadSeesEveryCompletedWrite()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost host = await StartLeaderAsync(Options(dir), target);

        for (int i = 0; i < 10; i++)
        {
            Task<ApplyResult> write = host.ProposeAsync(Put("k", $"v{i}"));
            await write;
            ulong appliedAfterWrite = host.AppliedIndex;
            await host.WaitLinearizableAsync();
            Assert.True(host.AppliedIndex >= appliedAfterWrite);
            Assert.Equal($"v{i}", target.Get("k"));
        }
    }

    [Fact]
    public async Task MoveLeaderToItselfOrAStrangerIsAnsweredLikeEtcd()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost host = await StartLeaderAsync(Options(dir), target);

        await host.MoveLeaderAsync(host.MemberId);
        var error = await Assert.ThrowsAsync<EtcdServerException>(() => host.MoveLeaderAsync(12345));
        Assert.Equal("etcdserver: bad leader transferee", error.Message);
    }

    [Fact]
    public async Task StatusReportsTheMemberAndClusterIdsOfTheInitialCluster()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        InitialCluster cluster = SingleMember();
        using RaftNodeHost host = await StartLeaderAsync(Options(dir, cluster), target);
        await host.ProposeAsync(Put("k", "v"));

        RaftNodeStatus status = host.GetStatus();
        Assert.Equal(cluster.Members[0].Id, status.MemberId);
        Assert.Equal(cluster.ClusterId, status.ClusterId);
        Assert.Equal(status.MemberId, status.Leader);
        Assert.True(status.IsLeader);
        Assert.Equal(2UL, status.AppliedTerm);
        Assert.Equal(3UL, status.AppliedIndex); // Bootstrap conf change, leader's no-op, the put.
        Assert.Equal(3UL, status.CommittedIndex);
    }
}
