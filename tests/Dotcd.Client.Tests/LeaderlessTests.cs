using System.Diagnostics;
using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>A member that can never elect a leader: what "hasleader" and deadlines do there.</summary>
public sealed class LeaderlessTests(LeaderlessEtcdServer etcd) : IClassFixture<LeaderlessEtcdServer>
{
    [EtcdFact]
    public async Task RequireLeaderFailsAtOnceWithNoLeader()
    {
        EtcdClientOptions options = etcd.ClientOptions();
        options.RequireLeader = true;
        using var client = new EtcdClient(options);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<EtcdException>(() =>
            client.KV.GetAsync("k", call: EtcdCallOptions.WithTimeout(TimeSpan.FromSeconds(10))));

        Assert.True(error.IsNoLeader);
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.Equal("etcdserver: no leader", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [EtcdFact]
    public async Task WithoutRequireLeaderACallWaitsForItsDeadline()
    {
        using EtcdClient client = etcd.CreateClient();

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<EtcdException>(() =>
            client.KV.PutAsync("k", "v", call: EtcdCallOptions.WithTimeout(TimeSpan.FromMilliseconds(500))));

        // The client's deadline, or etcd's own copy of it (grpc-timeout) firing first: etcd 3.4 then
        // answers its unmapped context error as "Unknown: context deadline exceeded".
        Assert.True(error.Code == StatusCode.DeadlineExceeded
            || (error.Code == StatusCode.Unknown && error.Detail.Contains("context deadline exceeded", StringComparison.Ordinal)),
            $"{error.Code}: {error.Detail}");
        Assert.True(error.RequestMayHaveBeenSent);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
    }

    [EtcdFact]
    public async Task StatusStillAnswersAndShowsNoLeader()
    {
        using EtcdClient client = etcd.CreateClient();
        Assert.Equal(0ul, (await client.Maintenance.StatusAsync()).Leader);
    }
}
