using Dotcd.Server.RaftLoop;
using static Dotcd.Server.Tests.RaftLoop.RaftLoopTest;

namespace Dotcd.Server.Tests.RaftLoop;

// One member of a three-member cluster whose peers never answer: it can never elect a leader.
public sealed class NoLeaderTests
{
    private static InitialCluster ThreeMembers() => InitialCluster.Create("raftloop-token",
    [
        ("n1", (IReadOnlyList<string>)["http://127.0.0.1:42380"]),
        ("n2", (IReadOnlyList<string>)["http://127.0.0.1:42381"]),
        ("n3", (IReadOnlyList<string>)["http://127.0.0.1:42382"]),
    ]);

    private static RaftNodeOptions Isolated(TempDir dir) => Options(dir, ThreeMembers(), name: "n1") with
    {
        RequestTimeout = TimeSpan.FromMilliseconds(300),
        ReadIndexRetryInterval = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task ProposalsTimeOutWithoutALeader()
    {
        using var dir = new TempDir();
        var transport = new LosingTransport();
        using RaftNodeHost host = RaftNodeHost.Start(Isolated(dir), new FileKvTarget(dir.Sub("kv")), transport);

        var error = await Assert.ThrowsAsync<EtcdServerException>(() => host.ProposeAsync(Put("k", "v")));
        Assert.Equal("etcdserver: request timed out", error.Message);
        Assert.Equal(Dotcd.Grpc.StatusCode.Unavailable, error.Error.Code);
        Assert.Equal(0UL, host.Leader);
        Assert.Equal(1, host.Metrics.ProposalsFailed);
        Assert.Equal(0, host.Metrics.ProposalsPending);
        await Eventually(() => transport.Sent > 0, "the member campaigns through the transport");
        Assert.Equal([0x15e9a4bf4030e190UL, 0x82695e1beefc7a9dUL, 0xf64e1ea043dfea36UL], host.ConfState.Voters);
    }

    [Fact]
    public async Task LinearizableReadsTimeOutWithoutALeader()
    {
        using var dir = new TempDir();
        using RaftNodeHost host = RaftNodeHost.Start(Isolated(dir), new FileKvTarget(dir.Sub("kv")), new LosingTransport());

        var error = await Assert.ThrowsAsync<EtcdServerException>(() => host.WaitLinearizableAsync());
        Assert.Equal("etcdserver: request timed out", error.Message);
        Assert.True(host.Metrics.SlowReadIndex >= 1);
    }

    [Fact]
    public async Task CancellingAProposalAbandonsItsWait()
    {
        using var dir = new TempDir();
        using RaftNodeHost host = RaftNodeHost.Start(Isolated(dir) with { RequestTimeout = TimeSpan.FromSeconds(30) },
            new FileKvTarget(dir.Sub("kv")), new LosingTransport());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.ProposeAsync(Put("k", "v"), cancel.Token));
        Assert.Equal(0, host.Metrics.ProposalsPending);
        Assert.Equal(1, host.Metrics.ProposalsFailed);
    }
}
