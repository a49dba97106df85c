using Dotcd.Server.Metrics;

namespace Dotcd.Server.Services;

/// <summary>Everything the etcd gRPC services need from a member, and their limits.</summary>
public sealed class EtcdServiceOptions
{
    public required IMemberState Member { get; init; }

    public required IConsensus Consensus { get; init; }

    public required IKvReader Kv { get; init; }

    public required IBackendMaintenance Backend { get; init; }

    public required IAlarmList Alarms { get; init; }

    public required IClusterMembers Cluster { get; init; }

    /// <summary>The member's leases; null leaves the Lease service answering Unimplemented.</summary>
    public ILeases? Leases { get; init; }

    /// <summary>The member's watchable store; null leaves the Watch service answering Unimplemented.</summary>
    public Mvcc.Watch.WatchableStore? Watch { get; init; }

    /// <summary>--max-request-bytes: watch responses larger than this are fragmented when the watcher allows.</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>How often a "hasleader" watch stream checks for a leader (etcd: the election timeout).</summary>
    public TimeSpan LeaderCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>--max-txn-ops: operations per txn branch (etcd's default 128).</summary>
    public int MaxTxnOps { get; init; } = 128;

    /// <summary>--quota-backend-bytes, reported as Status.dbSizeQuota (etcd's default 2 GiB).</summary>
    public long QuotaBackendBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>The version Status reports.</summary>
    public string ServerVersion { get; init; } = EtcdVersion.Server;

    /// <summary>Where grpc_server_* and etcd_server_client_requests_total are counted; null: no metrics.</summary>
    public MetricsRegistry? Registry { get; init; }
}
