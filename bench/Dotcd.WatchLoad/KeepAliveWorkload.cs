using System.Diagnostics;
using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Client;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.WatchLoad;

/// <summary>
/// Lease keepalive throughput: --leases leases (TTL 120 s) are granted first, then renewed
/// round-robin over --streams LeaseKeepAlive streams spread over --clients connections, each
/// stream with at most --window requests unanswered. The result is the keepalive responses per
/// second during --duration (after --warmup-seconds); a response with TTL 0 (lease not found)
/// counts as an error. Raw streams rather than <see cref="LeaseClient.KeepAlive"/>: the client
/// renews each lease at a third of its TTL, which would measure the timer, not the server.
/// </summary>
internal static class KeepAliveWorkload
{
    public static async Task<Dictionary<string, object>> RunAsync(WatchLoadOptions options)
    {
        int clientCount = Math.Max(1, options.Int("clients", 2));
        int streamCount = Math.Max(1, options.Int("streams", 10));
        int leaseCount = Math.Max(1, options.Int("leases", 1000));
        int window = Math.Max(1, options.Int("window", 64));
        TimeSpan warmup = TimeSpan.FromSeconds(options.Seconds("warmup-seconds", 1));
        TimeSpan duration = TimeSpan.FromSeconds(options.Seconds("duration", 10));

        EtcdClient granter = Measure.Clients(options.Endpoint, 1)[0];
        GrpcChannel[] channels = [.. Enumerable.Range(0, clientCount).Select(_ =>
            GrpcChannel.Create(options.Endpoint, new GrpcChannelOptions { EnableMultipleHttp2Connections = false }))];
        var calls = new List<GrpcClientCall>();
        try
        {
            var leases = new long[leaseCount];
            int nextGrant = -1;
            await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                for (int i = Interlocked.Increment(ref nextGrant); i < leaseCount; i = Interlocked.Increment(ref nextGrant))
                {
                    leases[i] = (await granter.Lease.GrantAsync(120)).ID;
                }
            })));

            var answered = new long[streamCount];
            long notFound = 0;
            using var stop = new CancellationTokenSource();
            var tasks = new List<Task>();
            for (int s = 0; s < streamCount; s++)
            {
                GrpcClientCall call = channels[s % clientCount].StartDuplexStreaming(Methods.LeaseKeepAlive, new CallOptions { CancellationToken = stop.Token });
                calls.Add(call);
                int stream = s;
                byte[][] requests = [.. Enumerable.Range(0, leaseCount).Where(i => i % streamCount == stream)
                    .Select(i => new LeaseKeepAliveRequest { ID = leases[i] }.ToByteArray())];
                if (requests.Length == 0)
                {
                    continue;
                }

                var slots = new SemaphoreSlim(window);
                tasks.Add(Task.Run(async () =>
                {
                    for (int i = 0; !stop.IsCancellationRequested; i++)
                    {
                        await slots.WaitAsync(stop.Token);
                        await call.WriteAsync(requests[i % requests.Length]);
                    }
                }));
                tasks.Add(Task.Run(async () =>
                {
                    while (await call.MoveNextAsync())
                    {
                        if (LeaseKeepAliveResponse.Parser.ParseFrom(call.Current).TTL <= 0)
                        {
                            Interlocked.Increment(ref notFound);
                        }

                        Volatile.Write(ref answered[stream], answered[stream] + 1);
                        slots.Release();
                    }
                }));
            }

            long Answered()
            {
                long sum = 0;
                for (int i = 0; i < answered.Length; i++)
                {
                    sum += Volatile.Read(ref answered[i]);
                }

                return sum;
            }

            await Task.Delay(warmup);
            long startCount = Answered();
            var clock = Stopwatch.StartNew();
            await Task.Delay(duration);
            long endCount = Answered();
            double seconds = clock.Elapsed.TotalSeconds;
            stop.Cancel();
            string firstError = "";
            foreach (Task task in tasks)
            {
                try
                {
                    await task;
                }
                catch (Exception e) when (e is OperationCanceledException or GrpcStatusException or IOException or ObjectDisposedException)
                {
                    // The stop: the calls are cancelled under their loops.
                }
                catch (Exception e)
                {
                    firstError = firstError.Length == 0 ? e.Message : firstError;
                }
            }

            return new Dictionary<string, object>
            {
                ["leases"] = leaseCount,
                ["streams"] = streamCount,
                ["clients"] = clientCount,
                ["window"] = window,
                ["keepalives"] = endCount - startCount,
                ["keepalives_per_sec"] = Measure.Round((endCount - startCount) / seconds, 0),
                ["errors"] = notFound + (firstError.Length > 0 ? 1 : 0),
                ["first_error"] = notFound > 0 ? $"{notFound} keepalives answered TTL 0 (lease not found)" : firstError,
            };
        }
        finally
        {
            foreach (GrpcClientCall call in calls)
            {
                call.Dispose();
            }

            foreach (GrpcChannel channel in channels)
            {
                channel.Dispose();
            }

            granter.Dispose();
        }
    }
}
