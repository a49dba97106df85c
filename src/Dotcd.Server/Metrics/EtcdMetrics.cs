using Dotcd.Mvcc;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;

namespace Dotcd.Server.Metrics;

/// <summary>
/// Where etcd's server metrics read their values: the raft loop and the backend own the numbers,
/// the registry reads them at scrape time (etcd's GaugeFuncs do the same).
/// </summary>
public sealed record EtcdMetricSources
{
    /// <summary>This member's ID, for etcd_server_id{server_id="hex"}.</summary>
    public required ulong MemberId { get; init; }

    public required Func<bool> HasLeader { get; init; }

    public required Func<bool> IsLeader { get; init; }

    public Func<bool> IsLearner { get; init; } = static () => false;

    public required Func<long> LeaderChangesSeen { get; init; }

    /// <summary>The committed index (etcd exposes it under etcd_server_proposals_committed_total, as a gauge).</summary>
    public required Func<long> ProposalsCommitted { get; init; }

    /// <summary>The applied index (etcd_server_proposals_applied_total, a gauge).</summary>
    public required Func<long> ProposalsApplied { get; init; }

    public required Func<long> ProposalsPending { get; init; }

    public required Func<long> ProposalsFailed { get; init; }

    public Func<long> SlowReadIndexes { get; init; } = static () => 0;

    public Func<long> ReadIndexesFailed { get; init; } = static () => 0;

    /// <summary>etcd_disk_wal_fsync_duration_seconds, kept by the WAL's fsync hook.</summary>
    public required Func<HistogramSnapshot> WalFsyncDurations { get; init; }

    /// <summary>Backend file size (etcd_mvcc_db_total_size_in_bytes).</summary>
    public required Func<long> DbTotalSizeBytes { get; init; }

    /// <summary>Backend bytes in use (etcd_mvcc_db_total_size_in_use_in_bytes).</summary>
    public required Func<long> DbTotalSizeInUseBytes { get; init; }

    /// <summary>--quota-backend-bytes (etcd's default: 2 GiB).</summary>
    public long QuotaBackendBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>The version this member reports (etcd_server_version{server_version}).</summary>
    public string ServerVersion { get; init; } = EtcdVersion.Server;

    /// <summary>The cluster version as major.minor (etcd_cluster_version{cluster_version}); null: not decided yet.</summary>
    public string? ClusterVersion { get; init; } = EtcdVersion.ClusterMajorMinor;

    /// <summary>Reads a running member: the raft loop's counters and the MVCC store's sizes.</summary>
    public static EtcdMetricSources From(RaftNodeHost raft, MvccStore store, long quotaBackendBytes = 2L * 1024 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(raft);
        ArgumentNullException.ThrowIfNull(store);
        RaftMetrics m = raft.Metrics;
        return new EtcdMetricSources
        {
            MemberId = raft.MemberId,
            HasLeader = () => raft.Leader != 0,
            IsLeader = () => raft.IsLeader,
            IsLearner = () => raft.ConfState.Learners.Contains(raft.MemberId),
            LeaderChangesSeen = () => m.LeaderChangesSeen,
            ProposalsCommitted = () => m.ProposalsCommitted,
            ProposalsApplied = () => m.ProposalsApplied,
            ProposalsPending = () => m.ProposalsPending,
            ProposalsFailed = () => m.ProposalsFailed,
            SlowReadIndexes = () => m.SlowReadIndex,
            ReadIndexesFailed = () => m.ReadIndexFailed,
            WalFsyncDurations = () => Snapshot(m.WalFsyncDurations),
            DbTotalSizeBytes = () => store.SizeBytes,
            DbTotalSizeInUseBytes = () => store.SizeInUseBytes,
            QuotaBackendBytes = quotaBackendBytes,
        };
    }

    /// <summary>The raft loop's own histogram type, read as a snapshot.</summary>
    public static HistogramSnapshot Snapshot(DurationHistogram histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        return new HistogramSnapshot(histogram.UpperBoundsSeconds, histogram.CumulativeCounts(), histogram.Sum.TotalSeconds);
    }
}

/// <summary>
/// The metric set etcd's /metrics carries that dotcd can fill (names, HELP texts and bucket layouts
/// are etcd 3.4's: etcdserver/metrics.go, wal/metrics.go, mvcc/metrics.go, mvcc/backend/metrics.go,
/// etcdhttp, rafthttp). Values owned elsewhere are read through <see cref="EtcdMetricSources"/>; the
/// series this class hands out are recorded by whoever does the work.
/// </summary>
public sealed class EtcdMetrics
{
    /// <summary>etcd's disk latency buckets: 1 ms doubling up to 8.192 s (0.001 * 2^n, n in 0..13).</summary>
    public static readonly IReadOnlyList<double> DiskDurationBuckets = Histogram.ExponentialBuckets(0.001, 2, 14);

    /// <summary>etcd_network_peer_round_trip_time_seconds buckets: 0.1 ms doubling, 16 of them.</summary>
    public static readonly IReadOnlyList<double> PeerRoundTripBuckets = Histogram.ExponentialBuckets(0.0001, 2, 16);

    private EtcdMetrics(MetricsRegistry registry, EtcdMetricSources sources)
    {
        Registry = registry;
        registry.GaugeFunc("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
            () => sources.HasLeader() ? 1 : 0);
        registry.GaugeFunc("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            () => sources.IsLeader() ? 1 : 0);
        registry.GaugeFunc("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.",
            () => sources.IsLearner() ? 1 : 0);
        registry.CounterFunc("etcd_server_leader_changes_seen_total", "The number of leader changes seen.",
            () => sources.LeaderChangesSeen());
        // etcd declares these two as gauges set to the raft indexes, despite the _total suffix.
        registry.GaugeFunc("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
            () => sources.ProposalsCommitted());
        registry.GaugeFunc("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.",
            () => sources.ProposalsApplied());
        registry.GaugeFunc("etcd_server_proposals_pending", "The current number of pending proposals to commit.",
            () => sources.ProposalsPending());
        registry.CounterFunc("etcd_server_proposals_failed_total", "The total number of failed proposals seen.",
            () => sources.ProposalsFailed());
        registry.CounterFunc("etcd_server_slow_read_indexes_total",
            "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
            () => sources.SlowReadIndexes());
        registry.CounterFunc("etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen.",
            () => sources.ReadIndexesFailed());
        registry.Gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.")
            .Set(sources.QuotaBackendBytes);
        registry.GaugeVec("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.",
            "server_version").WithLabels(sources.ServerVersion).Set(1);
        registry.GaugeVec("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
            "server_id").WithLabels(MemberIds.ToHex(sources.MemberId)).Set(1);
        MetricVec<Gauge> clusterVersion = registry.GaugeVec("etcd_cluster_version",
            "Which version is running. 1 for 'cluster_version' label with current cluster version", "cluster_version");
        if (sources.ClusterVersion is { } cluster)
        {
            clusterVersion.WithLabels(cluster).Set(1);
        }

        registry.HistogramFunc("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.",
            sources.WalFsyncDurations);
        BackendCommitDurations = registry.Histogram("etcd_disk_backend_commit_duration_seconds",
            "The latency distributions of commit called by backend.", DiskDurationBuckets);
        registry.GaugeFunc("etcd_mvcc_db_total_size_in_bytes",
            "Total size of the underlying database physically allocated in bytes.", () => sources.DbTotalSizeBytes());
        registry.GaugeFunc("etcd_mvcc_db_total_size_in_use_in_bytes",
            "Total size of the underlying database logically in use in bytes.", () => sources.DbTotalSizeInUseBytes());

        PeerRoundTripTime = registry.HistogramVec("etcd_network_peer_round_trip_time_seconds",
            "Round-Trip-Time histogram between peers", PeerRoundTripBuckets, "To");

        HealthSuccess = registry.Counter("etcd_server_health_success", "The total number of successful health checks");
        HealthFailures = registry.Counter("etcd_server_health_failures", "The total number of failed health checks");
        HealthCheck = registry.GaugeVec("etcd_server_healthcheck", "The result of each kind of healthcheck.", "type", "name");
        HealthChecks = registry.CounterVec("etcd_server_healthchecks_total", "The total number of each kind of healthcheck.",
            "type", "name", "status");
    }

    public MetricsRegistry Registry { get; }

    /// <summary>etcd_disk_backend_commit_duration_seconds: the apply loop observes each backend commit.</summary>
    public Histogram BackendCommitDurations { get; }

    /// <summary>etcd_network_peer_round_trip_time_seconds{To}: the peer transport observes its probes (no peers yet).</summary>
    public MetricVec<Histogram> PeerRoundTripTime { get; }

    /// <summary>etcd_server_health_success: /health answered healthy.</summary>
    public Counter HealthSuccess { get; }

    /// <summary>etcd_server_health_failures: /health answered unhealthy.</summary>
    public Counter HealthFailures { get; }

    /// <summary>etcd_server_healthcheck{type,name}: 1 when the last livez/readyz check of that name passed.</summary>
    public MetricVec<Gauge> HealthCheck { get; }

    /// <summary>etcd_server_healthchecks_total{type,name,status}.</summary>
    public MetricVec<Counter> HealthChecks { get; }

    /// <summary>Registers etcd's server metrics in registry, reading values from sources.</summary>
    public static EtcdMetrics Register(MetricsRegistry registry, EtcdMetricSources sources)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(sources);
        return new EtcdMetrics(registry, sources);
    }
}
