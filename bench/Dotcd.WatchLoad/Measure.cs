using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Dotcd.Client;

namespace Dotcd.WatchLoad;

/// <summary>What every workload shares: clients, the sequence number in a value, percentiles, RSS.</summary>
internal static class Measure
{
    // The stream metadata key that puts watches on different streams of one connection: the client
    // shares one stream among the watches whose metadata is equal (clientv3 does the same with
    // metadata-keyed contexts). Servers ignore the key.
    private const string StreamKey = "x-dotcd-bench-stream";

    /// <summary>Clients that each hold one HTTP/2 connection to the endpoint (both servers allow unlimited streams per connection).</summary>
    public static EtcdClient[] Clients(string endpoint, int count) =>
        [.. Enumerable.Range(0, Math.Max(1, count)).Select(_ => new EtcdClient(new EtcdClientOptions
        {
            Endpoints = [endpoint],
            DialTimeout = TimeSpan.FromSeconds(10),
            KeepAliveTime = TimeSpan.FromMinutes(10), // No pings during a run: they are not the load.
        }))];

    /// <summary>Opens each client's connection with one serializable read, so connection memory is not counted as watch memory.</summary>
    public static Task ConnectAsync(IEnumerable<EtcdClient> clients) =>
        Task.WhenAll(clients.Select(c => c.KV.GetAsync("/bench/connect", new GetOptions { Serializable = true })));

    /// <summary>Options that put a watch on stream <paramref name="stream"/> of its client.</summary>
    public static WatchOptions OnStream(int stream) =>
        new() { Metadata = new Dictionary<string, string> { [StreamKey] = stream.ToString(CultureInfo.InvariantCulture) } };

    // Value layout: [sequence number: i32 little-endian][padding: zero bytes up to the value size].
    public static byte[] Value(int sequence, int size)
    {
        byte[] value = new byte[Math.Max(4, size)];
        BinaryPrimitives.WriteInt32LittleEndian(value, sequence);
        return value;
    }

    public static int Sequence(ReadOnlySpan<byte> value) =>
        value.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(value) : -1;

    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>The nearest-rank percentile of sorted ticks, in milliseconds; NaN when empty.</summary>
    public static double PercentileMs(long[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : Milliseconds(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)]);

    /// <summary>VmRSS of a process from /proc/PID/status, in KiB.</summary>
    public static long RssKb(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no VmRSS in /proc/{pid}/status");
    }

    public static double Round(double value, int digits = 3) => double.IsFinite(value) ? Math.Round(value, digits) : -1;
}
