using Google.Protobuf;
using Core = Dotcd.Raft;
using Pb = Dotcd.Api.Raftpb;

namespace Dotcd.Api.Raft;

/// <summary>Converts Dotcd.Raft's plain types to and from etcd's raftpb wire messages.</summary>
/// <remarks>
/// Bytes are never copied in either direction:
/// <list type="bullet">
/// <item>ToWire wraps the caller's memory with <see cref="UnsafeByteOperations.UnsafeWrap(ReadOnlyMemory{byte})"/>.
/// That is safe because Dotcd.Raft treats entry, snapshot and context bytes as immutable once
/// proposed; whoever mutates such a buffer after handing it to raft corrupts the log anyway.</item>
/// <item>FromWire exposes <see cref="ByteString.Memory"/>. A parsed ByteString owns a private copy of
/// its bytes (Google.Protobuf copies while parsing), so the result does not alias the input buffer.</item>
/// </list>
/// The enums of both sides carry the same numbers (etcd's), so they convert by cast.
/// </remarks>
public static class RaftWire
{
    public static Pb.Entry ToWire(Core.Entry entry) => new()
    {
        Term = entry.Term,
        Index = entry.Index,
        Type = (Pb.EntryType)entry.Type,
        Data = Wrap(entry.Data),
    };

    public static Core.Entry FromWire(Pb.Entry entry) =>
        new(entry.Term, entry.Index, (Core.EntryType)entry.Type, entry.Data.Memory);

    public static Pb.HardState ToWire(Core.HardState state) => new()
    {
        Term = state.Term,
        Vote = state.Vote,
        Commit = state.Commit,
    };

    public static Core.HardState FromWire(Pb.HardState state) => new(state.Term, state.Vote, state.Commit);

    public static Pb.ConfState ToWire(Core.ConfState state)
    {
        var wire = new Pb.ConfState { AutoLeave = state.AutoLeave };
        wire.Voters.AddRange(state.Voters);
        wire.Learners.AddRange(state.Learners);
        wire.VotersOutgoing.AddRange(state.VotersOutgoing);
        wire.LearnersNext.AddRange(state.LearnersNext);
        return wire;
    }

    public static Core.ConfState FromWire(Pb.ConfState state) => new()
    {
        Voters = state.Voters.ToArray(),
        Learners = state.Learners.ToArray(),
        VotersOutgoing = state.VotersOutgoing.ToArray(),
        LearnersNext = state.LearnersNext.ToArray(),
        AutoLeave = state.AutoLeave,
    };

    // conf_state is always set, as etcd always writes it (non-nullable there).
    public static Pb.SnapshotMetadata ToWire(Core.SnapshotMetadata metadata) => new()
    {
        ConfState = ToWire(metadata.ConfState),
        Index = metadata.Index,
        Term = metadata.Term,
    };

    // An absent conf_state reads as the empty configuration, which is what etcd decodes it to.
    public static Core.SnapshotMetadata FromWire(Pb.SnapshotMetadata metadata) =>
        new(metadata.ConfState is null ? Core.ConfState.Empty : FromWire(metadata.ConfState), metadata.Index, metadata.Term);

    public static Pb.Snapshot ToWire(Core.Snapshot snapshot) => new()
    {
        Data = Wrap(snapshot.Data),
        Metadata = ToWire(snapshot.Metadata),
    };

    public static Core.Snapshot FromWire(Pb.Snapshot snapshot) =>
        new(snapshot.Data.Memory, snapshot.Metadata is null ? Core.SnapshotMetadata.Empty : FromWire(snapshot.Metadata));

    // The snapshot field is written only when the message has one (MsgSnap); etcd tolerates its
    // absence because a missing embedded message decodes to the empty value it would have sent.
    public static Pb.Message ToWire(Core.Message message)
    {
        var wire = new Pb.Message
        {
            Type = (Pb.MessageType)message.Type,
            To = message.To,
            From = message.From,
            Term = message.Term,
            LogTerm = message.LogTerm,
            Index = message.Index,
            Commit = message.Commit,
            Reject = message.Reject,
            RejectHint = message.RejectHint,
            Context = Wrap(message.Context),
        };
        IReadOnlyList<Core.Entry> entries = message.Entries;
        for (int i = 0; i < entries.Count; i++)
        {
            wire.Entries.Add(ToWire(entries[i]));
        }
        if (message.Snapshot is not null)
        {
            wire.Snapshot = ToWire(message.Snapshot);
        }
        return wire;
    }

    // etcd puts an empty snapshot into every message it sends. Dotcd.Raft's Message.Snapshot is
    // null unless the message carries one, so an all-zero snapshot becomes null, except on a MsgSnap,
    // whose handler expects a snapshot object whatever its contents.
    public static Core.Message FromWire(Pb.Message message)
    {
        var entries = message.Entries.Count == 0 ? Array.Empty<Core.Entry>() : new Core.Entry[message.Entries.Count];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = FromWire(message.Entries[i]);
        }
        var type = (Core.MessageType)message.Type;
        Core.Snapshot? snapshot = type == Core.MessageType.MsgSnap
            ? (message.Snapshot is null ? Core.Snapshot.Empty : FromWire(message.Snapshot))
            : (message.Snapshot is null || IsZero(message.Snapshot) ? null : FromWire(message.Snapshot));
        return new Core.Message
        {
            Type = type,
            To = message.To,
            From = message.From,
            Term = message.Term,
            LogTerm = message.LogTerm,
            Index = message.Index,
            Entries = entries,
            Commit = message.Commit,
            Snapshot = snapshot,
            Reject = message.Reject,
            RejectHint = message.RejectHint,
            Context = message.Context.Memory,
        };
    }

    public static Pb.ConfChange ToWire(Core.ConfChange change) => new()
    {
        Id = change.Id,
        Type = (Pb.ConfChangeType)change.Type,
        NodeId = change.NodeId,
        Context = Wrap(change.Context),
    };

    public static Core.ConfChange FromWire(Pb.ConfChange change) =>
        new((Core.ConfChangeType)change.Type, change.NodeId, change.Context.Memory, change.Id);

    public static Pb.ConfChangeSingle ToWire(Core.ConfChangeSingle change) => new()
    {
        Type = (Pb.ConfChangeType)change.Type,
        NodeId = change.NodeId,
    };

    public static Core.ConfChangeSingle FromWire(Pb.ConfChangeSingle change) =>
        new((Core.ConfChangeType)change.Type, change.NodeId);

    public static Pb.ConfChangeV2 ToWire(Core.ConfChangeV2 change)
    {
        var wire = new Pb.ConfChangeV2
        {
            Transition = (Pb.ConfChangeTransition)change.Transition,
            Context = Wrap(change.Context),
        };
        IReadOnlyList<Core.ConfChangeSingle> changes = change.Changes;
        for (int i = 0; i < changes.Count; i++)
        {
            wire.Changes.Add(ToWire(changes[i]));
        }
        return wire;
    }

    public static Core.ConfChangeV2 FromWire(Pb.ConfChangeV2 change)
    {
        var changes = new Core.ConfChangeSingle[change.Changes.Count];
        for (int i = 0; i < changes.Length; i++)
        {
            changes[i] = FromWire(change.Changes[i]);
        }
        return new Core.ConfChangeV2
        {
            Transition = (Core.ConfChangeTransition)change.Transition,
            Changes = changes,
            Context = change.Context.Memory,
        };
    }

    private static ByteString Wrap(ReadOnlyMemory<byte> bytes) =>
        bytes.IsEmpty ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(bytes);

    // True for the empty snapshot etcd attaches to messages that carry none.
    private static bool IsZero(Pb.Snapshot snapshot) =>
        snapshot.Data.IsEmpty &&
        (snapshot.Metadata is not { } metadata ||
         (metadata.Index == 0 && metadata.Term == 0 && (metadata.ConfState is null || metadata.ConfState.CalculateSize() == 0)));
}
