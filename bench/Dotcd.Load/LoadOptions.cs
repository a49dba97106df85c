using System.Globalization;

namespace Dotcd.Load;

/// <summary>What to run and against what: the parsed command line (see <see cref="Usage"/>).</summary>
internal sealed class LoadOptions
{
    public const string Usage = """
        usage: dotcd-load --workload NAME [options]

        workloads:
          put                 Put of random keys (--key-size, --val-size, --key-space)
          range-linearizable  Range of one key, linearizable (a ReadIndex round per request)
          range-serializable  Range of one key, serializable (served locally)
          list                Range over a prefix holding --list-keys keys of --list-val-size bytes
          txn-cas             Kubernetes-shaped update: Txn{mod_revision(key)==rev ? Put : Range},
                              retried with the revision the failure branch returns

        options:
          --endpoints URLS    comma-separated, default http://127.0.0.1:2379; connections are
                              spread over them round-robin
          --conns N           gRPC connections (HTTP/2), default 1
          --clients N         concurrent clients, spread over the connections, default 1
          --total N           measured requests (default 10000); or
          --duration SECONDS  measure for this long instead
          --warmup N          requests before measuring, not recorded; or
          --warmup-seconds S  run that long before measuring, not recorded (default 1; 0: none)
          --key-size N        bytes per key for put/range (default 8)
          --val-size N        bytes per value for put/range/txn-cas (default 256)
          --key-space N       distinct keys for put and txn-cas (default 100000 / 1000)
          --list-keys N       keys under the list prefix (default 1000)
          --list-val-size N   bytes per listed value (default 1024)
          --label TEXT        copied into the output (e.g. "dotcd" or "etcd")
          --timeout SECONDS   per-request deadline (default 10)
          --samples FILE      also write every measured latency to FILE: ms, one per
                              line, each client's in the order it recorded them, client after client

        Prints one JSON line: throughput, exact p50/p99/max latency from every recorded sample,
        and errors (the first error's text).
        """;

    public string[] Endpoints { get; private set; } = ["http://127.0.0.1:2379"];
    public string Workload { get; private set; } = "";
    public int Connections { get; private set; } = 1;
    public int Clients { get; private set; } = 1;
    public long TotalRequests { get; private set; } = 10_000;
    public TimeSpan? Duration { get; private set; }
    public long? WarmupRequests { get; private set; }
    public TimeSpan WarmupDuration { get; private set; } = TimeSpan.FromSeconds(1);
    public int KeySize { get; private set; } = 8;
    public int ValueSize { get; private set; } = 256;
    public int? KeySpace { get; private set; }
    public int ListKeys { get; private set; } = 1000;
    public int ListValueSize { get; private set; } = 1024;
    public string Label { get; private set; } = "";
    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(10);
    public string? SamplesFile { get; private set; }

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string? inline = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }

            if (name is "-h" or "--help")
            {
                throw new UsageException("");
            }

            string value = inline ?? (i + 1 < args.Length ? args[++i] : throw new UsageException($"{name} needs a value"));
            switch (name)
            {
                case "--endpoints": options.Endpoints = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--workload": options.Workload = value; break;
                case "--conns": options.Connections = PositiveInt(name, value); break;
                case "--clients": options.Clients = PositiveInt(name, value); break;
                case "--total": options.TotalRequests = PositiveInt(name, value); break;
                case "--duration": options.Duration = TimeSpan.FromSeconds(PositiveDouble(name, value)); break;
                case "--warmup": options.WarmupRequests = PositiveInt(name, value); break;
                case "--warmup-seconds": options.WarmupDuration = TimeSpan.FromSeconds(NonNegativeDouble(name, value)); break;
                case "--key-size": options.KeySize = PositiveInt(name, value); break;
                case "--val-size": options.ValueSize = PositiveInt(name, value); break;
                case "--key-space": options.KeySpace = PositiveInt(name, value); break;
                case "--list-keys": options.ListKeys = PositiveInt(name, value); break;
                case "--list-val-size": options.ListValueSize = PositiveInt(name, value); break;
                case "--label": options.Label = value; break;
                case "--timeout": options.Timeout = TimeSpan.FromSeconds(PositiveDouble(name, value)); break;
                case "--samples": options.SamplesFile = value; break;
                default: throw new UsageException($"unknown option {name}");
            }
        }

        if (options.Workload.Length == 0)
        {
            throw new UsageException("--workload is required");
        }

        if (options.Endpoints.Length == 0)
        {
            throw new UsageException("--endpoints is empty");
        }

        return options;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new UsageException($"{name}: \"{value}\" is not a positive integer");

    private static double NonNegativeDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= 0
            ? d
            : throw new UsageException($"{name}: \"{value}\" is not a number >= 0");

    private static double PositiveDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d > 0
            ? d
            : throw new UsageException($"{name}: \"{value}\" is not a positive number");
}

/// <summary>A bad command line: the message is printed with the usage text, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
