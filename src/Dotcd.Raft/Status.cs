namespace Dotcd.Raft;

/// <summary>How the leader currently replicates to a follower.</summary>
public enum ProgressState
{
    Probe = 0,     // One MsgApp per heartbeat interval until the match index is found.
    Replicate = 1, // Optimistic pipelining within the inflight window.
    Snapshot = 2,  // Waiting for a snapshot to be applied; no MsgApp sent.
}

/// <summary>The leader's view of one follower.</summary>
public readonly record struct ProgressStatus(
    ulong Match, ulong Next, ProgressState State, bool IsLearner, bool RecentActive,
    bool MsgAppFlowPaused, int InflightCount, bool InflightsFull, ulong PendingSnapshot);

/// <summary>A node's state for monitoring and tests.</summary>
public sealed class Status
{
    public required ulong Id { get; init; }
    public required HardState HardState { get; init; }
    public required SoftState SoftState { get; init; }
    public required ulong Applied { get; init; }

    /// <summary>The current configuration; joint configurations show VotersOutgoing.</summary>
    public required ConfState Config { get; init; }

    /// <summary>Replication progress per member; only filled on the leader.</summary>
    public required IReadOnlyDictionary<ulong, ProgressStatus> Progress { get; init; }

    public ulong LeadTransferee { get; init; }

    public ulong Term => HardState.Term;
    public ulong Lead => SoftState.Lead;
    public StateType RaftState => SoftState.RaftState;
}

/// <summary>A member to bootstrap a new cluster with; Context is carried in the ConfChange.</summary>
public readonly record struct Peer(ulong Id, ReadOnlyMemory<byte> Context = default);
