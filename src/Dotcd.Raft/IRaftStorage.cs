namespace Dotcd.Raft;

/// <summary>Why a storage read could not be answered (etcd's raft storage errors).</summary>
public enum StorageError
{
    None = 0,
    Compacted,                       // The index is below FirstIndex: the entries were compacted away.
    Unavailable,                     // The index is above LastIndex.
    SnapshotOutOfDate,               // A snapshot older than the current one was applied or created.
    SnapshotTemporarilyUnavailable,  // The snapshot is being made; the leader retries later.
}

/// <summary>The persisted state a node starts from.</summary>
public readonly record struct RaftInitialState(HardState HardState, ConfState ConfState);

/// <summary>
/// The node's read-only view of the stable log. The host writes to it while handling a Ready
/// (entries, hard state, snapshot) before calling Advance; the node only reads.
/// Invariant: FirstIndex() - 1 is the index of the last snapshot (or of the dummy entry), and
/// Term(FirstIndex() - 1) is answered.
/// </summary>
public interface IRaftStorage
{
    RaftInitialState InitialState();

    /// <summary>Entries in [low, high), at most maxSizeBytes (of Entry.Size) but always at least one if any exist.</summary>
    StorageError TryGetEntries(ulong low, ulong high, ulong maxSizeBytes, out IReadOnlyList<Entry> entries);

    /// <summary>The term of the entry at index, for index in [FirstIndex()-1, LastIndex()].</summary>
    StorageError TryGetTerm(ulong index, out ulong term);

    ulong LastIndex();

    ulong FirstIndex();

    /// <summary>The most recent snapshot.</summary>
    StorageError TryGetSnapshot(out Snapshot snapshot);
}
