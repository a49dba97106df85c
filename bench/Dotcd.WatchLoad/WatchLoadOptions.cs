using System.Globalization;

namespace Dotcd.WatchLoad;

/// <summary>A bad command line; an empty message means "print the usage only" (--help).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The command line: <c>--name value</c> pairs, every one optional except --endpoint and --workload.</summary>
internal sealed class WatchLoadOptions
{
    public const string Usage = """
        usage: dotcd-watchload --endpoint URL --workload NAME [options]   (prints one JSON line)
          latency    --clients 10 --watchers 100 --rate 500 --duration 10 --val-size 128
                     watchers on one prefix, spread over the clients (one shared stream per client,
                     as clientv3); puts paced at --rate from one more client; put-to-event latency
          fanout     --watchers 10000 --streams 100 --clients 4 --window 8 --duration 10
                     watchers on one key over --streams streams on --clients connections; puts with at
                     most --window of them not yet delivered to every watcher; events per second
          memory     --watchers N --streams M --clients C --server-pid PID [--settle-seconds 3]
                     server VmRSS before and after creating N watchers (distinct keys) on M streams
          keepalive  --leases 1000 --streams 10 --clients 2 --window 64 --duration 10
                     leases granted first, then renewed round-robin over --streams keepalive streams
                     with at most --window requests in flight per stream; keepalives answered per second
        common: --warmup-seconds 1 (not measured; latency, fanout, keepalive), --label TEXT
        """;

    private readonly Dictionary<string, string> _values;

    private WatchLoadOptions(Dictionary<string, string> values) => _values = values;

    public string Endpoint => Get("endpoint") ?? throw new UsageException("--endpoint is required");

    public string Workload => Get("workload") ?? throw new UsageException("--workload is required");

    public string Label => Get("label") ?? "";

    public static WatchLoadOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                throw new UsageException("");
            }

            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new UsageException($"expected --name value at \"{args[i]}\"");
            }

            values[args[i][2..]] = args[++i];
        }

        return new WatchLoadOptions(values);
    }

    public int Int(string name, int fallback) => Get(name) is { } text
        ? int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 0
            ? value
            : throw new UsageException($"--{name} wants a non-negative integer, not \"{text}\"")
        : fallback;

    public double Seconds(string name, double fallback) => Get(name) is { } text
        ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0
            ? value
            : throw new UsageException($"--{name} wants a number of seconds, not \"{text}\"")
        : fallback;

    private string? Get(string name) => _values.GetValueOrDefault(name);
}
