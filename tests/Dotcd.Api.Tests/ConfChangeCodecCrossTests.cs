using Dotcd.Api.Raft;
using Google.Protobuf;
using Core = Dotcd.Raft;
using Pb = Dotcd.Api.Raftpb;

namespace Dotcd.Api.Tests;

// Dotcd.Raft encodes conf changes by hand (it takes no packages); the generated raftpb messages are
// the reference. Each side must read what the other writes.
public sealed class ConfChangeCodecCrossTests
{
    private static readonly Core.ConfChange[] s_v1 =
    [
        new(Core.ConfChangeType.AddNode, 0),
        new(Core.ConfChangeType.AddNode, 2, "{\"id\":2}"u8.ToArray(), Id: 77),
        new(Core.ConfChangeType.RemoveNode, ulong.MaxValue, default, Id: ulong.MaxValue),
        new(Core.ConfChangeType.UpdateNode, 5, new byte[1000]),
        new(Core.ConfChangeType.AddLearnerNode, 9, "x"u8.ToArray(), Id: 1),
    ];

    private static readonly Core.ConfChangeV2[] s_v2 =
    [
        new(), // Leave a joint configuration.
        new() { Changes = [new(Core.ConfChangeType.AddNode, 4)] },
        new()
        {
            Transition = Core.ConfChangeTransition.JointExplicit,
            Changes = [new(Core.ConfChangeType.AddNode, 4), new(Core.ConfChangeType.RemoveNode, 1), new(Core.ConfChangeType.AddLearnerNode, 3)],
            Context = "ctx"u8.ToArray(),
        },
        new() { Transition = Core.ConfChangeTransition.JointImplicit, Changes = [new(Core.ConfChangeType.UpdateNode, ulong.MaxValue)] },
    ];

    [Fact]
    public void GeneratedParserReadsWhatTheRaftCodecWrites()
    {
        foreach (Core.ConfChange change in s_v1)
        {
            AssertSame(change, RaftWire.FromWire(Pb.ConfChange.Parser.ParseFrom(Core.ConfChangeCodec.Encode(change))));
        }
        foreach (Core.ConfChangeV2 change in s_v2)
        {
            AssertSame(change, RaftWire.FromWire(Pb.ConfChangeV2.Parser.ParseFrom(Core.ConfChangeCodec.Encode(change))));
        }
    }

    [Fact]
    public void RaftCodecReadsWhatTheGeneratedMessagesWrite()
    {
        // Our generated messages leave zero fields out, which etcd's own writer never does.
        foreach (Core.ConfChange change in s_v1)
        {
            AssertSame(change, Core.ConfChangeCodec.DecodeV1(RaftWire.ToWire(change).ToByteArray()));
        }
        foreach (Core.ConfChangeV2 change in s_v2)
        {
            AssertSame(change, Core.ConfChangeCodec.DecodeV2(RaftWire.ToWire(change).ToByteArray()));
        }
    }

    [Fact]
    public void BothWritersAgreeByteForByteWhenNoFieldIsZero()
    {
        // The codec writes zeros as etcd does; with no zero field the two encodings must be identical.
        var v1 = new Core.ConfChange(Core.ConfChangeType.AddLearnerNode, 300, "ctx"u8.ToArray(), Id: 1234567);
        Assert.Equal(RaftWire.ToWire(v1).ToByteArray(), Core.ConfChangeCodec.Encode(v1));

        var v2 = new Core.ConfChangeV2
        {
            Transition = Core.ConfChangeTransition.JointImplicit,
            Changes = [new(Core.ConfChangeType.RemoveNode, 2), new(Core.ConfChangeType.AddLearnerNode, 3)],
            Context = "c"u8.ToArray(),
        };
        Assert.Equal(RaftWire.ToWire(v2).ToByteArray(), Core.ConfChangeCodec.Encode(v2));
    }

    [Fact]
    public void RaftCodecSkipsFieldsItDoesNotKnow()
    {
        // A newer writer may add fields; both readers must ignore them alike.
        var wire = RaftWire.ToWire(new Core.ConfChange(Core.ConfChangeType.RemoveNode, 3, default, Id: 8));
        byte[] extended = [.. wire.ToByteArray(), 0x2a, 2, 0x01, 0x02, 0x30, 0x05]; // field 5 bytes, field 6 varint
        AssertSame(RaftWire.FromWire(Pb.ConfChange.Parser.ParseFrom(extended)), Core.ConfChangeCodec.DecodeV1(extended));
    }

    private static void AssertSame(Core.ConfChange expected, Core.ConfChange actual)
    {
        Assert.Equal((expected.Type, expected.NodeId, expected.Id), (actual.Type, actual.NodeId, actual.Id));
        Assert.Equal(expected.Context.ToArray(), actual.Context.ToArray());
    }

    private static void AssertSame(Core.ConfChangeV2 expected, Core.ConfChangeV2 actual)
    {
        Assert.Equal(expected.Transition, actual.Transition);
        Assert.Equal(expected.Changes, actual.Changes);
        Assert.Equal(expected.Context.ToArray(), actual.Context.ToArray());
    }
}
