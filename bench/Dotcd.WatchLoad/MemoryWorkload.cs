using System.Diagnostics;
using Dotcd.Client;

namespace Dotcd.WatchLoad;

/// <summary>
/// Watch memory, measured as etcd's "watch memory usage benchmark" does it: the server's resident
/// set (VmRSS) before and after creating --watchers watches (each on its own key) on --streams
/// streams over --clients connections, divided by the watches or the streams. The connections are
/// opened before the first reading, and each reading follows --settle-seconds of quiet, so the
/// difference is watch state (plus whatever garbage the server has not yet collected).
/// </summary>
internal static class MemoryWorkload
{
    public static async Task<Dictionary<string, object>> RunAsync(WatchLoadOptions options)
    {
        int clientCount = Math.Max(1, options.Int("clients", 10));
        int streamCount = Math.Max(1, options.Int("streams", 100));
        int watcherCount = Math.Max(1, options.Int("watchers", 10_000));
        int pid = options.Int("server-pid", 0);
        if (pid == 0)
        {
            throw new UsageException("memory needs --server-pid");
        }

        TimeSpan settle = TimeSpan.FromSeconds(options.Seconds("settle-seconds", 3));
        EtcdClient[] clients = Measure.Clients(options.Endpoint, clientCount);
        try
        {
            await Measure.ConnectAsync(clients);
            await Task.Delay(settle);
            long before = Measure.RssKb(pid);

            WatchOptions[] streams = [.. Enumerable.Range(0, streamCount).Select(Measure.OnStream)];
            var created = Stopwatch.StartNew();
            var watchers = new Watcher[watcherCount];
            for (int i = 0; i < watcherCount; i++)
            {
                int stream = i % streamCount;
                watchers[i] = clients[stream % clientCount].Watch.Key($"/bench/memory/{i:D7}", streams[stream]);
            }

            await Task.WhenAll(watchers.Select(w => w.Created));
            double createSeconds = created.Elapsed.TotalSeconds;
            await Task.Delay(settle);
            long after = Measure.RssKb(pid);
            GC.KeepAlive(watchers);

            long deltaBytes = (after - before) * 1024;
            return new Dictionary<string, object>
            {
                ["watchers"] = watcherCount,
                ["streams"] = streamCount,
                ["clients"] = clientCount,
                ["create_seconds"] = Measure.Round(createSeconds),
                ["rss_before_kb"] = before,
                ["rss_after_kb"] = after,
                ["delta_kb"] = after - before,
                ["bytes_per_watcher"] = deltaBytes / watcherCount,
                ["bytes_per_stream"] = deltaBytes / streamCount,
                ["errors"] = 0,
                ["first_error"] = "",
            };
        }
        finally
        {
            foreach (EtcdClient client in clients)
            {
                client.Dispose();
            }
        }
    }
}
