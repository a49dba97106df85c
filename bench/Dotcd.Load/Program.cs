using System.Diagnostics;
using System.Text.Json;
using Dotcd.Grpc;
using Dotcd.Load;

// dotcd-load: one workload against one endpoint list, one JSON line on stdout.
// Phases: connect (one call per connection), setup (unmeasured writes the workload needs),
// warmup (--warmup requests or --warmup-seconds, not recorded), then the measured run (--total
// or --duration).
LoadOptions options;
Workload workload;
try
{
    options = LoadOptions.Parse(args);
    workload = Workload.Create(options);
}
catch (UsageException e)
{
    if (e.Message.Length > 0)
    {
        Console.Error.WriteLine($"dotcd-load: {e.Message}");
    }

    Console.Error.WriteLine(LoadOptions.Usage);
    return e.Message.Length > 0 ? 2 : 0;
}

// One GrpcChannel is one HTTP/2 connection: multiple connections per channel are off, and the
// clients per connection stay far below any server's stream limit.
var channels = new GrpcChannel[options.Connections];
for (int i = 0; i < channels.Length; i++)
{
    channels[i] = GrpcChannel.Create(options.Endpoints[i % options.Endpoints.Length],
        new GrpcChannelOptions { EnableMultipleHttp2Connections = false });
}

try
{
    await Task.WhenAll(channels.Select(c => KvCalls.RangeAsync(c, new() { Key = Google.Protobuf.ByteString.CopyFromUtf8("dotcd-load-connect"), Serializable = true }, options.Timeout)));
    await workload.SetupAsync(channels);

    // Warmup: both JITs (the client's, and dotcd's when it is the server) compile the hot paths in
    // the background during the first seconds; measured, that is start-up cost, not throughput.
    if (options.WarmupRequests is { } warmupRequests)
    {
        await RunPhaseAsync(workload, channels, options.Clients, total: warmupRequests, duration: null);
    }
    else if (options.WarmupDuration > TimeSpan.Zero)
    {
        await RunPhaseAsync(workload, channels, options.Clients, total: 0, duration: options.WarmupDuration);
    }

    (ClientState[] clients, TimeSpan elapsed) = await RunPhaseAsync(workload, channels, options.Clients,
        total: options.Duration is null ? options.TotalRequests : 0, duration: options.Duration);
    Report(options, clients, elapsed);
    return clients.Any(c => c.Errors > 0) ? 1 : 0;
}
finally
{
    foreach (GrpcChannel channel in channels)
    {
        channel.Dispose();
    }
}

// Client i uses connection i % conns. With a total, each operation claims a ticket first so
// exactly `total` are attempted; with a duration, clients start no operation after the end.
static async Task<(ClientState[] Clients, TimeSpan Elapsed)> RunPhaseAsync(Workload workload, GrpcChannel[] channels,
    int clientCount, long total, TimeSpan? duration)
{
    var clients = new ClientState[clientCount];
    long tickets = 0;
    long started = Stopwatch.GetTimestamp();
    long end = duration is { } d ? started + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
    var tasks = new Task[clientCount];
    for (int i = 0; i < clientCount; i++)
    {
        var client = clients[i] = new ClientState(i);
        GrpcChannel channel = channels[i % channels.Length];
        tasks[i] = Task.Run(async () =>
        {
            while (total > 0 ? Interlocked.Increment(ref tickets) <= total : Stopwatch.GetTimestamp() < end)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    await workload.ExecuteAsync(channel, client).ConfigureAwait(false);
                    client.Samples.Add(Stopwatch.GetTimestamp() - start);
                }
                catch (Exception e) when (e is GrpcStatusException or InvalidOperationException or HttpRequestException
                    or IOException or OperationCanceledException or Google.Protobuf.InvalidProtocolBufferException)
                {
                    client.Errors++;
                    client.FirstError ??= $"{e.GetType().Name}: {e.Message}";
                }
            }
        });
    }

    await Task.WhenAll(tasks);
    return (clients, Stopwatch.GetElapsedTime(started));
}

static void Report(LoadOptions options, ClientState[] clients, TimeSpan elapsed)
{
    long[] sorted = LatencySamples.MergeSorted(clients.Select(c => c.Samples).ToArray());
    if (options.SamplesFile is { } path)
    {
        File.WriteAllLines(path, clients.SelectMany(c => c.Samples.InRecordedOrder()).Select(
            t => LatencySamples.ToMilliseconds(t).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
    }

    using var stdout = Console.OpenStandardOutput();
    using (var json = new Utf8JsonWriter(stdout))
    {
        json.WriteStartObject();
        json.WriteString("workload", options.Workload);
        json.WriteString("label", options.Label);
        json.WriteNumber("clients", options.Clients);
        json.WriteNumber("conns", options.Connections);
        json.WriteNumber("ops", sorted.Length);
        json.WriteNumber("rpcs", clients.Sum(c => c.Rpcs));
        json.WriteNumber("errors", clients.Sum(c => c.Errors));
        json.WriteNumber("conflicts", clients.Sum(c => c.Conflicts));
        json.WriteNumber("seconds", Math.Round(elapsed.TotalSeconds, 3));
        json.WriteNumber("ops_per_sec", Math.Round(sorted.Length / elapsed.TotalSeconds, 1));
        WriteMilliseconds(json, "p50_ms", LatencySamples.PercentileMilliseconds(sorted, 50));
        WriteMilliseconds(json, "p99_ms", LatencySamples.PercentileMilliseconds(sorted, 99));
        WriteMilliseconds(json, "max_ms", LatencySamples.PercentileMilliseconds(sorted, 100));
        if (clients.FirstOrDefault(c => c.FirstError is not null)?.FirstError is { } error)
        {
            json.WriteString("first_error", error);
        }

        json.WriteEndObject();
    }

    stdout.Write("\n"u8);
}

static void WriteMilliseconds(Utf8JsonWriter json, string name, double value)
{
    if (double.IsNaN(value))
    {
        json.WriteNull(name);
    }
    else
    {
        json.WriteNumber(name, Math.Round(value, 3));
    }
}
