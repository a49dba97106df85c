using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;

namespace Dotcd.Client.Tests;

/// <summary>
/// A watch whose connection is cut (through <see cref="CuttingProxy"/>) resumes from the revision
/// after the last one it delivered: nothing lost, nothing repeated.
/// </summary>
public sealed class WatchResumeTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly EtcdClient _writer = etcd.CreateClient();

    private static string Unique(string name) => $"/{name}/{Guid.NewGuid():N}/";

    public void Dispose() => _writer.Dispose();

    [EtcdFact]
    public async Task AWatchResumesAfterACutWithoutLosingOrRepeatingEvents()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        string prefix = Unique("resume");
        await using Watcher watcher = client.Watch.Prefix(prefix, new WatchOptions { PrevKv = true });
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        await watcher.Created;

        var expected = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            expected.Add((await _writer.KV.PutAsync($"{prefix}{i % 2}", $"v{i}")).Header.Revision);
        }

        List<Event> before = (await reader.ReadEventsAsync(5)).Flatten();

        proxy.Cut(block: true);
        for (int i = 5; i < 10; i++)
        {
            expected.Add((await _writer.KV.PutAsync($"{prefix}{i % 2}", $"v{i}")).Header.Revision);
        }

        proxy.Unblock();
        List<Event> after = (await reader.ReadEventsAsync(5)).Flatten();

        // One more write after the resume arrives next, alone: nothing was repeated ahead of it.
        expected.Add((await _writer.KV.PutAsync(prefix + "tail", "tail")).Header.Revision);
        Event tail = Assert.Single((await reader.ReadEventsAsync(1)).Flatten());

        List<Event> all = [.. before, .. after, tail];
        Assert.Equal(expected, all.Select(e => e.Kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"v{i}").Append("tail"), all.Select(e => e.Kv.Value.ToStringUtf8()));
        Assert.Equal("v3", after[0].PrevKv.Value.ToStringUtf8()); // prev_kv survives the resume
        Assert.True(proxy.Connections >= 2);
    }

    [EtcdFact]
    public async Task AWatchFromNowCutBeforeAnyEventResumesFromItsCreation()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        string key = Unique("fromnow") + "k";
        await using Watcher watcher = client.Watch.Key(key);
        await watcher.Created;

        proxy.Cut(block: true);
        PutResponse put = await _writer.KV.PutAsync(key, "written while cut");
        proxy.Unblock();

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        Event change = Assert.Single((await reader.ReadEventsAsync(1)).Flatten());
        Assert.Equal(put.Header.Revision, change.Kv.ModRevision);
    }

    [EtcdFact]
    public async Task AResumeIntoCompactedHistoryFailsWithTheCompactRevision()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        string key = Unique("resume-compacted") + "k";
        await using Watcher watcher = client.Watch.Key(key);
        await watcher.Created;

        proxy.Cut(block: true);
        await _writer.KV.PutAsync(key, "1");
        PutResponse last = await _writer.KV.PutAsync(key, "2");
        await _writer.KV.CompactAsync(last.Header.Revision, physical: true);
        proxy.Unblock();

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        var error = await Assert.ThrowsAsync<WatchCanceledException>(async () => await reader.NextAsync());
        Assert.Equal(last.Header.Revision, error.CompactRevision);
    }

    [EtcdFact]
    public async Task ManyWatchesOnACutStreamAllResume()
    {
        await using var proxy = new CuttingProxy(etcd.ClientPort);
        using EtcdClient client = etcd.CreateClient(proxy.Endpoint);
        string prefix = Unique("resume-many");
        var watchers = Enumerable.Range(0, 5).Select(i => client.Watch.Key($"{prefix}{i}")).ToList();
        await Task.WhenAll(watchers.Select(w => w.Created));

        proxy.Cut(block: true);
        for (int i = 0; i < 5; i++)
        {
            await _writer.KV.PutAsync($"{prefix}{i}", $"v{i}");
        }

        proxy.Unblock();
        for (int i = 0; i < 5; i++)
        {
            await using IAsyncEnumerator<WatchResponse> reader = watchers[i].GetAsyncEnumerator();
            Assert.Equal($"v{i}", Assert.Single((await reader.ReadEventsAsync(1)).Flatten()).Kv.Value.ToStringUtf8());
        }
    }

    [EtcdFact]
    public async Task AWatchStartsOnTheNextEndpointWhenTheFirstRefuses()
    {
        string dead = $"http://127.0.0.1:{EtcdServer.FreePort()}";
        using EtcdClient client = etcd.CreateClient(dead, etcd.Endpoint);
        string key = Unique("failover") + "k";
        await using Watcher watcher = client.Watch.Key(key);
        await watcher.Created.WaitAsync(WatchReading.Patience);

        PutResponse put = await _writer.KV.PutAsync(key, "v");
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        Assert.Equal(put.Header.Revision, Assert.Single((await reader.ReadEventsAsync(1)).Flatten()).Kv.ModRevision);
        Assert.Equal(etcd.Endpoint, client.PreferredEndpoint);
    }

    [EtcdFact]
    public async Task DisposingTheClientEndsItsWatches()
    {
        EtcdClient client = etcd.CreateClient();
        Watcher watcher = client.Watch.Key(Unique("disposed") + "k");
        await watcher.Created;
        client.Dispose();

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await reader.MoveNextAsync());
    }
}
