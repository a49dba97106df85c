namespace Dotcd.Server.RaftLoop;

/// <summary>
/// The consensus engine's counters with etcd's metric meanings (etcdserver/metrics.go); the
/// metrics endpoint reads them. Gauges are set, counters only grow.
/// </summary>
public sealed class RaftMetrics
{
    private long _leaderChanges;
    private long _proposalsCommitted;
    private long _proposalsApplied;
    private long _proposalsPending;
    private long _proposalsFailed;
    private long _slowReadIndex;
    private long _readIndexFailed;
    private long _snapshotsSaved;

    /// <summary>etcd_server_leader_changes_seen_total: times a new leader was seen (counter).</summary>
    public long LeaderChangesSeen => Interlocked.Read(ref _leaderChanges);

    /// <summary>etcd_server_proposals_committed_total: the raft commit index (gauge, as etcd sets it).</summary>
    public long ProposalsCommitted => Interlocked.Read(ref _proposalsCommitted);

    /// <summary>etcd_server_proposals_applied_total: the applied index (gauge, as etcd sets it).</summary>
    public long ProposalsApplied => Interlocked.Read(ref _proposalsApplied);

    /// <summary>etcd_server_proposals_pending: proposals accepted by raft and not yet answered (gauge).</summary>
    public long ProposalsPending => Interlocked.Read(ref _proposalsPending);

    /// <summary>etcd_server_proposals_failed_total: proposals that failed or timed out (counter).</summary>
    public long ProposalsFailed => Interlocked.Read(ref _proposalsFailed);

    /// <summary>etcd_server_slow_read_indexes_total.</summary>
    public long SlowReadIndex => Interlocked.Read(ref _slowReadIndex);

    /// <summary>etcd_server_read_indexes_failed_total.</summary>
    public long ReadIndexFailed => Interlocked.Read(ref _readIndexFailed);

    /// <summary>Raft snapshots saved by this member (etcd logs them; no metric of its own).</summary>
    public long SnapshotsSaved => Interlocked.Read(ref _snapshotsSaved);

    /// <summary>etcd_disk_wal_fsync_duration_seconds (and snapshot file syncs, which the storage reports through the same hook).</summary>
    public DurationHistogram WalFsyncDurations { get; } = DurationHistogram.ForWalFsync();

    internal void LeaderChanged() => Interlocked.Increment(ref _leaderChanges);
    internal void SetCommitted(ulong index) => Interlocked.Exchange(ref _proposalsCommitted, (long)index);
    internal void SetApplied(ulong index) => Interlocked.Exchange(ref _proposalsApplied, (long)index);
    internal void PendingAdded() => Interlocked.Increment(ref _proposalsPending);
    internal void PendingRemoved() => Interlocked.Decrement(ref _proposalsPending);
    internal void ProposalFailed() => Interlocked.Increment(ref _proposalsFailed);
    internal void ReadIndexWasSlow() => Interlocked.Increment(ref _slowReadIndex);
    internal void ReadIndexHasFailed() => Interlocked.Increment(ref _readIndexFailed);
    internal void SnapshotSaved() => Interlocked.Increment(ref _snapshotsSaved);
}
