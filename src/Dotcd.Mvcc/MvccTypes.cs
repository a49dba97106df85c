using Dotcd.Api.Mvccpb;

namespace Dotcd.Mvcc;

/// <summary>Expected outcomes of MVCC calls (etcd's mvcc errors as values).</summary>
public enum MvccStatus
{
    Ok,
    /// <summary>"mvcc: required revision has been compacted"</summary>
    Compacted,
    /// <summary>"mvcc: required revision is a future revision"</summary>
    FutureRevision,
}

/// <summary>How to read a range. Revision &lt;= 0 reads the newest revision; Limit &lt;= 0 is no limit.</summary>
public readonly record struct RangeOptions(long Limit = 0, long Revision = 0, bool CountOnly = false);

/// <summary>A range read: up to Limit key-values in key order, the number of keys in the range
/// at that revision (ignoring the limit), and the store's current revision.</summary>
public sealed class RangeResult
{
    public MvccStatus Status { get; init; }
    public List<KeyValue> Kvs { get; init; } = [];
    public long Count { get; init; }
    /// <summary>The store's current revision when read (not the revision read at); 0 when compacted.</summary>
    public long Revision { get; init; }

    internal static RangeResult Failed(MvccStatus status, long revision) =>
        new() { Status = status, Count = -1, Revision = revision };
}

/// <summary>One change made by a write txn, ready to become a watch event.</summary>
/// <param name="Kv">For a put, the new key-value; for a delete, only the key and the deleting revision
/// (ModRevision), as etcd's DELETE events carry.</param>
/// <param name="Previous">The revision of the key's prior state, or default when the key did not
/// exist before; read it with <see cref="ReadTxn.ReadRevision"/> for prev_kv.</param>
public sealed record MvccChange(bool IsDelete, KeyValue Kv, Revision Previous)
{
    public Event ToEvent() => new() { Type = IsDelete ? Event.Types.EventType.Delete : Event.Types.EventType.Put, Kv = Kv };
}

/// <summary>Result of scheduling a compaction.</summary>
/// <param name="Physical">Completes when the superseded rows are gone from the backend.</param>
public readonly record struct CompactResult(MvccStatus Status, Task Physical);

/// <summary>etcd's HashKV answer.</summary>
public readonly record struct HashKvResult(MvccStatus Status, uint Hash, long CurrentRevision, long CompactRevision);

/// <summary>Store tuning.</summary>
public sealed record MvccOptions
{
    /// <summary>Delete compacted rows on a background task; when false the owner calls
    /// <see cref="MvccStore.RunCompactionStep"/> (deterministic simulation).</summary>
    public bool BackgroundCompaction { get; init; } = true;

    /// <summary>Rows deleted per backend transaction during physical compaction (etcd's default).</summary>
    public int CompactionBatchLimit { get; init; } = 1000;

    /// <summary>Pause between physical compaction batches so the apply loop gets the writer.</summary>
    public TimeSpan CompactionBatchInterval { get; init; } = TimeSpan.FromMilliseconds(10);
}
