using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client.Tests;

/// <summary>
/// An etcd whose message limit is 4 KiB, so a revision with a few kilobytes of events is sent in
/// fragments, and whose idle watches get a progress notification every 200 ms.
/// </summary>
public sealed class TunedEtcdServer : EtcdServer
{
    protected override async Task StartAsync()
    {
        Endpoint = $"http://127.0.0.1:{FreePort()}";
        EtcdMember member = Track(EtcdMember.Start("fragment-test", Endpoint, $"http://127.0.0.1:{FreePort()}",
            extraArguments: ["--max-request-bytes", "4096", "--experimental-watch-progress-notify-interval", "200ms"]));
        await WaitUntilServingAsync(member);
    }
}

public sealed class WatchTunedServerTests(TunedEtcdServer etcd) : IClassFixture<TunedEtcdServer>, IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task AFragmentedRevisionIsDeliveredWhole()
    {
        string prefix = $"/fragment/{Guid.NewGuid():N}/";
        string value = new('x', 1000);
        await using Watcher watcher = _client.Watch.Prefix(prefix, new WatchOptions { Fragment = true, PrevKv = true });
        await watcher.Created;
        await _client.KV.Txn().Then(Ops.Put(prefix + "a", value), Ops.Put(prefix + "b", value), Ops.Put(prefix + "c", value)).CommitAsync();
        TxnResponse second = await _client.KV.Txn()
            .Then(Ops.Put(prefix + "a", value), Ops.Put(prefix + "b", value), Ops.Put(prefix + "c", value)).CommitAsync();

        // The second revision carries three values and three previous values (~6 KB): over the
        // 4 KiB limit, so etcd splits it; the watcher hands it over in one piece.
        await using IAsyncEnumerator<WatchResponse> reader = watcher.GetAsyncEnumerator();
        List<WatchResponse> responses = await reader.ReadEventsAsync(6);
        Assert.Equal(2, responses.Count);
        WatchResponse whole = responses[1];
        Assert.False(whole.Fragment);
        Assert.True(whole.CalculateSize() > 4096); // Larger than etcd sends in one message when asked to fragment.
        Assert.Equal(["a", "b", "c"], whole.Events.Select(e => e.Kv.Key.ToStringUtf8()[prefix.Length..]));
        Assert.All(whole.Events, e => Assert.Equal(second.Header.Revision, e.Kv.ModRevision));
        Assert.All(whole.Events, e => Assert.Equal(value, e.PrevKv.Value.ToStringUtf8()));
    }

    [EtcdFact]
    public async Task AnIdleWatchWithProgressNotifyHearsTheCurrentRevision()
    {
        string key = $"/progress-notify/{Guid.NewGuid():N}";
        await using Watcher quiet = _client.Watch.Key(key);
        await using Watcher notified = _client.Watch.Key(key, new WatchOptions { ProgressNotify = true });
        await Task.WhenAll(quiet.Created, notified.Created);
        PutResponse elsewhere = await _client.KV.PutAsync(key + "-elsewhere", "v");

        await using IAsyncEnumerator<WatchResponse> reader = notified.GetAsyncEnumerator();
        WatchResponse progress = await reader.NextAsync(TimeSpan.FromSeconds(5));
        while (progress.Header.Revision < elsewhere.Header.Revision)
        {
            progress = await reader.NextAsync(TimeSpan.FromSeconds(5));
        }

        Assert.True(progress.IsProgressNotify());
        await using IAsyncEnumerator<WatchResponse> silent = quiet.GetAsyncEnumerator();
        Task<bool> next = silent.MoveNextAsync().AsTask();
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(500))); // Only the watch that asked is notified.
        quiet.Dispose();
        Assert.False(await next.WaitAsync(WatchReading.Patience)); // A disposed watch's loop ends quietly.
    }
}
