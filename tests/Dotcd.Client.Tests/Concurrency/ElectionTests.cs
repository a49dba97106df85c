using System.Diagnostics;
using Dotcd.Api.Mvccpb;
using Dotcd.Client.Concurrency;

namespace Dotcd.Client.Tests;

/// <summary>The election recipe against a real etcd, between our clients and against etcdctl elect.</summary>
public sealed class ElectionTests(EtcdServer etcd) : IClassFixture<EtcdServer>
{
    private static string UniqueName(string name) => $"/{name}/{Guid.NewGuid():N}";

    [EtcdFact]
    public async Task LeadershipPassesToTheNextCandidateAndObserversSeeEveryLeader()
    {
        string name = UniqueName("election");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession firstSession = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await using EtcdSession secondSession = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var first = new EtcdElection(firstSession, name);
        var second = new EtcdElection(secondSession, name);
        var observer = new EtcdElection(firstSession, name);
        Assert.Null(await observer.LeaderAsync());

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using IAsyncEnumerator<KeyValue> observed = observer.ObserveAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        Task<bool> firstSeen = observed.MoveNextAsync().AsTask();

        await first.CampaignAsync("alpha");
        Assert.True(await firstSeen);
        Assert.Equal("alpha", observed.Current.Value.ToStringUtf8());
        Assert.Equal(first.Key, observed.Current.Key.ToStringUtf8());

        Task campaign = second.CampaignAsync("beta");
        await first.ProclaimAsync("alpha-2");
        Assert.True(await observed.MoveNextAsync());
        Assert.Equal("alpha-2", observed.Current.Value.ToStringUtf8());
        Assert.False(campaign.IsCompleted);
        Assert.Equal("alpha-2", (await second.LeaderAsync())!.Value.ToStringUtf8());

        await first.ResignAsync();
        await campaign.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(await observed.MoveNextAsync());
        Assert.Equal("beta", observed.Current.Value.ToStringUtf8());
        Assert.Equal(second.Key, (await observer.LeaderAsync())!.Key.ToStringUtf8());
        Assert.True(second.Revision > first.Revision);

        await Assert.ThrowsAsync<InvalidOperationException>(() => first.ProclaimAsync("not any more"));
    }

    [EtcdFact]
    public async Task ALeaderWhoseSessionEndsHandsOver()
    {
        string name = UniqueName("session-ends");
        using EtcdClient client = etcd.CreateClient();
        EtcdSession leaderSession = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await using EtcdSession nextSession = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        await new EtcdElection(leaderSession, name).CampaignAsync("first");
        var next = new EtcdElection(nextSession, name);
        Task campaign = next.CampaignAsync("second");

        await leaderSession.DisposeAsync(); // Revokes the lease: the leader's key goes with it.
        await campaign.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("second", (await next.LeaderAsync())!.Value.ToStringUtf8());
    }

    [EtcdctlFact]
    public async Task EtcdctlElectTakesOverWhenWeResign()
    {
        string name = UniqueName("etcdctl-elect");
        using EtcdClient client = etcd.CreateClient();
        await using EtcdSession session = await EtcdSession.CreateAsync(client, ttlSeconds: 10);
        var ours = new EtcdElection(session, name);
        await ours.CampaignAsync("ours");

        var start = new ProcessStartInfo(Tools.Etcdctl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "--endpoints", etcd.Endpoint, "elect", name, "theirs" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ETCDCTL_API"] = "3";
        using Process etcdctl = Process.Start(start)!;
        try
        {
            await WatchTests.WaitForAsync(async () => (await client.KV.GetPrefixAsync(name + "/")).Count == 2); // Queued behind us.
            Assert.Equal("ours", (await ours.LeaderAsync())!.Value.ToStringUtf8());

            await ours.ResignAsync();
            Task<string?> line = etcdctl.StandardOutput.ReadLineAsync();
            Assert.StartsWith(name + "/", await line.WaitAsync(TimeSpan.FromSeconds(10))); // etcdctl prints the key it leads with, then its value.
            Assert.Equal("theirs", (await ours.LeaderAsync())!.Value.ToStringUtf8());
        }
        finally
        {
            etcdctl.Kill();
            await etcdctl.WaitForExitAsync();
        }
    }
}
