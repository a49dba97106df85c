using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client.Tests;

/// <summary>Leases against a real etcd: grant, attach, inspect, revoke, and the keepalive loop.</summary>
public sealed class LeaseTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    private static string Unique(string name) => $"/{name}/{Guid.NewGuid():N}/";

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task AGrantedLeaseListsItsKeysAndRevokingDeletesThem()
    {
        string prefix = Unique("lease");
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(30);
        Assert.Equal(30, grant.TTL);
        await _client.KV.PutAsync(prefix + "a", "1", new PutOptions { Lease = grant.ID });
        await _client.KV.PutAsync(prefix + "b", "2", new PutOptions { Lease = grant.ID });

        LeaseTimeToLiveResponse alive = await _client.Lease.TimeToLiveAsync(grant.ID, keys: true);
        Assert.Equal(30, alive.GrantedTTL);
        Assert.InRange(alive.TTL, 25, 30);
        Assert.Equal([prefix + "a", prefix + "b"], alive.Keys.Select(k => k.ToStringUtf8()).Order());
        Assert.Contains(grant.ID, (await _client.Lease.LeasesAsync()).Leases.Select(l => l.ID));

        await _client.Lease.RevokeAsync(grant.ID);
        Assert.Equal(0, (await _client.KV.GetPrefixAsync(prefix)).Count);
        Assert.Equal(-1, (await _client.Lease.TimeToLiveAsync(grant.ID)).TTL);
        Assert.DoesNotContain(grant.ID, (await _client.Lease.LeasesAsync()).Leases.Select(l => l.ID));
    }

    [EtcdFact]
    public async Task AClientChosenIdIsKeptAndADuplicateIsRefused()
    {
        long id = Random.Shared.NextInt64(1, long.MaxValue);
        Assert.Equal(id, (await _client.Lease.GrantAsync(30, id)).ID);
        var duplicate = await Assert.ThrowsAsync<EtcdException>(() => _client.Lease.GrantAsync(30, id));
        Assert.Equal(EtcdError.LeaseExist, duplicate.Error);
        await _client.Lease.RevokeAsync(id);
    }

    [EtcdFact]
    public async Task KeepAliveOnceRenewsAndFailsForAnUnknownLease()
    {
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(20);
        LeaseKeepAliveResponse renewed = await _client.Lease.KeepAliveOnceAsync(grant.ID);
        Assert.Equal(grant.ID, renewed.ID);
        Assert.Equal(20, renewed.TTL);

        await _client.Lease.RevokeAsync(grant.ID);
        var gone = await Assert.ThrowsAsync<EtcdException>(() => _client.Lease.KeepAliveOnceAsync(grant.ID));
        Assert.Equal(EtcdError.LeaseNotFound, gone.Error);
        var revokedTwice = await Assert.ThrowsAsync<EtcdException>(() => _client.Lease.RevokeAsync(grant.ID));
        Assert.Equal(EtcdError.LeaseNotFound, revokedTwice.Error);
    }

    [EtcdFact]
    public async Task KeepAliveKeepsALeasePastItsTtlAndItExpiresOnceTheLoopStops()
    {
        string key = Unique("keepalive") + "k";
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(2);
        await _client.KV.PutAsync(key, "v", new PutOptions { Lease = grant.ID });

        using (LeaseKeepAlive keepAlive = _client.Lease.KeepAlive(grant.ID))
        {
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.False(keepAlive.Completion.IsCompleted);
            Assert.True(keepAlive.Renewals >= 4, $"{keepAlive.Renewals} renewals in 4 s of a 2 s lease"); // Every TTL/3.
            Assert.Equal(2, keepAlive.TtlSeconds);
            Assert.True((await _client.Lease.TimeToLiveAsync(grant.ID)).TTL > 0);
            Assert.Equal(1, (await _client.KV.GetAsync(key)).Count);
        }

        var clock = Stopwatch.StartNew();
        await WatchTests.WaitForAsync(async () => (await _client.Lease.TimeToLiveAsync(grant.ID)).TTL == -1);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
        Assert.Equal(0, (await _client.KV.GetAsync(key)).Count);
    }

    [EtcdFact]
    public async Task KeepAliveReportsALeaseRevokedElsewhere()
    {
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(3);
        using LeaseKeepAlive keepAlive = _client.Lease.KeepAlive(grant.ID);
        await WatchTests.WaitForAsync(() => Task.FromResult(keepAlive.Renewals > 0));

        using EtcdClient other = etcd.CreateClient();
        await other.Lease.RevokeAsync(grant.ID);

        var lost = await Assert.ThrowsAsync<LeaseExpiredException>(() => keepAlive.Completion.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(lost.ServerConfirmed);
        Assert.Equal(grant.ID, lost.LeaseId);
        Assert.True(keepAlive.Lost.IsCancellationRequested);
    }

    [EtcdFact]
    public async Task KeepAliveOfAnUnknownLeaseReportsItLost()
    {
        using LeaseKeepAlive keepAlive = _client.Lease.KeepAlive(Random.Shared.NextInt64(1, long.MaxValue));
        var lost = await Assert.ThrowsAsync<LeaseExpiredException>(() => keepAlive.Completion.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(lost.ServerConfirmed);
    }

    [EtcdFact]
    public async Task KeepAliveSurvivesACutStream()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(3);
        using LeaseKeepAlive keepAlive = client.Lease.KeepAlive(grant.ID);
        await WatchTests.WaitForAsync(() => Task.FromResult(keepAlive.Renewals > 0));

        proxy.Cut(block: true);
        await Task.Delay(TimeSpan.FromMilliseconds(700));
        proxy.Unblock();
        long renewalsAtUnblock = keepAlive.Renewals;
        await Task.Delay(TimeSpan.FromSeconds(3.5)); // Past the TTL: only renewals on the new stream keep it.

        Assert.False(keepAlive.Completion.IsCompleted);
        Assert.True(keepAlive.Renewals > renewalsAtUnblock);
        Assert.True((await _client.Lease.TimeToLiveAsync(grant.ID)).TTL > 0);
        Assert.True(proxy.Connections >= 2);
    }

    [EtcdFact]
    public async Task KeepAliveReportsALeasePresumedExpiredWhenTheServerIsUnreachable()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(2);
        using LeaseKeepAlive keepAlive = client.Lease.KeepAlive(grant.ID);
        await WatchTests.WaitForAsync(() => Task.FromResult(keepAlive.Renewals > 0));

        var clock = Stopwatch.StartNew();
        proxy.Cut(block: true);
        var lost = await Assert.ThrowsAsync<LeaseExpiredException>(() => keepAlive.Completion.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(lost.ServerConfirmed);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)); // Within the TTL of the last renewal.
    }

    [EtcdFact]
    public async Task DisposingTheHandleCompletesItWithoutError()
    {
        LeaseGrantResponse grant = await _client.Lease.GrantAsync(10);
        LeaseKeepAlive keepAlive = _client.Lease.KeepAlive(grant.ID);
        await keepAlive.DisposeAsync();
        await keepAlive.Completion.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.False(keepAlive.Lost.IsCancellationRequested);
        await _client.Lease.RevokeAsync(grant.ID);
    }

    [EtcdFact]
    public async Task KeepAlivesOfManyLeasesShareOneStream()
    {
        using EtcdClient client = etcd.CreateClient();
        double streamsBefore = await KeepAliveStreamsStartedAsync();
        LeaseGrantResponse[] grants = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => client.Lease.GrantAsync(5)));
        LeaseKeepAlive[] keepAlives = [.. grants.Select(grant => client.Lease.KeepAlive(grant.ID))];
        await WatchTests.WaitForAsync(() => Task.FromResult(keepAlives.All(k => k.Renewals > 0)));

        Assert.Equal(streamsBefore + 1, await KeepAliveStreamsStartedAsync());
        Array.ForEach(keepAlives, k => k.Dispose());
        await Task.WhenAll(grants.Select(grant => client.Lease.RevokeAsync(grant.ID)));
    }

    private async Task<double> KeepAliveStreamsStartedAsync()
    {
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(etcd.Endpoint + "/metrics");
        System.Text.RegularExpressions.Match counter = System.Text.RegularExpressions.Regex.Match(metrics,
            "^grpc_server_started_total\\{grpc_method=\"LeaseKeepAlive\",grpc_service=\"etcdserverpb.Lease\",grpc_type=\"bidi_stream\"\\} (\\S+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        return counter.Success ? double.Parse(counter.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }
}
