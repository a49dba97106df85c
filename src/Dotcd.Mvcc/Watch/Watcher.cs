using Dotcd.Api.Mvccpb;

namespace Dotcd.Mvcc.Watch;

/// <summary>What a watcher asked for besides its key range (etcd's WatchCreateRequest options).</summary>
[Flags]
public enum WatchOptions : byte
{
    None = 0,
    /// <summary>Filter out PUT events (etcd's NOPUT filter).</summary>
    NoPut = 1,
    /// <summary>Filter out DELETE events (etcd's NODELETE filter).</summary>
    NoDelete = 2,
    /// <summary>Events carry the key's previous value.</summary>
    PrevKv = 4,
    /// <summary>An idle synced watcher gets an empty response each progress interval.</summary>
    ProgressNotify = 8,
    /// <summary>The client accepts one revision split over several responses.</summary>
    Fragment = 16,
}

/// <summary>One watch on a stream: a key range, the next revision it is owed, its options.</summary>
/// <remarks>
/// Kept small on purpose (etcd measures about 350 bytes per watching): the key arrays belong to
/// the request, everything else is a handful of words. All mutable state is guarded by the
/// <see cref="WatchableStore"/>'s lock.
/// </remarks>
public sealed class Watcher
{
    internal readonly WatchStream Stream;
    internal readonly byte[] Key;
    internal readonly byte[]? End;   // null: the single Key; empty: every key >= Key; else [Key, End).

    // Invariant: every event of a revision below NextRev that this watcher matches is queued on
    // its stream (or was sent); none at or above NextRev is. Synced watchers may lag NextRev
    // behind the store's revision when nothing matched; the fan-out fixes it up lazily.
    internal long NextRev;
    internal long LastMatchedRev;    // Fan-out scratch: the revision this watcher was last collected for.
    internal int SyncPass;           // Catch-up scratch: the pass this unsynced watcher belongs to.
    internal bool Synced;            // In the synced index (else in the unsynced index, or removed).
    internal bool Removed;
    internal bool EventsSinceProgress;

    internal Watcher(WatchStream stream, long id, byte[] key, byte[]? end, long nextRev, WatchOptions options)
    {
        Stream = stream;
        Id = id;
        Key = key;
        End = end;
        NextRev = nextRev;
        Options = options;
    }

    /// <summary>The watch ID on its stream.</summary>
    public long Id { get; }

    public WatchOptions Options { get; }

    public bool WantsPrevKv => (Options & WatchOptions.PrevKv) != 0;

    public bool WantsFragment => (Options & WatchOptions.Fragment) != 0;

    /// <summary>True when the event's key is in range and its type is not filtered out.</summary>
    public bool Matches(WatchEvent e) => PassesFilter(e.IsDelete) && Covers(e.Key);

    internal bool PassesFilter(bool isDelete) =>
        (Options & (isDelete ? WatchOptions.NoDelete : WatchOptions.NoPut)) == 0;

    internal bool Covers(ReadOnlySpan<byte> key)
    {
        if (End is null)
        {
            return key.SequenceEqual(Key);
        }
        if (key.SequenceCompareTo(Key) < 0)
        {
            return false;
        }
        return End.Length == 0 || key.SequenceCompareTo(End) < 0;
    }

    internal static bool IsCreate(Event e) => e.Type == Event.Types.EventType.Put && e.Kv.CreateRevision == e.Kv.ModRevision;
}
