namespace Dotcd.Raft;

// The Raft data model. Field names and meanings follow etcd's raftpb (raft.proto) exactly, so that
// Dotcd.Api can convert these to and from the wire messages field by field. The core keeps its own
// plain types because it takes no package dependencies (not even Google.Protobuf).

/// <summary>The kind of a log entry.</summary>
public enum EntryType
{
    Normal = 0,
    ConfChange = 1,   // Data is an encoded ConfChange (v1).
    ConfChangeV2 = 2, // Data is an encoded ConfChangeV2.
}

/// <summary>One log entry: a proposal at (Term, Index).</summary>
public readonly record struct Entry(ulong Term, ulong Index, EntryType Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>The size etcd's raft counts against MaxSizePerMsg and the uncommitted-size limit.</summary>
    public ulong PayloadSize => (ulong)Data.Length;

    /// <summary>An approximation of the encoded size, used to cap Ready and message sizes.</summary>
    public ulong Size => (ulong)Data.Length + 24;

    public override string ToString() => $"{Term}/{Index} {Type} {Data.Length}b";
}

/// <summary>Message types, numbered as in raftpb.MessageType.</summary>
public enum MessageType
{
    MsgHup = 0,
    MsgBeat = 1,
    MsgProp = 2,
    MsgApp = 3,
    MsgAppResp = 4,
    MsgVote = 5,
    MsgVoteResp = 6,
    MsgSnap = 7,
    MsgHeartbeat = 8,
    MsgHeartbeatResp = 9,
    MsgUnreachable = 10,
    MsgSnapStatus = 11,
    MsgCheckQuorum = 12,
    MsgTransferLeader = 13,
    MsgTimeoutNow = 14,
    MsgReadIndex = 15,
    MsgReadIndexResp = 16,
    MsgPreVote = 17,
    MsgPreVoteResp = 18,
}

/// <summary>
/// A Raft message between members (and the local inputs that travel as messages). A record so
/// that restamping one (Send, forwarding to the leader) is a `with` copy that cannot forget a field.
/// </summary>
public sealed record Message
{
    public MessageType Type { get; init; }
    public ulong To { get; init; }
    public ulong From { get; init; }
    public ulong Term { get; init; }
    public ulong LogTerm { get; init; }   // Term of the entry at Index (MsgApp), or of the last entry (votes).
    public ulong Index { get; init; }
    public IReadOnlyList<Entry> Entries { get; init; } = Array.Empty<Entry>();
    public ulong Commit { get; init; }
    public Snapshot? Snapshot { get; init; } // Only for MsgSnap.
    public bool Reject { get; init; }
    public ulong RejectHint { get; init; }
    public ReadOnlyMemory<byte> Context { get; init; }

    public override string ToString() =>
        $"{From}->{To} {Type} Term:{Term} Log:{LogTerm}/{Index} Commit:{Commit} Entries:{Entries.Count}" +
        (Reject ? $" Rejected (Hint: {RejectHint})" : "") + (Snapshot is null ? "" : $" Snapshot:{Snapshot.Metadata.Index}/{Snapshot.Metadata.Term}");
}

/// <summary>What must be on stable storage before any message of a Ready is sent.</summary>
public readonly record struct HardState(ulong Term, ulong Vote, ulong Commit)
{
    public static readonly HardState Empty = default;
    public bool IsEmpty => this == Empty;
}

/// <summary>The membership configuration, as recorded in snapshots (raftpb.ConfState).</summary>
public sealed record ConfState
{
    public IReadOnlyList<ulong> Voters { get; init; } = Array.Empty<ulong>();
    public IReadOnlyList<ulong> Learners { get; init; } = Array.Empty<ulong>();
    public IReadOnlyList<ulong> VotersOutgoing { get; init; } = Array.Empty<ulong>(); // Non-empty only in a joint configuration.
    public IReadOnlyList<ulong> LearnersNext { get; init; } = Array.Empty<ulong>();   // Voters to become learners on leaving joint.
    public bool AutoLeave { get; init; }

    public static readonly ConfState Empty = new();

    /// <summary>Set equality, ignoring order (etcd's ConfState.Equivalent).</summary>
    public bool Equivalent(ConfState other) =>
        SameSet(Voters, other.Voters) && SameSet(Learners, other.Learners) &&
        SameSet(VotersOutgoing, other.VotersOutgoing) && SameSet(LearnersNext, other.LearnersNext) &&
        AutoLeave == other.AutoLeave;

    private static bool SameSet(IReadOnlyList<ulong> a, IReadOnlyList<ulong> b) =>
        a.Count == b.Count && new HashSet<ulong>(a).SetEquals(b);

    public override string ToString() =>
        $"Voters:[{string.Join(" ", Voters)}] VotersOutgoing:[{string.Join(" ", VotersOutgoing)}] " +
        $"Learners:[{string.Join(" ", Learners)}] LearnersNext:[{string.Join(" ", LearnersNext)}] AutoLeave:{AutoLeave}";
}

/// <summary>Where a snapshot stands in the log and the configuration it carries.</summary>
public sealed record SnapshotMetadata(ConfState ConfState, ulong Index, ulong Term)
{
    public static readonly SnapshotMetadata Empty = new(ConfState.Empty, 0, 0);
}

/// <summary>A state-machine snapshot: application bytes and their log position.</summary>
public sealed record Snapshot(ReadOnlyMemory<byte> Data, SnapshotMetadata Metadata)
{
    public static readonly Snapshot Empty = new(ReadOnlyMemory<byte>.Empty, SnapshotMetadata.Empty);
    public bool IsEmpty => Metadata.Index == 0;
}

/// <summary>Roles of a Raft node (raft.StateType).</summary>
public enum StateType
{
    Follower = 0,
    Candidate = 1,
    Leader = 2,
    PreCandidate = 3,
}

/// <summary>Volatile state shown to the host for logging and leadership tracking.</summary>
public readonly record struct SoftState(ulong Lead, StateType RaftState);

/// <summary>The answer to a ReadIndex request: once Applied >= Index, a local read is linearizable.</summary>
public readonly record struct ReadState(ulong Index, ReadOnlyMemory<byte> RequestContext);

/// <summary>How a snapshot sent to a follower ended (ReportSnapshot).</summary>
public enum SnapshotStatus
{
    Finish = 1,
    Failure = 2,
}

/// <summary>Outcome of an input that etcd's raft reports as an error value.</summary>
public enum RaftError
{
    None = 0,
    ProposalDropped,   // No leader, leader transfer in progress, forwarding disabled, or uncommitted size limit hit.
    StepLocalMessage,  // A local-only message type arrived through Step.
    StepPeerNotFound,  // A response from a peer that is not in the configuration.
}
