namespace Dotcd.Raft;

/// <summary>
/// What the host must do next. Contract, in this order:
/// 1. persist HardState (if not empty), Entries and Snapshot (if not null) to stable storage,
///    with an fsync when MustSync is true;
/// 2. only then send Messages (a message may promise that the entries are durable);
/// 3. apply Snapshot and CommittedEntries to the state machine, in order;
///    a committed ConfChange/ConfChangeV2 entry is applied with RawNode.ApplyConfChange;
/// 4. call RawNode.Advance().
/// ReadStates may be answered once the state machine has applied up to ReadState.Index.
/// </summary>
public sealed class Ready
{
    /// <summary>Set when leader or role changed since the previous Ready.</summary>
    public SoftState? SoftState { get; init; }

    /// <summary>HardState.Empty when unchanged since the previous Ready.</summary>
    public HardState HardState { get; init; }

    public IReadOnlyList<ReadState> ReadStates { get; init; } = Array.Empty<ReadState>();

    /// <summary>Entries to append to stable storage before Messages are sent.</summary>
    public IReadOnlyList<Entry> Entries { get; init; } = Array.Empty<Entry>();

    /// <summary>A snapshot to persist and apply; null when there is none.</summary>
    public Snapshot? Snapshot { get; init; }

    /// <summary>Entries committed by a quorum and ready to apply, in log order.</summary>
    public IReadOnlyList<Entry> CommittedEntries { get; init; } = Array.Empty<Entry>();

    /// <summary>Messages to send after Entries and HardState are persisted.</summary>
    public IReadOnlyList<Message> Messages { get; init; } = Array.Empty<Message>();

    /// <summary>Whether persisting this Ready needs an fsync (new entries, a snapshot, or a term/vote change).</summary>
    public bool MustSync { get; init; }

    public bool ContainsUpdates =>
        SoftState is not null || !HardState.IsEmpty || Snapshot is not null || Entries.Count > 0 ||
        CommittedEntries.Count > 0 || Messages.Count > 0 || ReadStates.Count > 0;
}
