namespace Dotcd.Mvcc.Watch;

/// <summary>What a stream's sender turns into one WatchResponse (or one per watcher for events).</summary>
public enum WatchOutputKind : byte
{
    /// <summary>Events of one revision for one or more watchers of the stream.</summary>
    Events,
    /// <summary>The watch exists: created = true.</summary>
    Created,
    /// <summary>The create failed: created = canceled = true, watch_id = -1, cancel_reason.</summary>
    CreateFailed,
    /// <summary>The client canceled the watch: canceled = true.</summary>
    Canceled,
    /// <summary>History the watch needs is compacted: canceled = true with compact_revision; the watch is gone.</summary>
    Compacted,
    /// <summary>An empty response: every event up to Revision was delivered (watch_id -1 for a progress_request).</summary>
    Progress,
}

/// <summary>One item of a stream's queue, in the order the client must see it.</summary>
public sealed class WatchOutput
{
    private WatchOutput(WatchOutputKind kind, long watchId, long revision)
    {
        Kind = kind;
        WatchId = watchId;
        Revision = revision;
    }

    public WatchOutputKind Kind { get; }

    /// <summary>The watch the response belongs to (-1 for failed creates and stream-wide progress).</summary>
    public long WatchId { get; }

    /// <summary>header.revision of the response (0 for Compacted, as etcd sends it).</summary>
    public long Revision { get; }

    /// <summary>Compacted: the compaction revision that ended the watch.</summary>
    public long CompactRevision { get; private init; }

    /// <summary>CreateFailed: etcd's reason text.</summary>
    public string? Reason { get; private init; }

    /// <summary>Events: the shared events of the revision.</summary>
    public RevisionEvents? Events { get; private init; }

    /// <summary>Events: the stream's watchers owed some of them (each gets the ones it matches).</summary>
    public Watcher[]? Watchers { get; private init; }

    /// <summary>Events from history (catch-up): per watcher, aligned with <see cref="Watchers"/>, the
    /// revisions it is owed, sent as one response at <see cref="Revision"/> as etcd's syncWatchers
    /// does; null for a live revision, where every watcher shares <see cref="Events"/>.</summary>
    public RevisionEvents[][]? History { get; private init; }

    /// <summary>The revisions whose matching events watcher number i of <see cref="Watchers"/> gets.</summary>
    public RevisionEvents[] RevisionsFor(int i) => History?[i] ?? [Events!];

    internal static WatchOutput ForEvents(RevisionEvents events, Watcher[] watchers) =>
        new(WatchOutputKind.Events, -1, events.Revision) { Events = events, Watchers = watchers };

    internal static WatchOutput ForHistory(long revision, Watcher[] watchers, RevisionEvents[][] history) =>
        new(WatchOutputKind.Events, -1, revision) { Watchers = watchers, History = history };

    internal static WatchOutput Created(long id, long revision) => new(WatchOutputKind.Created, id, revision);

    internal static WatchOutput CreateFailed(string reason, long revision) =>
        new(WatchOutputKind.CreateFailed, -1, revision) { Reason = reason };

    internal static WatchOutput Canceled(long id, long revision) => new(WatchOutputKind.Canceled, id, revision);

    internal static WatchOutput Compacted(long id, long compactRevision) =>
        new(WatchOutputKind.Compacted, id, 0) { CompactRevision = compactRevision };

    internal static WatchOutput Progress(long id, long revision) => new(WatchOutputKind.Progress, id, revision);

    public override string ToString() => Kind switch
    {
        WatchOutputKind.Events => $"events@{Revision} x{Watchers!.Length}",
        WatchOutputKind.Compacted => $"compacted {WatchId} at {CompactRevision}",
        _ => $"{Kind} {WatchId}@{Revision}",
    };
}
