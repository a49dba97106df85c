namespace Dotcd.Storage;

/// <summary>How a WAL writes.</summary>
public sealed record WalOptions
{
    /// <summary>Size segments are preallocated to; a segment is closed once a Save takes it past this size.</summary>
    public long SegmentSizeBytes { get; init; } = 64L * 1024 * 1024;

    public IStorageLog Log { get; init; } = StorageLog.None;

    /// <summary>
    /// Called after every fsync/fdatasync the WAL does (segment data, new segments, the directory)
    /// with its duration: the source of etcd_disk_wal_fsync_duration_seconds, and how tests count syncs.
    /// </summary>
    public Action<TimeSpan>? OnFsync { get; init; }

    /// <summary>Allocate the next segment on a thread-pool thread (etcd's file pipeline); false does it inline at rollover.</summary>
    public bool PrepareSegmentsInBackground { get; init; } = true;

    /// <summary>etcd's --unsafe-no-fsync: never fsync. Loses acknowledged writes on power loss; for tests and benchmarks only.</summary>
    public bool UnsafeNoFsync { get; init; }
}
