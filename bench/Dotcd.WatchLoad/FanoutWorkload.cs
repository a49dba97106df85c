using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Client;

namespace Dotcd.WatchLoad;

/// <summary>
/// Fan-out: --watchers watches on one key, on --streams streams (watch i on stream i mod streams)
/// spread over --clients connections. One more client puts the key, closed loop: at most --window
/// puts may be on their way (sent and not yet delivered to every watch), so the server runs at
/// the rate it can deliver instead of building an unbounded backlog. The result is the events
/// delivered per second to all watches together during --duration, after --warmup-seconds.
/// </summary>
internal static class FanoutWorkload
{
    private const string Key = "/bench/fanout";
    private const int MaxPuts = 1 << 20;

    public static async Task<Dictionary<string, object>> RunAsync(WatchLoadOptions options)
    {
        int clientCount = Math.Max(1, options.Int("clients", 4));
        int streamCount = Math.Max(1, options.Int("streams", 100));
        int watcherCount = Math.Max(1, options.Int("watchers", 10_000));
        int window = Math.Max(1, options.Int("window", 8));
        int valueSize = options.Int("val-size", 128);
        TimeSpan warmup = TimeSpan.FromSeconds(options.Seconds("warmup-seconds", 1));
        TimeSpan duration = TimeSpan.FromSeconds(options.Seconds("duration", 10));

        EtcdClient[] clients = Measure.Clients(options.Endpoint, clientCount);
        EtcdClient writer = Measure.Clients(options.Endpoint, 1)[0];
        try
        {
            await Measure.ConnectAsync([.. clients, writer]);
            WatchOptions[] streams = [.. Enumerable.Range(0, streamCount).Select(Measure.OnStream)];
            var created = Stopwatch.StartNew();
            var watchers = new Watcher[watcherCount];
            for (int i = 0; i < watcherCount; i++)
            {
                int stream = i % streamCount;
                watchers[i] = clients[stream % clientCount].Watch.Key(Key, streams[stream]);
            }

            await Task.WhenAll(watchers.Select(w => w.Created));
            double createSeconds = created.Elapsed.TotalSeconds;

            var delivered = new int[MaxPuts];          // Per put: the watches that received it.
            var events = new long[watcherCount];       // Per watch: events received (summed when sampled).
            using var slots = new SemaphoreSlim(window); // A put takes a slot; its last delivery frees it.
            int completedPuts = 0;
            using var stop = new CancellationTokenSource();

            async Task ReadAsync(Watcher watcher, int index)
            {
                try
                {
                    await foreach (WatchResponse response in watcher.WithCancellation(stop.Token))
                    {
                        foreach (Dotcd.Api.Mvccpb.Event e in response.Events)
                        {
                            int sequence = Measure.Sequence(e.Kv.Value.Span);
                            if ((uint)sequence < MaxPuts && Interlocked.Increment(ref delivered[sequence]) == watcherCount)
                            {
                                Interlocked.Increment(ref completedPuts);
                                slots.Release();
                            }
                        }

                        Volatile.Write(ref events[index], events[index] + response.Events.Count);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }

            Task[] readers = [.. watchers.Select((w, i) => Task.Run(() => ReadAsync(w, i)))];
            long Delivered()
            {
                long sum = 0;
                for (int i = 0; i < events.Length; i++)
                {
                    sum += Volatile.Read(ref events[i]);
                }

                return sum;
            }

            int putErrors = 0;
            string? firstError = null;
            var clock = Stopwatch.StartNew();
            TimeSpan end = warmup + duration;
            long startEvents = 0, startPuts = 0;
            TimeSpan startTime = TimeSpan.Zero;
            bool measuring = false;
            int next = 0;
            while (next < MaxPuts)
            {
                if (!await slots.WaitAsync(TimeSpan.FromMilliseconds(100)))
                {
                    if (clock.Elapsed >= end)
                    {
                        break;
                    }

                    continue;
                }

                if (!measuring && clock.Elapsed >= warmup)
                {
                    measuring = true;
                    startTime = clock.Elapsed;
                    startEvents = Delivered();
                    startPuts = Volatile.Read(ref completedPuts);
                }

                if (clock.Elapsed >= end)
                {
                    break;
                }

                int sequence = next++;
                _ = writer.KV.PutAsync(System.Text.Encoding.UTF8.GetBytes(Key), Measure.Value(sequence, valueSize)).ContinueWith(t =>
                {
                    if (!t.IsCompletedSuccessfully)
                    {
                        Interlocked.Increment(ref putErrors);
                        Interlocked.CompareExchange(ref firstError, t.Exception?.GetBaseException().Message, null);
                        slots.Release();
                    }
                }, TaskScheduler.Default);
            }

            TimeSpan endTime = clock.Elapsed;
            long endEvents = Delivered();
            long endPuts = Volatile.Read(ref completedPuts);

            // Let the puts already sent finish, so "undelivered" counts losses, not the cut-off.
            var settle = Stopwatch.StartNew();
            while (Volatile.Read(ref completedPuts) + putErrors < next && settle.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }

            int undelivered = next - putErrors - Volatile.Read(ref completedPuts);
            stop.Cancel();
            await Task.WhenAll(readers);
            double seconds = (endTime - startTime).TotalSeconds;
            return new Dictionary<string, object>
            {
                ["watchers"] = watcherCount,
                ["streams"] = streamCount,
                ["clients"] = clientCount,
                ["window"] = window,
                ["create_seconds"] = Measure.Round(createSeconds),
                ["puts"] = endPuts - startPuts,
                ["puts_per_sec"] = Measure.Round((endPuts - startPuts) / seconds, 1),
                ["events_per_sec"] = Measure.Round((endEvents - startEvents) / seconds, 0),
                ["errors"] = putErrors + undelivered,
                ["first_error"] = firstError ?? (undelivered > 0 ? $"{undelivered} puts not delivered to every watch 10 s after the end" : ""),
            };
        }
        finally
        {
            writer.Dispose();
            foreach (EtcdClient client in clients)
            {
                client.Dispose();
            }
        }
    }
}
