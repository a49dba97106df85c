using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using EventType = Dotcd.Api.Mvccpb.Event.Types.EventType;

namespace Dotcd.Client.Tests;

/// <summary>Watch against a real etcd: what a watcher sees, in what order, with which options.</summary>
public sealed class WatchTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    private static string Unique(string name) => $"/{name}/{Guid.NewGuid():N}/";

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task EventsArriveInRevisionOrderWithATxnInOneResponse()
    {
        string prefix = Unique("order");
        await using Watcher watcher = _client.Watch.Prefix(prefix);
        long created = await watcher.Created;

        await _client.KV.PutAsync(prefix + "a", "1");
        await _client.KV.PutAsync(prefix + "b", "2");
        await _client.KV.DeleteAsync(prefix + "a");
        TxnResponse txn = await _client.KV.Txn().Then(Ops.Put(prefix + "c", "3"), Ops.Put(prefix + "d", "4")).CommitAsync();

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        List<WatchResponse> responses = await reader.ReadEventsAsync(5);
        List<Event> events = responses.Flatten();
        Assert.Equal(["a", "b", "a", "c", "d"], events.Select(e => e.Kv.Key.ToStringUtf8()[prefix.Length..]));
        Assert.Equal([EventType.Put, EventType.Put, EventType.Delete, EventType.Put, EventType.Put], events.Select(e => e.Type));
        Assert.Equal(Enumerable.Range(1, 4).Select(i => created + i), events.Select(e => e.Kv.ModRevision).Distinct());
        WatchResponse last = responses[^1];
        Assert.Equal(2, last.Events.Count);
        Assert.All(last.Events, e => Assert.Equal(txn.Header.Revision, e.Kv.ModRevision));
    }

    [EtcdFact]
    public async Task PrevKvCarriesThePreviousValueOfUpdatesAndDeletes()
    {
        string key = Unique("prevkv") + "k";
        await using Watcher watcher = _client.Watch.Key(key, new WatchOptions { PrevKv = true });
        await watcher.Created;
        await _client.KV.PutAsync(key, "one");
        await _client.KV.PutAsync(key, "two");
        await _client.KV.DeleteAsync(key);

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        List<Event> events = (await reader.ReadEventsAsync(3)).Flatten();
        Assert.Null(events[0].PrevKv);
        Assert.Equal("one", events[1].PrevKv.Value.ToStringUtf8());
        Assert.Equal("two", events[1].Kv.Value.ToStringUtf8());
        Assert.Equal(EventType.Delete, events[2].Type);
        Assert.Equal("two", events[2].PrevKv.Value.ToStringUtf8());
    }

    [EtcdFact]
    public async Task AStartRevisionReplaysHistoryFromThere()
    {
        string prefix = Unique("replay");
        PutResponse first = await _client.KV.PutAsync(prefix + "1", "a");
        await _client.KV.PutAsync(prefix + "2", "b");
        await _client.KV.PutAsync(prefix + "1", "c");

        await using Watcher watcher = _client.Watch.Prefix(prefix, new WatchOptions { StartRevision = first.Header.Revision + 1 });
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        List<Event> events = (await reader.ReadEventsAsync(2)).Flatten();
        Assert.Equal(["b", "c"], events.Select(e => e.Kv.Value.ToStringUtf8()));
    }

    [EtcdFact]
    public async Task ARangeWatchSeesOnlyKeysInItsRange()
    {
        string prefix = Unique("range");
        await using Watcher watcher = _client.Watch.Range(prefix + "b", prefix + "d");
        await watcher.Created;
        foreach (string name in new[] { "a", "b", "c", "d", "e" })
        {
            await _client.KV.PutAsync(prefix + name, name);
        }

        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        List<Event> events = (await reader.ReadEventsAsync(2)).Flatten();
        Assert.Equal(["b", "c"], events.Select(e => e.Kv.Value.ToStringUtf8()));
    }

    [EtcdFact]
    public async Task FiltersLeaveOutPutsOrDeletes()
    {
        string key = Unique("filters") + "k";
        await using Watcher deletesOnly = _client.Watch.Key(key, new WatchOptions { NoPut = true });
        await using Watcher putsOnly = _client.Watch.Key(key, new WatchOptions { NoDelete = true });
        await Task.WhenAll(deletesOnly.Created, putsOnly.Created);
        await _client.KV.PutAsync(key, "1");
        await _client.KV.DeleteAsync(key);
        await _client.KV.PutAsync(key, "2");

        await using IAsyncEnumerator<WatchResponse> deletes = deletesOnly.GetAsyncEnumerator();
        await using IAsyncEnumerator<WatchResponse> puts = putsOnly.GetAsyncEnumerator();
        Assert.Equal(EventType.Delete, Assert.Single((await deletes.ReadEventsAsync(1)).Flatten()).Type);
        Assert.Equal(["1", "2"], (await puts.ReadEventsAsync(2)).Flatten().Select(e => e.Kv.Value.ToStringUtf8()));
    }

    [EtcdFact]
    public async Task AProgressRequestIsAnsweredWithTheCurrentRevision()
    {
        string prefix = Unique("progress");
        await using Watcher watcher = _client.Watch.Prefix(prefix);
        await watcher.Created;
        PutResponse elsewhere = await _client.KV.PutAsync(Unique("elsewhere") + "k", "v");

        await watcher.RequestProgressAsync();
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        WatchResponse progress = await reader.NextAsync();
        Assert.True(progress.IsProgressNotify());
        Assert.True(progress.Header.Revision >= elsewhere.Header.Revision);
    }

    [EtcdFact]
    public async Task CreatedNotifyDeliversTheCreationFirst()
    {
        await using Watcher watcher = _client.Watch.Key(Unique("created") + "k", new WatchOptions { CreatedNotify = true });
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        WatchResponse created = await reader.NextAsync();
        Assert.True(created.Created);
        Assert.Equal(await watcher.Created, created.Header.Revision);
    }

    [EtcdFact]
    public async Task AWatchFromACompactedRevisionFailsWithTheCompactRevision()
    {
        string key = Unique("compacted") + "k";
        PutResponse first = await _client.KV.PutAsync(key, "1");
        PutResponse second = await _client.KV.PutAsync(key, "2");
        await _client.KV.CompactAsync(second.Header.Revision, physical: true);

        await using Watcher watcher = _client.Watch.Key(key, new WatchOptions { StartRevision = first.Header.Revision });
        var error = await Assert.ThrowsAsync<WatchCanceledException>(async () =>
        {
            await foreach (WatchResponse response in watcher.WithCancellation(new CancellationTokenSource(WatchReading.Patience).Token))
            {
                Assert.Fail($"delivered {response} from compacted history");
            }
        });
        Assert.True(error.IsCompacted);
        Assert.Equal(second.Header.Revision, error.CompactRevision);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", error.Message);
    }

    internal static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        using var timeout = new CancellationTokenSource(WatchReading.Patience);
        while (!await condition())
        {
            await Task.Delay(50, timeout.Token);
        }
    }
}
