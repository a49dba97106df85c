using System.Globalization;
using System.Text.RegularExpressions;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client.Tests;

/// <summary>
/// How watches map to gRPC streams, read from etcd's own gauges (this class has an etcd of its
/// own, so no other test's streams move them).
/// </summary>
public sealed class WatchStreamTests(EtcdServer etcd) : IClassFixture<EtcdServer>, IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    private static string Unique(string name) => $"/{name}/{Guid.NewGuid():N}/";

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task ManyWatchesShareOneStreamAndLeavingTheLoopCancelsOnTheServer()
    {
        string prefix = Unique("shared");
        (double streamsBefore, double watchersBefore) = await WatchGaugesAsync();
        var watchers = Enumerable.Range(0, 20).Select(i => _client.Watch.Key($"{prefix}{i}")).ToList();
        await Task.WhenAll(watchers.Select(w => w.Created));

        (double streams, double watching) = await WatchGaugesAsync();
        Assert.Equal(streamsBefore + 1, streams);
        Assert.Equal(watchersBefore + 20, watching);

        // Every watch still gets its own events.
        await _client.KV.PutAsync(prefix + "7", "seven");
        await foreach (WatchResponse response in watchers[7])
        {
            Assert.Equal("seven", Assert.Single(response.Events).Kv.Value.ToStringUtf8());
            break; // Leaving the loop cancels this watch.
        }

        await WatchTests.WaitForAsync(async () => (await WatchGaugesAsync()).Watchers == watchersBefore + 19);
        watchers.ForEach(w => w.Dispose());
        await WatchTests.WaitForAsync(async () => await WatchGaugesAsync() == (streamsBefore, watchersBefore));
    }

    [EtcdFact]
    public async Task WatchesWithDifferentMetadataUseDifferentStreams()
    {
        (double streamsBefore, _) = await WatchGaugesAsync();
        await using Watcher plain = _client.Watch.Key(Unique("md") + "a");
        await using Watcher leader = _client.Watch.Key(Unique("md") + "b", new WatchOptions { RequireLeader = true });
        await Task.WhenAll(plain.Created, leader.Created);
        Assert.Equal(streamsBefore + 2, (await WatchGaugesAsync()).Streams);

        plain.Dispose();
        leader.Dispose();
        await WatchTests.WaitForAsync(async () => (await WatchGaugesAsync()).Streams == streamsBefore);
    }

    private async Task<(double Streams, double Watchers)> WatchGaugesAsync()
    {
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(etcd.Endpoint + "/metrics");
        return (Gauge(metrics, "etcd_debugging_mvcc_watch_stream_total"), Gauge(metrics, "etcd_debugging_mvcc_watcher_total"));
    }

    private static double Gauge(string metrics, string name) =>
        double.Parse(Regex.Match(metrics, $"^{name} (\\S+)$", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);
}
