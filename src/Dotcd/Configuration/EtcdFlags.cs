using System.Collections.Immutable;

namespace Dotcd.Configuration;

/// <summary>
/// Every flag etcd 3.4 accepts, in the order of its --help, and what dotcd does with each.
/// This is the one place a flag moves from <see cref="FlagSupport.NotYet"/> to
/// <see cref="FlagSupport.Supported"/>: give it an Apply into <see cref="ConfigDraft"/> (and a
/// property on <see cref="MemberConfig"/>) and change its support.
/// </summary>
internal static class EtcdFlags
{
    public const string ConfigFileFlag = "config-file";
    public const string VersionFlag = "version";

    /// <summary>All flags: help order first, then the ones etcd hides from --help, then etcd's ignored legacy flags.</summary>
    public static ImmutableArray<FlagSpec> All { get; } = Build();

    public static IReadOnlyDictionary<string, FlagSpec> ByName { get; } = All.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public static FlagSpec Get(string name) => ByName[name];

    /// <summary>Help sections in --help order.</summary>
    public static ImmutableArray<string> Sections { get; } =
    [
        "Member", "Clustering", "Security", "Auth", "Profiling and Monitoring", "Logging",
        "v2 Proxy (to be deprecated in v4)", "Experimental feature", "Unsafe feature", "TO BE DEPRECATED",
    ];

    private static ImmutableArray<FlagSpec> Build()
    {
        var table = new Table();

        table.Section = "Member";
        table.Supported("name", FlagKind.String, "'default'", ["Human-readable name for this member."], (d, v) => d.Name = (string)v);
        table.Supported("data-dir", FlagKind.String, "'${name}.dotcd'", ["Path to the data directory."], (d, v) => d.DataDir = (string)v, defaults: [""]);
        table.Supported("wal-dir", FlagKind.String, "''", ["Path to the dedicated wal directory."], (d, v) => d.WalDir = (string)v);
        table.Supported("snapshot-count", FlagKind.Uint64, "'100000'", ["Number of committed transactions to trigger a snapshot to disk."], (d, v) => d.SnapshotCount = (ulong)v);
        table.Supported("heartbeat-interval", FlagKind.Uint, "'100'", ["Time (in milliseconds) of a heartbeat interval."], (d, v) => d.HeartbeatMilliseconds = (ulong)v);
        table.Supported("election-timeout", FlagKind.Uint, "'1000'", ["Time (in milliseconds) for an election to timeout. See tuning documentation for details."], (d, v) => d.ElectionMilliseconds = (ulong)v);
        table.NotYet("initial-election-tick-advance", FlagKind.Bool, "'true'", ["Whether to fast-forward initial election ticks on boot for faster election."]);
        table.Supported("listen-peer-urls", FlagKind.Urls, "'http://localhost:2380'", ["List of URLs to listen on for peer traffic."], (d, v) => d.ListenPeerUrls = (ImmutableArray<EtcdUrl>)v);
        table.Supported("listen-client-urls", FlagKind.Urls, "'http://localhost:2379'", ["List of URLs to listen on for client traffic."], (d, v) => d.ListenClientUrls = (ImmutableArray<EtcdUrl>)v);
        table.NotYet("max-snapshots", FlagKind.Uint, "'5'", ["Maximum number of snapshot files to retain (0 is unlimited)."]);
        table.NotYet("max-wals", FlagKind.Uint, "'5'", ["Maximum number of wal files to retain (0 is unlimited)."]);
        table.Supported("quota-backend-bytes", FlagKind.Int64, "'0'", ["Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)."], (d, v) => d.QuotaBackendBytes = (long)v);
        table.NotYet("backend-batch-interval", FlagKind.Duration, "''", ["BackendBatchInterval is the maximum time before commit the backend transaction."], defaults: ["0s"]);
        table.NotYet("backend-batch-limit", FlagKind.Int, "'0'", ["BackendBatchLimit is the maximum operations before commit the backend transaction."]);
        table.Supported("max-txn-ops", FlagKind.Uint, "'128'", ["Maximum number of operations permitted in a transaction."], (d, v) => d.MaxTxnOps = (ulong)v);
        table.Supported("max-request-bytes", FlagKind.Uint, "'1572864'", ["Maximum client request size in bytes the server will accept."], (d, v) => d.MaxRequestBytes = (ulong)v);
        table.NotYet("max-concurrent-streams", FlagKind.Uint32, "'math.MaxUint32'", ["Maximum concurrent streams that each client can open at a time."], defaults: ["4294967295"]);
        table.NotYet("grpc-keepalive-min-time", FlagKind.Duration, "'5s'", ["Minimum duration interval that a client should wait before pinging server."]);
        table.NotYet("grpc-keepalive-interval", FlagKind.Duration, "'2h'", ["Frequency duration of server-to-client ping to check if a connection is alive (0 to disable)."]);
        table.NotYet("grpc-keepalive-timeout", FlagKind.Duration, "'20s'", ["Additional duration of wait before closing a non-responsive connection (0 to disable)."]);

        table.Section = "Clustering";
        table.Supported("initial-advertise-peer-urls", FlagKind.Urls, "'http://localhost:2380'", ["List of this member's peer URLs to advertise to the rest of the cluster."], (d, v) => d.AdvertisePeerUrls = (ImmutableArray<EtcdUrl>)v);
        table.Supported("initial-cluster", FlagKind.String, "'default=http://localhost:2380'", ["Initial cluster configuration for bootstrapping."], (d, v) => d.InitialCluster = (string)v);
        table.Supported("initial-cluster-state", FlagKind.Choice, "'new'", ["Initial cluster state ('new' or 'existing')."], (d, v) => d.InitialClusterState = (string)v, choices: ["new", "existing"]);
        table.Supported("initial-cluster-token", FlagKind.String, "'etcd-cluster'", ["Initial cluster token for the etcd cluster during bootstrap.", "Specifying this can protect you from unintended cross-cluster interaction when running multiple clusters."], (d, v) => d.InitialClusterToken = (string)v);
        table.Supported("advertise-client-urls", FlagKind.Urls, "'http://localhost:2379'", ["List of this member's client URLs to advertise to the public.", "The client URLs advertised should be accessible to machines that talk to etcd cluster. etcd client libraries parse these URLs to connect to the cluster."], (d, v) => d.AdvertiseClientUrls = (ImmutableArray<EtcdUrl>)v);
        table.NotYet("discovery", FlagKind.String, "''", ["Discovery URL used to bootstrap the cluster."]);
        table.NotYet("discovery-fallback", FlagKind.Choice, "'proxy'", ["Expected behavior ('exit' or 'proxy') when discovery services fails.", "\"proxy\" supports v2 API only."], choices: ["proxy", "exit"]);
        table.NotYet("discovery-proxy", FlagKind.String, "''", ["HTTP proxy to use for traffic to discovery service."]);
        table.NotYet("discovery-srv", FlagKind.String, "''", ["DNS srv domain used to bootstrap the cluster."]);
        table.NotYet("discovery-srv-name", FlagKind.String, "''", ["Suffix to the dns srv name queried when bootstrapping."]);
        table.NotYet("strict-reconfig-check", FlagKind.Bool, "'true'", ["Reject reconfiguration requests that would cause quorum loss."]);
        table.NotYet("pre-vote", FlagKind.Bool, "'false'", ["Enable to run an additional Raft election phase."]);
        table.Supported("auto-compaction-retention", FlagKind.String, "'0'", ["Auto compaction retention length. 0 means disable auto compaction."], (d, v) => d.AutoCompactionRetention = (string)v);
        table.Supported("auto-compaction-mode", FlagKind.String, "'periodic'", ["Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention."], (d, v) => d.AutoCompactionMode = (string)v);
        table.NotYet("enable-v2", FlagKind.Bool, "'false'", ["Accept etcd V2 client requests."]);

        table.Section = "Security";
        table.Supported("cert-file", FlagKind.String, "''", ["Path to the client server TLS cert file."], (d, v) => d.CertFile = (string)v, configKey: "client-transport-security.cert-file");
        table.Supported("key-file", FlagKind.String, "''", ["Path to the client server TLS key file."], (d, v) => d.KeyFile = (string)v, configKey: "client-transport-security.key-file");
        table.Supported("client-cert-auth", FlagKind.Bool, "'false'", ["Enable client cert authentication."], (d, v) => d.ClientCertAuth = (bool)v, configKey: "client-transport-security.client-cert-auth");
        table.NotYet("client-crl-file", FlagKind.String, "''", ["Path to the client certificate revocation list file."], configKey: null);
        table.NotYet("client-cert-allowed-hostname", FlagKind.String, "''", ["Allowed TLS hostname for client cert authentication."], configKey: null);
        table.Supported("trusted-ca-file", FlagKind.String, "''", ["Path to the client server TLS trusted CA cert file."], (d, v) => d.TrustedCaFile = (string)v, configKey: "client-transport-security.trusted-ca-file");
        table.Supported("auto-tls", FlagKind.Bool, "'false'", ["Client TLS using generated certificates."], (d, v) => d.AutoTls = (bool)v, configKey: "client-transport-security.auto-tls");
        table.NotYet("peer-cert-file", FlagKind.String, "''", ["Path to the peer server TLS cert file."], configKey: "peer-transport-security.cert-file");
        table.NotYet("peer-key-file", FlagKind.String, "''", ["Path to the peer server TLS key file."], configKey: "peer-transport-security.key-file");
        table.NotYet("peer-client-cert-auth", FlagKind.Bool, "'false'", ["Enable peer client cert authentication."], configKey: "peer-transport-security.client-cert-auth");
        table.NotYet("peer-trusted-ca-file", FlagKind.String, "''", ["Path to the peer server TLS trusted CA file."], configKey: "peer-transport-security.trusted-ca-file");
        table.NotYet("peer-cert-allowed-cn", FlagKind.String, "''", ["Required CN for client certs connecting to the peer endpoint."], configKey: null);
        table.NotYet("peer-cert-allowed-hostname", FlagKind.String, "''", ["Allowed TLS hostname for inter peer authentication."], configKey: null);
        table.NotYet("peer-auto-tls", FlagKind.Bool, "'false'", ["Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided."], configKey: "peer-transport-security.auto-tls");
        table.NotYet("peer-crl-file", FlagKind.String, "''", ["Path to the peer certificate revocation list file."], configKey: null);
        table.NotYet("cipher-suites", FlagKind.Strings, "''", ["Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go)."], configKind: ConfigValueKind.StringList);
        table.NotYet("cors", FlagKind.Cors, "'*'", ["Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all)."], defaults: ["*", ""]);
        table.NotYet("host-whitelist", FlagKind.UniqueStrings, "'*'", ["Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all)."], defaults: ["*", ""]);

        table.Section = "Auth";
        table.NotYet("auth-token", FlagKind.String, "'simple'", ["Specify a v3 authentication token type and its options ('simple' or 'jwt')."]);
        table.NotYet("bcrypt-cost", FlagKind.Uint, "10", ["Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31."]);
        table.NotYet("auth-token-ttl", FlagKind.Uint, "300", ["Time (in seconds) of the auth-token-ttl."]);

        table.Section = "Profiling and Monitoring";
        table.NotYet("enable-pprof", FlagKind.Bool, "'false'", ["Enable runtime profiling data via HTTP server. Address is at client URL + \"/debug/pprof/\""]);
        table.NotYet("metrics", FlagKind.String, "'basic'", ["Set level of detail for exported metrics, specify 'extensive' to include histogram metrics."]);
        table.NotYet("listen-metrics-urls", FlagKind.Urls, "''", ["List of URLs to listen on for the metrics and health endpoints."]);

        table.Section = "Logging";
        table.Supported("logger", FlagKind.String, "'zap'", ["Specify 'zap' for structured logging. dotcd has no 'capnslog' (etcd deprecated it in v3.5)."], (d, v) => d.Logger = (string)v);
        table.Supported("log-outputs", FlagKind.UniqueStrings, "'default'", ["Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets."], (d, v) => d.LogOutputs = (ImmutableArray<string>)v, configKind: ConfigValueKind.StringList);
        table.Supported("log-level", FlagKind.String, "'info'", ["Configures log level. Only supports debug, info, warn, error, panic, or fatal."], (d, v) => d.LogLevel = (string)v);

        table.Section = "v2 Proxy (to be deprecated in v4)";
        table.NotYet("proxy", FlagKind.Choice, "'off'", ["Proxy mode setting ('off', 'readonly' or 'on')."], choices: ["off", "readonly", "on"]);
        table.NotYet("proxy-failure-wait", FlagKind.Uint, "5000", ["Time (in milliseconds) an endpoint will be held in a failed state."]);
        table.NotYet("proxy-refresh-interval", FlagKind.Uint, "30000", ["Time (in milliseconds) of the endpoints refresh interval."]);
        table.NotYet("proxy-dial-timeout", FlagKind.Uint, "1000", ["Time (in milliseconds) for a dial to timeout."]);
        table.NotYet("proxy-write-timeout", FlagKind.Uint, "5000", ["Time (in milliseconds) for a write to timeout."]);
        table.NotYet("proxy-read-timeout", FlagKind.Uint, "0", ["Time (in milliseconds) for a read to timeout."]);

        table.Section = "Experimental feature";
        table.NotYet("experimental-initial-corrupt-check", FlagKind.Bool, "'false'", ["Enable to check data corruption before serving any client/peer traffic."]);
        table.NotYet("experimental-corrupt-check-time", FlagKind.Duration, "'0s'", ["Duration of time between cluster corruption check passes."]);
        table.NotYet("experimental-enable-v2v3", FlagKind.String, "''", ["Serve v2 requests through the v3 backend under a given prefix."]);
        table.NotYet("experimental-backend-bbolt-freelist-type", FlagKind.String, "'array'", ["ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types)."], defaults: ["array", ""]);
        table.Supported("experimental-enable-lease-checkpoint", FlagKind.Bool, "'false'", ["ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases."], (d, v) => d.EnableLeaseCheckpoint = (bool)v);
        table.NotYet("experimental-compaction-batch-limit", FlagKind.Int, "1000", ["ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction batch."], defaults: ["1000", "0"]);
        table.NotYet("experimental-peer-skip-client-san-verification", FlagKind.Bool, "'false'", ["Skip verification of SAN field in client certificate for peer connections."], configKey: null);
        table.Supported("experimental-watch-progress-notify-interval", FlagKind.Duration, "'10m'", ["Duration of periodical watch progress notification."], (d, v) => d.WatchProgressNotifyInterval = (TimeSpan)v);
        table.NotYet("experimental-warning-apply-duration", FlagKind.Duration, "'100ms'", ["Warning is generated if requests take more than this duration."]);

        table.Section = "Unsafe feature";
        table.NotYet("force-new-cluster", FlagKind.Bool, "'false'", ["Force to create a new one-member cluster."]);

        table.Section = "TO BE DEPRECATED";
        table.NotYet("debug", FlagKind.Bool, "'false'", ["Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use '--log-level=debug' instead."]);
        table.NotYet("log-package-levels", FlagKind.String, "''", ["Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG')."]);

        // Accepted by etcd 3.4 but absent from its --help.
        table.Section = "";
        table.Supported(ConfigFileFlag, FlagKind.String, "''", ["Path to the server configuration file."], (d, v) => { }, configKey: null, hidden: true);
        table.Supported(VersionFlag, FlagKind.Bool, "'false'", ["Print the version and exit."], (d, v) => { }, configKey: null, hidden: true);
        table.NotYet("log-output", FlagKind.UniqueStrings, "'default'", ["[TO BE DEPRECATED IN v3.5] use '--log-outputs'."], configKind: ConfigValueKind.StringList, hidden: true);
        table.NotYet("enable-grpc-gateway", FlagKind.Bool, "'true'", ["Enable GRPC gateway."], hidden: true);
        table.NotYet("experimental-enable-lease-checkpoint-persist", FlagKind.Bool, "'false'", ["Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases."], hidden: true);
        table.NotYet("unsafe-no-fsync", FlagKind.Bool, "'false'", ["Disables fsync, unsafe, will cause data loss."], hidden: true);

        // etcd's removed flags: it warns "flag ... is no longer supported - ignoring" and goes on.
        foreach (string name in (string[])[
            "cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force",
            "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout",
            "retry-interval", "snapshot", "v", "vv", "test.coverprofile", "test.outputdir"])
        {
            table.Add(new FlagSpec
            {
                Name = name,
                Kind = FlagKind.Ignored,
                Support = FlagSupport.Ignored,
                Section = "",
                HelpDefault = "",
                Description = [],
                Hidden = true,
            });
        }

        return table.ToImmutable();
    }

    private sealed class Table
    {
        private readonly ImmutableArray<FlagSpec>.Builder _flags = ImmutableArray.CreateBuilder<FlagSpec>();

        public string Section { get; set; } = "";

        public void Supported(
            string name, FlagKind kind, string helpDefault, string[] description, Action<ConfigDraft, object> apply,
            string[]? defaults = null, string[]? choices = null, string? configKey = "", ConfigValueKind? configKind = null, bool hidden = false) =>
            Add(Spec(name, kind, FlagSupport.Supported, helpDefault, description, apply, defaults, choices, configKey, configKind, hidden));

        public void NotYet(
            string name, FlagKind kind, string helpDefault, string[] description,
            string[]? defaults = null, string[]? choices = null, string? configKey = "", ConfigValueKind? configKind = null, bool hidden = false) =>
            Add(Spec(name, kind, FlagSupport.NotYet, helpDefault, description, null, defaults, choices, configKey, configKind, hidden));

        public void Add(FlagSpec flag) => _flags.Add(flag);

        public ImmutableArray<FlagSpec> ToImmutable() => _flags.ToImmutable();

        // configKey "" means "the flag's own name"; null means "not in the config file".
        private FlagSpec Spec(
            string name, FlagKind kind, FlagSupport support, string helpDefault, string[] description, Action<ConfigDraft, object>? apply,
            string[]? defaults, string[]? choices, string? configKey, ConfigValueKind? configKind, bool hidden)
        {
            string? key = configKey == "" ? name : configKey;
            ConfigValueKind valueKind = key is null ? ConfigValueKind.None : configKind ?? kind switch
            {
                FlagKind.Bool => ConfigValueKind.Bool,
                FlagKind.Uint or FlagKind.Uint32 or FlagKind.Uint64 or FlagKind.Int or FlagKind.Int64 => ConfigValueKind.Number,
                FlagKind.Duration => ConfigValueKind.Duration,
                _ => ConfigValueKind.String,
            };
            return new FlagSpec
            {
                Name = name,
                Kind = kind,
                Support = support,
                Section = Section,
                HelpDefault = helpDefault,
                Description = [.. description],
                DefaultValues = [.. defaults ?? [Unquote(helpDefault)]],
                Choices = [.. choices ?? []],
                Hidden = hidden,
                ConfigKey = key,
                ConfigKind = valueKind,
                Apply = apply,
            };
        }

        private static string Unquote(string text) =>
            text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' ? text[1..^1] : text;
    }
}
