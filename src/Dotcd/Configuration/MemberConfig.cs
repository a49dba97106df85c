using System.Collections.Immutable;
using Dotcd.Logging;

namespace Dotcd.Configuration;

/// <summary>--initial-cluster-state.</summary>
public enum InitialClusterState
{
    New,
    Existing,
}

/// <summary>--auto-compaction-mode.</summary>
public enum AutoCompactionMode
{
    /// <summary>Keep a window of time ("1h"; a bare integer counts hours).</summary>
    Periodic,

    /// <summary>Keep a number of revisions.</summary>
    Revision,
}

/// <summary>TLS settings of the client listener (etcd's client-transport-security).</summary>
public sealed record TransportSecurity
{
    public static TransportSecurity None { get; } = new();

    public string CertFile { get; init; } = "";

    public string KeyFile { get; init; } = "";

    public string TrustedCaFile { get; init; } = "";

    /// <summary>Require and verify client certificates against <see cref="TrustedCaFile"/>.</summary>
    public bool ClientCertAuth { get; init; }

    /// <summary>Generate a self-signed certificate when none is given.</summary>
    public bool AutoTls { get; init; }

    /// <summary>True when a certificate and key are configured (etcd's TLSInfo.Empty() is false).</summary>
    public bool HasCertificate => CertFile.Length > 0 && KeyFile.Length > 0;
}

/// <summary>
/// A member's configuration after flags, ETCD_* variables or the config file, with etcd's
/// defaults and etcd's validation applied. Immutable; tests build variants with <c>with</c>.
/// Defaults equal etcd 3.4's except the data directory (<c>${name}.dotcd</c>) and the
/// logger (zap, the only one dotcd has).
/// </summary>
public sealed record MemberConfig
{
    /// <summary>The quota that --quota-backend-bytes 0 stands for: 2 GiB.</summary>
    public const long DefaultQuotaBackendBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>etcd refuses an election timeout above this.</summary>
    public const long MaxElectionTimeoutMilliseconds = 50_000;

    public static MemberConfig Default { get; } = new();

    // Member.

    /// <summary>--name: human-readable member name.</summary>
    public string Name { get; init; } = "default";

    /// <summary>--data-dir: <c>${name}.dotcd</c> when not given.</summary>
    public string DataDir { get; init; } = "default.dotcd";

    /// <summary>--wal-dir: a dedicated WAL directory; empty means inside <see cref="DataDir"/>.</summary>
    public string WalDir { get; init; } = "";

    /// <summary>--snapshot-count: committed entries between snapshots.</summary>
    public long SnapshotCount { get; init; } = 100_000;

    /// <summary>--heartbeat-interval (milliseconds in flags): one Raft tick.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>--election-timeout (milliseconds in flags).</summary>
    public TimeSpan ElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>Election timeout in heartbeat ticks, as etcd hands it to Raft.</summary>
    public int ElectionTicks => (int)(ElectionTimeout.Ticks / HeartbeatInterval.Ticks);

    /// <summary>--listen-peer-urls.</summary>
    public ImmutableArray<EtcdUrl> ListenPeerUrls { get; init; } = EtcdUrl.ParseList("http://localhost:2380");

    /// <summary>--listen-client-urls.</summary>
    public ImmutableArray<EtcdUrl> ListenClientUrls { get; init; } = EtcdUrl.ParseList("http://localhost:2379");

    /// <summary>--quota-backend-bytes as given: 0 means <see cref="DefaultQuotaBackendBytes"/>, negative disables the quota.</summary>
    public long QuotaBackendBytes { get; init; }

    /// <summary>The quota in force: null when disabled.</summary>
    public long? EffectiveQuotaBackendBytes => QuotaBackendBytes switch
    {
        0 => DefaultQuotaBackendBytes,
        < 0 => null,
        _ => QuotaBackendBytes,
    };

    /// <summary>--max-request-bytes: largest client request accepted.</summary>
    public long MaxRequestBytes { get; init; } = 1_572_864;

    /// <summary>--max-txn-ops: most operations in one Txn.</summary>
    public long MaxTxnOps { get; init; } = 128;

    // Clustering.

    /// <summary>--initial-advertise-peer-urls.</summary>
    public ImmutableArray<EtcdUrl> InitialAdvertisePeerUrls { get; init; } = EtcdUrl.ParseList("http://localhost:2380");

    /// <summary>--advertise-client-urls.</summary>
    public ImmutableArray<EtcdUrl> AdvertiseClientUrls { get; init; } = EtcdUrl.ParseList("http://localhost:2379");

    /// <summary>--initial-cluster as given ("name=url,name=url"); when left at etcd's default it follows --name.</summary>
    public string InitialCluster { get; init; } = "default=http://localhost:2380";

    /// <summary><see cref="InitialCluster"/> parsed: member name to its peer URLs (sorted).</summary>
    public ImmutableSortedDictionary<string, ImmutableArray<EtcdUrl>> InitialClusterMembers { get; init; } =
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("default", EtcdUrl.ParseList("http://localhost:2380"))]);

    /// <summary>--initial-cluster-state.</summary>
    public InitialClusterState InitialClusterState { get; init; } = InitialClusterState.New;

    /// <summary>--initial-cluster-token.</summary>
    public string InitialClusterToken { get; init; } = "etcd-cluster";

    /// <summary>--auto-compaction-mode.</summary>
    public AutoCompactionMode AutoCompactionMode { get; init; } = AutoCompactionMode.Periodic;

    /// <summary>--auto-compaction-retention as given; "0" disables auto compaction.</summary>
    public string AutoCompactionRetention { get; init; } = "0";

    /// <summary>Periodic mode: the window kept ("1h"; a bare integer counts hours). Zero: disabled.</summary>
    public TimeSpan AutoCompactionRetentionPeriod { get; init; }

    /// <summary>Revision mode: how many revisions are kept. Zero: disabled.</summary>
    public long AutoCompactionRetentionRevisions { get; init; }

    // Security.

    /// <summary>--cert-file, --key-file, --trusted-ca-file, --client-cert-auth, --auto-tls.</summary>
    public TransportSecurity ClientTransportSecurity { get; init; } = TransportSecurity.None;

    // Logging.

    /// <summary>--logger: always "zap" (capnslog is refused).</summary>
    public string Logger { get; init; } = "zap";

    /// <summary>--log-level.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Info;

    /// <summary>--log-outputs: "default" (stderr), "stderr", "stdout" or file paths.</summary>
    public ImmutableArray<string> LogOutputs { get; init; } = [Logging.LogOutputs.Default];

    // Experimental.

    /// <summary>--experimental-watch-progress-notify-interval.</summary>
    public TimeSpan WatchProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>--experimental-enable-lease-checkpoint: the leader checkpoints remaining TTLs.</summary>
    public bool EnableLeaseCheckpoint { get; init; }

    /// <summary>--config-file that produced this configuration; empty when flags and environment did.</summary>
    public string ConfigFile { get; init; } = "";

    /// <summary>The member directory inside the data directory (etcd's "member").</summary>
    public string MemberDir => Path.Combine(DataDir, "member");

    /// <summary>The WAL directory in use: <see cref="WalDir"/> or the member directory's "wal".</summary>
    public string EffectiveWalDir => WalDir.Length > 0 ? WalDir : Path.Combine(MemberDir, "wal");
}
