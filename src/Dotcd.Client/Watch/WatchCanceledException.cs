namespace Dotcd.Client;

/// <summary>
/// The server ended a watch: its history was compacted (<see cref="CompactRevision"/> is set), or it
/// refused or cancelled the watch for <see cref="CancelReason"/>. The watch is over; a caller that
/// wants to go on starts a new one (from <see cref="CompactRevision"/> after a compaction, having
/// re-read the state it lost).
/// </summary>
public sealed class WatchCanceledException : Exception
{
    /// <summary>clientv3's text for a watch whose start revision was compacted away.</summary>
    public const string CompactedMessage = "etcdserver: mvcc: required revision has been compacted";

    public WatchCanceledException(string cancelReason, long compactRevision)
        : base(compactRevision > 0 ? CompactedMessage : cancelReason.Length > 0 ? cancelReason : "etcdserver: watch canceled")
    {
        CancelReason = cancelReason;
        CompactRevision = compactRevision;
    }

    /// <summary>The oldest revision still in history when the watch was cancelled for compaction; 0 otherwise.</summary>
    public long CompactRevision { get; }

    /// <summary>The server's reason, when it gave one.</summary>
    public string CancelReason { get; }

    public bool IsCompacted => CompactRevision > 0;
}
