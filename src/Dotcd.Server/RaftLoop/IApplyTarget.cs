using Dotcd.Raft;
using Google.Protobuf;

namespace Dotcd.Server.RaftLoop;

/// <summary>
/// The state machine the apply loop drives (etcd's applier plus its backend): it applies committed
/// entries in log order and keeps consistent_index, the index of the last entry its state holds,
/// in the same backend transaction as the effects.
/// </summary>
/// <remarks>
/// Called from the apply thread only, one call at a time, in log order. The engine never hands
/// the target a Normal entry at or below the ConsistentIndex it read at startup (replay after a
/// restart is idempotent). An exception stops the member: the state machine is in an unknown state.
/// Appliers never read a clock: every member must reach the same state from the same entries.
/// </remarks>
public interface IApplyTarget
{
    /// <summary>The backend's consistent_index (0 for a new backend); read once, at startup.</summary>
    ulong ConsistentIndex { get; }

    /// <summary>
    /// Applies a run of Normal entries (ascending, contiguous) inside one backend transaction that
    /// also stores consistent_index = the last entry's index. Entries with empty data are the
    /// leader's no-op entry of a new term: they change nothing but the consistent index.
    /// For each entry that carried a request ID (InternalRaftRequest.ID or header.ID), add its
    /// outcome to completed; the engine hands it to the proposer waiting on that ID, if any.
    /// </summary>
    void ApplyEntries(IReadOnlyList<Entry> entries, List<AppliedRequest> completed);

    /// <summary>
    /// Validates and applies a committed membership change to the member list (stored with
    /// consistent_index = entry.Index). Returns whether raft should apply it: a rejected change
    /// (etcd's ValidateConfigurationChange failed) is applied to raft as a no-op.
    /// After a restart, raft replays the conf changes after the last raft snapshot, including
    /// ones at or below ConsistentIndex, so that it relearns its configuration: for those the
    /// target must leave its state alone and return the decision it made the first time.
    /// </summary>
    ConfChangeDecision ApplyConfChange(Entry entry, IConfChange change);

    /// <summary>Replaces the whole state with a snapshot received from the leader (multi-member only).</summary>
    void ApplySnapshot(Snapshot snapshot);

    /// <summary>
    /// Makes everything applied so far durable (an fsync'ed backend commit). Called before a raft
    /// snapshot lets old WAL segments go and at a graceful stop; between calls the backend may
    /// lag on disk, since the WAL replays what it lost.
    /// </summary>
    void Sync();
}

/// <summary>What applying one request produced: the response for the client or an etcd error.</summary>
public sealed class ApplyResult
{
    /// <summary>The response message (PutResponse, TxnResponse, ...); null when Error is set or nothing is returned.</summary>
    public IMessage? Response { get; init; }

    /// <summary>A client-facing error produced by applying (compacted revision, lease not found, ...).</summary>
    public Exception? Error { get; init; }

    /// <summary>Completes when a physical compaction finished (Compact with physical=true); null otherwise.</summary>
    public Task? Physical { get; init; }

    /// <summary>Anything else the service needs from the apply (e.g. a conf change's member list).</summary>
    public object? Value { get; init; }
}

/// <summary>The outcome of an applied entry for the proposer registered under RequestId.</summary>
public readonly record struct AppliedRequest(ulong RequestId, ApplyResult Result);

/// <summary>Whether raft applies a conf change, and the outcome for the proposer (keyed by ConfChange.Id).</summary>
public readonly record struct ConfChangeDecision(bool Accepted, ApplyResult? Result);
