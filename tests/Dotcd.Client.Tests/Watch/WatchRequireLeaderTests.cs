using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>require-leader on a member that has lost its leader.</summary>
public sealed class WatchRequireLeaderTests(LeaderlessEtcdServer etcd) : IClassFixture<LeaderlessEtcdServer>
{
    [EtcdFact]
    public async Task ARequireLeaderWatchFailsWithNoLeader()
    {
        using EtcdClient client = etcd.CreateClient();
        await using Watcher watcher = client.Watch.Key("/no-leader", new WatchOptions { RequireLeader = true });
        var error = await Assert.ThrowsAsync<EtcdException>(async () => await watcher.Created.WaitAsync(WatchReading.Patience));
        Assert.True(error.IsNoLeader);
        Assert.Equal(StatusCode.Unavailable, error.Code);
    }
}
