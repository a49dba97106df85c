using System.Runtime.InteropServices;
using Dotcd.Api.Raft;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Core = Dotcd.Raft;
using Pb = Dotcd.Api.Raftpb;

namespace Dotcd.Api.Tests;

public sealed class RaftWireTests
{
    private static readonly Core.Entry[] s_entries =
    [
        new(1, 1, Core.EntryType.Normal, ReadOnlyMemory<byte>.Empty),
        new(3, 42, Core.EntryType.Normal, "put foo bar"u8.ToArray()),
        new(7, 99, Core.EntryType.ConfChange, new byte[] { 0x10, 0x00, 0x18, 0x02 }),
        new(ulong.MaxValue, ulong.MaxValue - 1, Core.EntryType.ConfChangeV2, new byte[300]),
    ];

    private static readonly Core.ConfState s_jointConf = new()
    {
        Voters = [1, 2, 3],
        Learners = [7],
        VotersOutgoing = [1, 2, 4],
        LearnersNext = [4],
        AutoLeave = true,
    };

    [Fact]
    public void EntriesRoundTripThroughWireBytes()
    {
        foreach (Core.Entry entry in s_entries)
        {
            Core.Entry back = RaftWire.FromWire(Reparse(RaftWire.ToWire(entry), Pb.Entry.Parser));
            AssertSame(entry, back);
        }
    }

    [Fact]
    public void HardStatesRoundTripThroughWireBytes()
    {
        foreach (Core.HardState state in new Core.HardState[] { Core.HardState.Empty, new(5, 2, 17), new(ulong.MaxValue, 0, 1) })
        {
            Assert.Equal(state, RaftWire.FromWire(Reparse(RaftWire.ToWire(state), Pb.HardState.Parser)));
        }
    }

    [Fact]
    public void ConfStatesRoundTripThroughWireBytesKeepingOrder()
    {
        foreach (Core.ConfState state in new[] { Core.ConfState.Empty, new Core.ConfState { Voters = [3, 1, 2] }, s_jointConf })
        {
            AssertSame(state, RaftWire.FromWire(Reparse(RaftWire.ToWire(state), Pb.ConfState.Parser)));
        }
    }

    [Fact]
    public void SnapshotMetadataRoundTripsThroughWireBytes()
    {
        var metadata = new Core.SnapshotMetadata(s_jointConf, 1000, 12);
        AssertSame(metadata, RaftWire.FromWire(Reparse(RaftWire.ToWire(metadata), Pb.SnapshotMetadata.Parser)));
        AssertSame(Core.SnapshotMetadata.Empty, RaftWire.FromWire(Reparse(RaftWire.ToWire(Core.SnapshotMetadata.Empty), Pb.SnapshotMetadata.Parser)));
    }

    [Fact]
    public void SnapshotsRoundTripThroughWireBytes()
    {
        var snapshot = new Core.Snapshot("state machine bytes"u8.ToArray(), new Core.SnapshotMetadata(s_jointConf, 1000, 12));
        AssertSame(snapshot, RaftWire.FromWire(Reparse(RaftWire.ToWire(snapshot), Pb.Snapshot.Parser)));
        AssertSame(Core.Snapshot.Empty, RaftWire.FromWire(Reparse(RaftWire.ToWire(Core.Snapshot.Empty), Pb.Snapshot.Parser)));
    }

    [Fact]
    public void MessagesOfEveryShapeRoundTripThroughWireBytes()
    {
        Core.Message[] messages =
        [
            new() { Type = Core.MessageType.MsgApp, From = 1, To = 2, Term = 4, LogTerm = 3, Index = 10, Commit = 9, Entries = s_entries },
            new() { Type = Core.MessageType.MsgAppResp, From = 2, To = 1, Term = 4, Index = 10, Reject = true, RejectHint = 6, LogTerm = 2 },
            new() { Type = Core.MessageType.MsgHeartbeat, From = 1, To = 3, Term = 4, Commit = 8, Context = "read-ctx"u8.ToArray() },
            new() { Type = Core.MessageType.MsgPreVote, From = 3, To = 1, Term = 5, LogTerm = 4, Index = 11 },
            new()
            {
                Type = Core.MessageType.MsgSnap, From = 1, To = 4, Term = 4,
                Snapshot = new Core.Snapshot(new byte[] { 1, 2, 3 }, new Core.SnapshotMetadata(s_jointConf, 50, 3)),
            },
            new() { Type = Core.MessageType.MsgPreVoteResp, From = 2, To = 3, Term = ulong.MaxValue },
        ];
        foreach (Core.Message message in messages)
        {
            AssertSame(message, RaftWire.FromWire(Reparse(RaftWire.ToWire(message), Pb.Message.Parser)));
        }
    }

    [Fact]
    public void ConfChangesRoundTripThroughWireBytes()
    {
        var v1 = new Core.ConfChange(Core.ConfChangeType.AddLearnerNode, 9, "member json"u8.ToArray(), Id: 12345);
        Core.ConfChange v1Back = RaftWire.FromWire(Reparse(RaftWire.ToWire(v1), Pb.ConfChange.Parser));
        Assert.Equal((v1.Type, v1.NodeId, v1.Id), (v1Back.Type, v1Back.NodeId, v1Back.Id));
        Assert.True(v1.Context.Span.SequenceEqual(v1Back.Context.Span));

        var v2 = new Core.ConfChangeV2
        {
            Transition = Core.ConfChangeTransition.JointExplicit,
            Changes = [new(Core.ConfChangeType.AddNode, 4), new(Core.ConfChangeType.RemoveNode, 1), new(Core.ConfChangeType.UpdateNode, 2)],
            Context = "ctx"u8.ToArray(),
        };
        Core.ConfChangeV2 v2Back = RaftWire.FromWire(Reparse(RaftWire.ToWire(v2), Pb.ConfChangeV2.Parser));
        Assert.Equal(v2.Transition, v2Back.Transition);
        Assert.Equal(v2.Changes, v2Back.Changes);
        Assert.True(v2.Context.Span.SequenceEqual(v2Back.Context.Span));

        Core.ConfChangeV2 leave = RaftWire.FromWire(Reparse(RaftWire.ToWire(new Core.ConfChangeV2()), Pb.ConfChangeV2.Parser));
        Assert.True(leave.LeaveJoint);
    }

    [Fact]
    public void MessageWithoutSnapshotSendsNone()
    {
        var heartbeat = new Core.Message { Type = Core.MessageType.MsgHeartbeat, From = 1, To = 2, Term = 3 };
        Assert.Null(RaftWire.ToWire(heartbeat).Snapshot);
    }

    [Fact]
    public void MsgSnapWithoutSnapshotFieldStillGetsASnapshot()
    {
        // The snapshot handler reads Message.Snapshot of a MsgSnap unconditionally.
        var wire = new Pb.Message { Type = Pb.MessageType.MsgSnap, From = 1, To = 2, Term = 3 };
        Core.Message message = RaftWire.FromWire(wire);
        Assert.NotNull(message.Snapshot);
        Assert.True(message.Snapshot.IsEmpty);
    }

    [Fact]
    public void EntryDataIsWrappedNotCopied()
    {
        byte[] data = "payload"u8.ToArray();
        Pb.Entry wire = RaftWire.ToWire(new Core.Entry(1, 1, Core.EntryType.Normal, data));
        Assert.True(MemoryMarshal.TryGetArray(wire.Data.Memory, out ArraySegment<byte> segment));
        Assert.Same(data, segment.Array);
    }

    [Fact]
    public void DecodedEntryDoesNotAliasTheReceiveBuffer()
    {
        byte[] buffer = RaftWire.ToWire(new Core.Entry(2, 5, Core.EntryType.Normal, "abc"u8.ToArray())).ToByteArray();
        Core.Entry entry = RaftWire.FromWire(Pb.Entry.Parser.ParseFrom(buffer));
        Array.Fill(buffer, (byte)0);
        Assert.Equal("abc"u8.ToArray(), entry.Data.ToArray());
    }

    [Fact]
    public void RaftEnumsCarryEtcdsNamesAndNumbers()
    {
        // The converters cast enums, so each core value must name the wire value of the same number.
        AssertEnumMatches<Core.MessageType>("MessageType", name => name);
        AssertEnumMatches<Core.EntryType>("EntryType", name => "Entry" + name);
        AssertEnumMatches<Core.ConfChangeType>("ConfChangeType", name => "ConfChange" + name);
        AssertEnumMatches<Core.ConfChangeTransition>("ConfChangeTransition", name => "ConfChangeTransition" + name);
    }

    private static void AssertEnumMatches<TEnum>(string wireName, Func<string, string> expectedWireName)
        where TEnum : struct, Enum
    {
        EnumDescriptor wire = Pb.RaftReflection.Descriptor.EnumTypes.Single(e => e.Name == wireName);
        TEnum[] values = Enum.GetValues<TEnum>();
        Assert.Equal(wire.Values.Count, values.Length);
        foreach (TEnum value in values)
        {
            EnumValueDescriptor? match = wire.FindValueByNumber(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.NotNull(match);
            Assert.Equal(expectedWireName(value.ToString()), match.Name);
        }
    }

    private static T Reparse<T>(T message, MessageParser<T> parser)
        where T : IMessage<T> => parser.ParseFrom(message.ToByteArray());

    private static void AssertSame(Core.Entry expected, Core.Entry actual)
    {
        Assert.Equal((expected.Term, expected.Index, expected.Type), (actual.Term, actual.Index, actual.Type));
        Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
    }

    private static void AssertSame(Core.ConfState expected, Core.ConfState actual)
    {
        Assert.Equal(expected.Voters, actual.Voters);
        Assert.Equal(expected.Learners, actual.Learners);
        Assert.Equal(expected.VotersOutgoing, actual.VotersOutgoing);
        Assert.Equal(expected.LearnersNext, actual.LearnersNext);
        Assert.Equal(expected.AutoLeave, actual.AutoLeave);
    }

    private static void AssertSame(Core.SnapshotMetadata expected, Core.SnapshotMetadata actual)
    {
        Assert.Equal((expected.Index, expected.Term), (actual.Index, actual.Term));
        AssertSame(expected.ConfState, actual.ConfState);
    }

    private static void AssertSame(Core.Snapshot expected, Core.Snapshot actual)
    {
        Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
        AssertSame(expected.Metadata, actual.Metadata);
    }

    private static void AssertSame(Core.Message expected, Core.Message actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal((expected.From, expected.To, expected.Term), (actual.From, actual.To, actual.Term));
        Assert.Equal((expected.LogTerm, expected.Index, expected.Commit), (actual.LogTerm, actual.Index, actual.Commit));
        Assert.Equal((expected.Reject, expected.RejectHint), (actual.Reject, actual.RejectHint));
        Assert.Equal(expected.Context.ToArray(), actual.Context.ToArray());
        Assert.Equal(expected.Entries.Count, actual.Entries.Count);
        for (int i = 0; i < expected.Entries.Count; i++)
        {
            AssertSame(expected.Entries[i], actual.Entries[i]);
        }
        Assert.Equal(expected.Snapshot is null, actual.Snapshot is null);
        if (expected.Snapshot is not null)
        {
            AssertSame(expected.Snapshot, actual.Snapshot!);
        }
    }
}
