using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>Endpoint failover, the no-retry rule for writes, deadlines, cancellation and metadata.</summary>
public sealed class EndpointTests(EtcdServer etcd) : IClassFixture<EtcdServer>
{
    private static string UniqueKey(string name) => $"/{name}/{Guid.NewGuid():N}";

    private static string DeadEndpoint() => $"http://127.0.0.1:{EtcdServer.FreePort()}"; // Nothing listens: refused.

    [EtcdFact]
    public async Task CallsFallBackToTheNextEndpointWhenTheFirstRefusesConnections()
    {
        string dead = DeadEndpoint();
        using EtcdClient client = etcd.CreateClient(dead, etcd.Endpoint);
        string key = UniqueKey("fallback");

        // A refused connection proves the request never left, so even a write moves on.
        await client.KV.PutAsync(key, "v");
        Assert.Equal(etcd.Endpoint, client.PreferredEndpoint);
        KeyValue kv = Assert.Single((await client.KV.GetAsync(key)).Kvs);
        Assert.Equal(1, kv.Version);

        using EtcdClient reader = etcd.CreateClient(dead, etcd.Endpoint);
        Assert.Equal("v", Assert.Single((await reader.KV.GetAsync(key)).Kvs).Value.ToStringUtf8());
        Assert.NotEmpty((await reader.Cluster.MemberListAsync()).Members);
    }

    [EtcdFact]
    public async Task ADialTimeoutMovesEvenAWriteOnToTheNextEndpoint()
    {
        using var stuck = StuckListener.Create();
        EtcdClientOptions options = etcd.ClientOptions(stuck.Endpoint, etcd.Endpoint);
        options.DialTimeout = TimeSpan.FromMilliseconds(300);
        using var client = new EtcdClient(options);
        string key = UniqueKey("dial-timeout");

        var clock = Stopwatch.StartNew();
        await client.KV.PutAsync(key, "v");

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
        Assert.Equal(etcd.Endpoint, client.PreferredEndpoint);
        Assert.Equal(1, Assert.Single((await client.KV.GetAsync(key)).Kvs).Version);
    }

    [EtcdFact]
    public async Task ADialTimeoutIsReportedAsNotSent()
    {
        using var stuck = StuckListener.Create();
        EtcdClientOptions options = etcd.ClientOptions(stuck.Endpoint);
        options.DialTimeout = TimeSpan.FromMilliseconds(300);
        using var client = new EtcdClient(options);

        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync("k", "v"));
        Assert.False(error.RequestMayHaveBeenSent);
        Assert.Equal(StatusCode.Unavailable, error.Code);
    }

    [EtcdFact]
    public async Task AWriteIsNotRetriedAfterTheConnectionDropsBeforeTheResponse()
    {
        await using var proxy = new TcpProxy(etcd.ClientPort, ProxyMode.DropBeforeResponse);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint, etcd.Endpoint);
        string key = UniqueKey("ambiguous");

        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync(key, "once"));

        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.True(error.RequestMayHaveBeenSent);
        Assert.Equal(proxy.Endpoint, error.Endpoint);
        Assert.Equal(1, proxy.DroppedResponses);
        using EtcdClient direct = etcd.CreateClient();
        KeyValue kv = Assert.Single((await direct.KV.GetAsync(key)).Kvs);
        Assert.Equal("once", kv.Value.ToStringUtf8());
        Assert.Equal(1, kv.Version); // Delivered once, applied once: the client did not send it again.
    }

    [EtcdFact]
    public async Task NoWriteKindIsRetriedAfterAnAmbiguousFailure()
    {
        await using var drop = new TcpProxy(etcd.ClientPort, ProxyMode.DropBeforeResponse);
        await using var hole = new TcpProxy(etcd.ClientPort, ProxyMode.BlackHole);
        string key = UniqueKey("writes");
        using EtcdClient direct = etcd.CreateClient();
        ulong member = (await direct.Maintenance.StatusAsync()).Header.MemberId;
        var writes = new (string Name, Func<EtcdClient, Task> Call)[]
        {
            ("put", c => c.KV.PutAsync(key, "v")),
            ("delete", c => c.KV.DeletePrefixAsync(key)),
            ("txn", c => c.KV.Txn().If(Compares.Version(key, CompareOperator.Equal, 0)).Then(Ops.Put(key, "v")).Else(Ops.Delete(key)).CommitAsync()),
            ("compact", c => c.KV.CompactAsync(1)),
            ("alarm disarm", c => c.Maintenance.AlarmDisarmAsync(member, AlarmType.Nospace)),
            ("member update", c => c.Cluster.MemberUpdateAsync(0xbad, ["http://127.0.0.1:1"])),
            ("member remove", c => c.Cluster.MemberRemoveAsync(0xbad)),
        };

        foreach ((string name, Func<EtcdClient, Task> write) in writes)
        {
            // A retry would go to the black hole and hang until the deadline.
            EtcdClientOptions options = etcd.ClientOptions(drop.Endpoint, hole.Endpoint);
            options.DefaultCallTimeout = TimeSpan.FromSeconds(5);
            using var client = new EtcdClient(options);
            var error = await Assert.ThrowsAsync<EtcdException>(() => write(client));
            Assert.True(StatusCode.Unavailable == error.Code, $"{name}: {error.Message}");
            Assert.True(error.RequestMayHaveBeenSent, name);
            Assert.Equal(drop.Endpoint, error.Endpoint);
        }

        Assert.Equal(writes.Length, drop.DroppedResponses);
        Assert.Equal(0, hole.Connections);
    }

    [EtcdFact]
    public async Task ReadsAreRetriedOnTheNextEndpointAfterAnAmbiguousFailure()
    {
        await using var proxy = new TcpProxy(etcd.ClientPort, ProxyMode.DropBeforeResponse);
        string key = UniqueKey("read-retry");
        using EtcdClient direct = etcd.CreateClient();
        await direct.KV.PutAsync(key, "v");

        using EtcdClient client = etcd.CreateClient(proxy.Endpoint, etcd.Endpoint);
        RangeResponse get = await client.KV.GetAsync(key);
        Assert.Equal("v", Assert.Single(get.Kvs).Value.ToStringUtf8());
        Assert.Equal(1, proxy.DroppedResponses);

        using EtcdClient readOnlyTxn = etcd.CreateClient(proxy.Endpoint, etcd.Endpoint);
        TxnResponse txn = await readOnlyTxn.KV.Txn().If(Compares.Version(key, CompareOperator.Equal, 1)).Then(Ops.Get(key)).CommitAsync();
        Assert.True(txn.Succeeded);
        Assert.Equal(2, proxy.DroppedResponses);
    }

    [EtcdFact]
    public async Task ADeadlineEndsACallToAServerThatNeverAnswers()
    {
        await using var hole = new TcpProxy(etcd.ClientPort, ProxyMode.BlackHole);
        using EtcdClient client = etcd.CreateClient(hole.Endpoint);

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<EtcdException>(() =>
            client.KV.GetAsync("k", call: new EtcdCallOptions { Timeout = TimeSpan.FromMilliseconds(300) }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);
        Assert.True(error.IsDeadlineExceeded);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

        var absolute = await Assert.ThrowsAsync<EtcdException>(() =>
            client.KV.PutAsync("k", "v", call: new EtcdCallOptions { Deadline = DateTime.UtcNow.AddMilliseconds(200) }));
        Assert.Equal(StatusCode.DeadlineExceeded, absolute.Code);
    }

    [EtcdFact]
    public async Task TheDefaultCallTimeoutAppliesWhenACallGivesNone()
    {
        await using var hole = new TcpProxy(etcd.ClientPort, ProxyMode.BlackHole);
        EtcdClientOptions options = etcd.ClientOptions(hole.Endpoint);
        options.DefaultCallTimeout = TimeSpan.FromMilliseconds(200);
        using var client = new EtcdClient(options);

        var error = await Assert.ThrowsAsync<EtcdException>(() => client.Maintenance.StatusAsync());
        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);
    }

    [EtcdFact]
    public async Task APassedDeadlineFailsAtOnceEvenOnAHealthyServer()
    {
        using EtcdClient client = etcd.CreateClient();
        var error = await Assert.ThrowsAsync<EtcdException>(() =>
            client.KV.GetAsync("k", call: new EtcdCallOptions { Deadline = DateTime.UtcNow.AddSeconds(-1) }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.Code);

        // The same call with room to finish succeeds.
        await client.KV.GetAsync("k", call: EtcdCallOptions.WithTimeout(TimeSpan.FromSeconds(10)));
    }

    [EtcdFact]
    public async Task CancellingACallThrowsOperationCanceled()
    {
        await using var hole = new TcpProxy(etcd.ClientPort, ProxyMode.BlackHole);
        using EtcdClient client = etcd.CreateClient(hole.Endpoint, etcd.Endpoint);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.KV.GetAsync("k", call: cancel.Token));
        Assert.Equal(cancel.Token, error.CancellationToken);
    }

    [EtcdFact]
    public async Task WhenEveryEndpointIsDeadTheCallFailsUnavailableWithoutHavingBeenSent()
    {
        using EtcdClient client = etcd.CreateClient(DeadEndpoint(), DeadEndpoint());
        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync("k", "v"));
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.False(error.RequestMayHaveBeenSent);
    }

    [EtcdFact]
    public async Task TheTokenTravelsAsMetadata()
    {
        // etcd checks any token it is given, auth enabled or not: a made-up one is refused.
        EtcdClientOptions options = etcd.ClientOptions();
        options.Token = "not-a-token";
        using var client = new EtcdClient(options);
        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync(UniqueKey("token"), "v"));
        Assert.Equal(EtcdError.InvalidAuthToken, error.Error);
        Assert.Equal(StatusCode.Unauthenticated, error.Code);

        client.Token = null;
        await client.KV.PutAsync(UniqueKey("token"), "v");

        var perCall = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync(UniqueKey("token"), "v",
            call: new EtcdCallOptions { Metadata = new Dictionary<string, string> { ["token"] = "also-not-a-token" } }));
        Assert.Equal(EtcdError.InvalidAuthToken, perCall.Error);
    }
}
