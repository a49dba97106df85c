namespace Dotcd.Mvcc.Watch;

/// <summary>Watch fan-out tuning; defaults follow etcd's.</summary>
public sealed record WatchableStoreOptions
{
    /// <summary>Revisions of events a stream may have queued before its watchers are moved aside
    /// and caught up from history (etcd's chanBufLen).</summary>
    public int StreamBufferRevisions { get; init; } = 128;

    /// <summary>Unsynced watchers caught up per pass (etcd's maxWatchersPerSync).</summary>
    public int SyncBatchWatchers { get; init; } = 512;

    /// <summary>Changes read from history per pass; a revision is never split.</summary>
    public int SyncBatchChanges { get; init; } = 1000;

    /// <summary>How often watchers waiting for a full stream are retried (etcd's 100 ms sync loop).</summary>
    public TimeSpan SyncRetryInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>--experimental-watch-progress-notify-interval: idle synced progress_notify watchers
    /// get an empty response this often; zero or less turns it off.</summary>
    public TimeSpan ProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The clock of the progress-notify timer.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
