using Dotcd.Raft;
using Dotcd.Storage;

namespace Dotcd.Server.Composition;

/// <summary>How auto compaction picks its revision (--auto-compaction-mode).</summary>
public enum AutoCompaction
{
    /// <summary>No automatic compaction (--auto-compaction-retention 0).</summary>
    None,

    /// <summary>Keep a window of time (etcd's periodic compactor).</summary>
    Periodic,

    /// <summary>Keep a number of revisions (etcd's revision compactor).</summary>
    Revision,
}

/// <summary>TLS of the client listeners: PEM files as etcd's --cert-file, --key-file, --trusted-ca-file take them.</summary>
public sealed record ClientTls(string CertFile, string KeyFile, string TrustedCaFile = "", bool ClientCertAuth = false);

/// <summary>
/// Everything a member needs to start, as plain values: the host turns etcd's flags
/// (MemberConfig) into this, tests build it directly. Defaults are etcd's.
/// </summary>
public sealed record EtcdMemberOptions
{
    /// <summary>--name.</summary>
    public string Name { get; init; } = "default";

    /// <summary>--data-dir: holds member/wal, member/snap and the backend member/snap/db.</summary>
    public required string DataDir { get; init; }

    /// <summary>--wal-dir; empty: data-dir/member/wal.</summary>
    public string WalDir { get; init; } = "";

    /// <summary>--snapshot-count.</summary>
    public ulong SnapshotCount { get; init; } = 100_000;

    /// <summary>--heartbeat-interval: one raft tick.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>--election-timeout in ticks.</summary>
    public int ElectionTicks { get; init; } = 10;

    /// <summary>--listen-client-urls ("http://127.0.0.1:0" picks a free port; see <see cref="EtcdMember.ClientUrls"/>).</summary>
    public IReadOnlyList<string> ListenClientUrls { get; init; } = ["http://localhost:2379"];

    /// <summary>--advertise-client-urls: what member list reports as clientURLs.</summary>
    public IReadOnlyList<string> AdvertiseClientUrls { get; init; } = ["http://localhost:2379"];

    /// <summary>--initial-advertise-peer-urls: this member's peer URLs (they give its ID).</summary>
    public IReadOnlyList<string> InitialAdvertisePeerUrls { get; init; } = ["http://localhost:2380"];

    /// <summary>--initial-cluster parsed: member name to peer URLs. Empty: this member alone.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> PeerUrls)> InitialCluster { get; init; } = [];

    /// <summary>--initial-cluster-token.</summary>
    public string InitialClusterToken { get; init; } = "etcd-cluster";

    /// <summary>--initial-cluster-state new (true) or existing.</summary>
    public bool InitialClusterStateNew { get; init; } = true;

    /// <summary>The quota in force (--quota-backend-bytes after etcd's defaulting); null: no quota.</summary>
    public long? QuotaBackendBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>--max-request-bytes.</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>--max-txn-ops.</summary>
    public int MaxTxnOps { get; init; } = 128;

    public AutoCompaction AutoCompactionMode { get; init; } = AutoCompaction.None;

    /// <summary>Periodic mode: the window of history kept.</summary>
    public TimeSpan AutoCompactionPeriod { get; init; }

    /// <summary>Revision mode: how many revisions are kept.</summary>
    public long AutoCompactionRevisions { get; init; }

    /// <summary>--experimental-enable-lease-checkpoint: the leader checkpoints remaining TTLs through raft.</summary>
    public bool EnableLeaseCheckpoint { get; init; }

    /// <summary>Between checkpoints of a lease's remaining TTL (etcd's LeaseCheckpointInterval, 5 minutes; no flag in 3.4).</summary>
    public TimeSpan LeaseCheckpointInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>--experimental-watch-progress-notify-interval: idle progress_notify watchers hear from us this often.</summary>
    public TimeSpan WatchProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Client TLS; null serves cleartext (h2c and HTTP/1.1 on one port).</summary>
    public ClientTls? ClientTls { get; init; }

    /// <summary>Clock for raft ticks, request timeouts and the compactor.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Election randomness; null seeds from the OS.</summary>
    public IRaftRandom? Random { get; init; }

    /// <summary>Where the member logs etcd's milestones.</summary>
    public IStorageLog Logger { get; init; } = StorageLog.None;

    /// <summary>Where raft logs its decisions (role changes).</summary>
    public IRaftLogger RaftLogger { get; init; } = NullRaftLogger.Instance;

    /// <summary>How long to wait for in-flight calls at a graceful stop before closing connections.</summary>
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    internal string MemberDir => Path.Combine(DataDir, "member");

    internal string SnapDir => Path.Combine(MemberDir, "snap");

    internal string EffectiveWalDir => WalDir.Length > 0 ? WalDir : Path.Combine(MemberDir, "wal");

    /// <summary>The backend file, where etcd keeps its bbolt file.</summary>
    internal string BackendPath => Path.Combine(SnapDir, "db");

    internal IReadOnlyList<(string Name, IReadOnlyList<string> PeerUrls)> EffectiveInitialCluster =>
        InitialCluster.Count > 0 ? InitialCluster : [(Name, InitialAdvertisePeerUrls)];
}
