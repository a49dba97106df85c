using System.Diagnostics;
using System.Text;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Client;

namespace Dotcd.WatchLoad;

/// <summary>
/// Put-to-event latency. --watchers watches on one prefix, spread round-robin over --clients
/// clients (each client multiplexes its watches on one stream, as clientv3 does); one more client
/// puts keys under the prefix at --rate per second, open loop (a put is sent on schedule whether
/// or not the previous ones were answered). Each value carries its sequence number; the latency of
/// one delivery is from the moment the put was handed to the client (its send time) to the moment
/// a watch's reader holds the response with the event. Every watch sees every put, so there are
/// puts x watchers samples; p50 and p99 are exact over all of them.
/// </summary>
internal static class LatencyWorkload
{
    private const string Prefix = "/bench/watch-latency/";

    public static async Task<Dictionary<string, object>> RunAsync(WatchLoadOptions options)
    {
        int clientCount = Math.Max(1, options.Int("clients", 10));
        int watcherCount = Math.Max(1, options.Int("watchers", 100));
        int rate = Math.Max(1, options.Int("rate", 500));
        int valueSize = options.Int("val-size", 128);
        int warmupPuts = (int)(rate * options.Seconds("warmup-seconds", 1));
        int measuredPuts = Math.Max(1, (int)(rate * options.Seconds("duration", 10)));
        int totalPuts = warmupPuts + measuredPuts;

        EtcdClient[] clients = Measure.Clients(options.Endpoint, clientCount);
        EtcdClient writer = Measure.Clients(options.Endpoint, 1)[0];
        try
        {
            await Measure.ConnectAsync([.. clients, writer]);
            var watchers = new Watcher[watcherCount];
            for (int i = 0; i < watcherCount; i++)
            {
                watchers[i] = clients[i % clientCount].Watch.Prefix(Prefix);
            }

            await Task.WhenAll(watchers.Select(w => w.Created));

            // Written before the put is sent, read by the readers after its event arrives.
            var sendTicks = new long[totalPuts];
            var putTicks = new long[totalPuts]; // Send to response; 0 when the put failed.
            int putErrors = 0;
            string? firstError = null;

            using var drain = new CancellationTokenSource();
            Task<List<long>>[] readers = [.. watchers.Select(w => Task.Run(() => ReadAsync(w)))];

            async Task<List<long>> ReadAsync(Watcher watcher)
            {
                var latencies = new List<long>(measuredPuts);
                int seen = 0;
                try
                {
                    await foreach (WatchResponse response in watcher.WithCancellation(drain.Token))
                    {
                        long now = Stopwatch.GetTimestamp();
                        foreach (Dotcd.Api.Mvccpb.Event e in response.Events)
                        {
                            int sequence = Measure.Sequence(e.Kv.Value.Span);
                            if (sequence >= warmupPuts && sequence < totalPuts)
                            {
                                latencies.Add(now - Volatile.Read(ref sendTicks[sequence]));
                            }

                            seen++;
                        }

                        if (seen >= totalPuts)
                        {
                            break;
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    // Drain timeout: the missing deliveries are reported.
                }

                return latencies;
            }

            // Open-loop pacing: put number n is due at n / rate seconds.
            var inFlight = new List<Task>(totalPuts);
            var clock = Stopwatch.StartNew();
            long measuredStart = 0;
            int next = 0;
            while (next < totalPuts)
            {
                long due = Math.Min(totalPuts, (long)(clock.Elapsed.TotalSeconds * rate) + 1);
                while (next < due)
                {
                    int sequence = next++;
                    if (sequence == warmupPuts)
                    {
                        measuredStart = clock.ElapsedTicks;
                    }

                    byte[] key = Encoding.UTF8.GetBytes($"{Prefix}{sequence % 100:D3}");
                    byte[] value = Measure.Value(sequence, valueSize);
                    long sent = Stopwatch.GetTimestamp();
                    Volatile.Write(ref sendTicks[sequence], sent);
                    inFlight.Add(writer.KV.PutAsync(key, value).ContinueWith(t =>
                    {
                        if (t.IsCompletedSuccessfully)
                        {
                            putTicks[sequence] = Stopwatch.GetTimestamp() - sent;
                        }
                        else
                        {
                            Interlocked.Increment(ref putErrors);
                            Interlocked.CompareExchange(ref firstError, t.Exception?.GetBaseException().Message, null);
                        }
                    }, TaskScheduler.Default));
                }

                await Task.Delay(1);
            }

            double measuredSeconds = (clock.ElapsedTicks - measuredStart) / (double)Stopwatch.Frequency;
            await Task.WhenAll(inFlight);
            drain.CancelAfter(TimeSpan.FromSeconds(10));
            List<long>[] perWatcher = await Task.WhenAll(readers);

            long[] latencies = [.. perWatcher.SelectMany(l => l)];
            Array.Sort(latencies);
            long[] puts = [.. putTicks.Skip(warmupPuts).Where(t => t > 0)];
            Array.Sort(puts);
            return new Dictionary<string, object>
            {
                ["watchers"] = watcherCount,
                ["clients"] = clientCount,
                ["streams"] = clientCount,
                ["rate"] = rate,
                ["puts"] = measuredPuts,
                ["put_rate_achieved"] = Measure.Round(measuredPuts / measuredSeconds, 1),
                ["events_expected"] = (long)measuredPuts * watcherCount,
                ["events"] = latencies.Length,
                ["p50_ms"] = Measure.Round(Measure.PercentileMs(latencies, 0.50)),
                ["p99_ms"] = Measure.Round(Measure.PercentileMs(latencies, 0.99)),
                ["max_ms"] = Measure.Round(Measure.PercentileMs(latencies, 1.0)),
                ["put_p50_ms"] = Measure.Round(Measure.PercentileMs(puts, 0.50)),
                ["put_p99_ms"] = Measure.Round(Measure.PercentileMs(puts, 0.99)),
                ["errors"] = putErrors + (int)Math.Min(int.MaxValue, (long)measuredPuts * watcherCount - latencies.Length),
                ["first_error"] = firstError ?? "",
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
