namespace Dotcd.Raft.Tests.Codec;

// Byte vectors were derived by hand from the protobuf wire format and checked against
// `protoc --encode` with raftpb's ConfChange / ConfChangeV2 messages.
public sealed class ConfChangeCodecTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    [Theory]
    // id=0, type=AddNode, node_id=1: zero scalars are still written, as etcd does.
    [InlineData("08 00 10 00 18 01", 0UL, ConfChangeType.AddNode, 1UL, "")]
    // node_id=300 is a two-byte varint; context "ab".
    [InlineData("08 05 10 01 18 ac 02 22 02 61 62", 5UL, ConfChangeType.RemoveNode, 300UL, "ab")]
    // The largest ids take ten varint bytes.
    [InlineData("08 ff ff ff ff ff ff ff ff ff 01 10 03 18 ff ff ff ff ff ff ff ff ff 01", ulong.MaxValue, ConfChangeType.AddLearnerNode, ulong.MaxValue, "")]
    public void ConfChangeEncodesToEtcdsBytes(string hex, ulong id, ConfChangeType type, ulong nodeId, string context)
    {
        var cc = new ConfChange(type, nodeId, System.Text.Encoding.ASCII.GetBytes(context), id);

        Assert.Equal(Hex(hex), ConfChangeCodec.Encode(cc));

        ConfChange decoded = ConfChangeCodec.DecodeV1(Hex(hex));
        Assert.Equal(id, decoded.Id);
        Assert.Equal(type, decoded.Type);
        Assert.Equal(nodeId, decoded.NodeId);
        Assert.Equal(context, System.Text.Encoding.ASCII.GetString(decoded.Context.Span));
    }

    [Fact]
    public void ConfChangeV2EncodesToEtcdsBytes()
    {
        var cc = new ConfChangeV2
        {
            Transition = ConfChangeTransition.JointExplicit,
            Changes = [new(ConfChangeType.AddLearnerNode, 4), new(ConfChangeType.AddNode, 1)],
            Context = "x"u8.ToArray(),
        };
        byte[] expected = Hex("08 02 12 04 08 03 10 04 12 04 08 00 10 01 1a 01 78");

        Assert.Equal(expected, ConfChangeCodec.Encode(cc));

        ConfChangeV2 decoded = ConfChangeCodec.DecodeV2(expected);
        Assert.Equal(ConfChangeTransition.JointExplicit, decoded.Transition);
        Assert.Equal(cc.Changes, decoded.Changes);
        Assert.Equal("x"u8.ToArray(), decoded.Context.ToArray());
    }

    [Fact]
    public void AnEmptyConfChangeV2IsTheLeaveJointRequest()
    {
        byte[] bytes = ConfChangeCodec.Encode(new ConfChangeV2());
        Assert.Equal(Hex("08 00"), bytes);

        ConfChangeV2 decoded = ConfChangeCodec.DecodeV2(bytes);
        Assert.True(decoded.LeaveJoint);
        Assert.True(ConfChangeCodec.DecodeV2([]).LeaveJoint);
    }

    [Fact]
    public void RandomChangesRoundTrip()
    {
        var random = new Random(99);
        for (int round = 0; round < 2000; round++)
        {
            var context = new byte[random.Next(3) == 0 ? 0 : random.Next(1, 300)];
            random.NextBytes(context);

            var v1 = new ConfChange((ConfChangeType)random.Next(4), RandomId(random), context, RandomId(random));
            ConfChange v1Back = ConfChangeCodec.DecodeV1(ConfChangeCodec.Encode(v1));
            Assert.Equal((v1.Id, v1.Type, v1.NodeId), (v1Back.Id, v1Back.Type, v1Back.NodeId));
            Assert.Equal(context, v1Back.Context.ToArray());

            var v2 = new ConfChangeV2
            {
                Transition = (ConfChangeTransition)random.Next(3),
                Changes = Enumerable.Range(0, random.Next(6)).Select(_ => new ConfChangeSingle((ConfChangeType)random.Next(4), RandomId(random))).ToArray(),
                Context = context,
            };
            ConfChangeV2 v2Back = ConfChangeCodec.DecodeV2(ConfChangeCodec.Encode(v2));
            Assert.Equal(v2.Transition, v2Back.Transition);
            Assert.Equal(v2.Changes, v2Back.Changes);
            Assert.Equal(context, v2Back.Context.ToArray());
        }
    }

    [Fact]
    public void FieldsMayComeInAnyOrderAndMissingOnesDefault()
    {
        ConfChange reordered = ConfChangeCodec.DecodeV1(Hex("22 01 7a 18 07 10 03 08 02"));
        Assert.Equal((2UL, ConfChangeType.AddLearnerNode, 7UL), (reordered.Id, reordered.Type, reordered.NodeId));
        Assert.Equal("z"u8.ToArray(), reordered.Context.ToArray());

        ConfChange onlyNode = ConfChangeCodec.DecodeV1(Hex("18 09"));
        Assert.Equal((0UL, ConfChangeType.AddNode, 9UL), (onlyNode.Id, onlyNode.Type, onlyNode.NodeId));
        Assert.True(onlyNode.Context.IsEmpty);

        ConfChangeV2 v2 = ConfChangeCodec.DecodeV2(Hex("12 02 10 05 1a 00 08 01 12 00"));
        Assert.Equal(ConfChangeTransition.JointImplicit, v2.Transition);
        Assert.Equal([new ConfChangeSingle(ConfChangeType.AddNode, 5), new ConfChangeSingle(ConfChangeType.AddNode, 0)], v2.Changes);

        // A repeated scalar field keeps its last value.
        Assert.Equal(4UL, ConfChangeCodec.DecodeV1(Hex("18 01 18 04")).NodeId);
    }

    [Fact]
    public void UnknownFieldsOfEveryWireTypeAreSkipped()
    {
        // node_id=3, then unknown fields: 9 varint, 10 fixed64, 11 fixed32, 12 bytes,
        // 13 group holding a varint and a nested group, then type=RemoveNode.
        byte[] v1 = Hex(
            "18 03" +
            "48 96 01" +
            "51 01 02 03 04 05 06 07 08" +
            "5d 01 02 03 04" +
            "62 03 aa bb cc" +
            "6b 08 01 73 08 02 74 6c" +
            "10 01");
        ConfChange cc = ConfChangeCodec.DecodeV1(v1);
        Assert.Equal((ConfChangeType.RemoveNode, 3UL), (cc.Type, cc.NodeId));

        // Unknown fields inside a ConfChangeSingle and in the ConfChangeV2 itself.
        ConfChangeV2 v2 = ConfChangeCodec.DecodeV2(Hex("20 07 12 06 08 03 28 09 10 0b 08 02"));
        Assert.Equal(ConfChangeTransition.JointExplicit, v2.Transition);
        Assert.Equal([new ConfChangeSingle(ConfChangeType.AddLearnerNode, 11)], v2.Changes);
    }

    [Theory]
    [InlineData("08")]                                   // Tag without its value.
    [InlineData("08 80")]                                // Truncated varint.
    [InlineData("18 ff ff ff ff ff ff ff ff ff ff 01")]  // Varint longer than ten bytes.
    [InlineData("18 ff ff ff ff ff ff ff ff ff 02")]     // Tenth varint byte overflows 64 bits.
    [InlineData("22 05 61 62")]                          // Bytes field longer than the message.
    [InlineData("22 ff ff ff ff 0f")]                    // Length beyond int range.
    [InlineData("22 ff ff ff ff ff ff ff ff ff 01")]     // Length of 2^64-1.
    [InlineData("0a 00")]                                // Known varint field sent as bytes.
    [InlineData("20 01")]                                // Known bytes field (context) sent as a varint.
    [InlineData("00 00")]                                // Field number 0.
    [InlineData("0e 00")]                                // Wire type 6 does not exist.
    [InlineData("0f 00")]                                // Wire type 7 does not exist.
    [InlineData("4c")]                                   // End group without a start.
    [InlineData("4b 08 01")]                             // Group never ended.
    [InlineData("4b 54")]                                // Group ended with another field number.
    [InlineData("49 01 02 03")]                          // Truncated fixed64.
    [InlineData("4d 01 02")]                             // Truncated fixed32.
    [InlineData("80 80 80 80 80 80 80 80 80 80 01")]     // Tag longer than ten bytes.
    [InlineData("f8 ff ff ff ff 01 00")]                 // Field number beyond 2^31.
    public void MalformedConfChangeIsRejected(string hex)
    {
        Assert.Throws<FormatException>(() => ConfChangeCodec.DecodeV1(Hex(hex)));
    }

    [Theory]
    [InlineData("12 02 08 80")]       // Truncated varint inside a change.
    [InlineData("12 03 08 01")]       // Change longer than the message.
    [InlineData("12 02 0a 00")]       // Change type sent as bytes.
    [InlineData("10 01")]             // Changes sent as a varint.
    [InlineData("08 01 1a 02 78")]    // Truncated context.
    public void MalformedConfChangeV2IsRejected(string hex)
    {
        Assert.Throws<FormatException>(() => ConfChangeCodec.DecodeV2(Hex(hex)));
    }

    [Fact]
    public void DeeplyNestedGroupsAreRejectedNotRecursedForever()
    {
        var data = new List<byte>();
        for (int i = 0; i < 10_000; i++)
        {
            data.Add(0x4b); // Start group 9, never ended.
        }
        Assert.Throws<FormatException>(() => ConfChangeCodec.DecodeV1(data.ToArray()));
    }

    [Fact]
    public void TruncatedEncodingsDecodeOrFailWithFormatException()
    {
        byte[] v1 = ConfChangeCodec.Encode(new ConfChange(ConfChangeType.AddLearnerNode, 1UL << 40, "context"u8.ToArray(), 77));
        byte[] v2 = ConfChangeCodec.Encode(new ConfChangeV2
        {
            Transition = ConfChangeTransition.JointImplicit,
            Changes = [new(ConfChangeType.AddNode, 300), new(ConfChangeType.RemoveNode, 1UL << 50)],
            Context = "ctx"u8.ToArray(),
        });
        for (int length = 0; length < v1.Length; length++)
        {
            DecodesOrFormatException(() => ConfChangeCodec.DecodeV1(v1.AsSpan(0, length)));
        }
        for (int length = 0; length < v2.Length; length++)
        {
            DecodesOrFormatException(() => ConfChangeCodec.DecodeV2(v2.AsSpan(0, length)));
        }
        // Cutting inside the last varint cannot yield a message.
        Assert.Throws<FormatException>(() => ConfChangeCodec.DecodeV2(v2.AsSpan(0, v2.Length - 1)));
    }

    [Fact]
    public void RandomBytesNeverCrashTheDecoder()
    {
        var random = new Random(31337);
        var buffer = new byte[48];
        for (int round = 0; round < 5_000; round++)
        {
            int length = random.Next(buffer.Length + 1);
            random.NextBytes(buffer);
            DecodesOrFormatException(() => ConfChangeCodec.DecodeV1(buffer.AsSpan(0, length)));
            DecodesOrFormatException(() => ConfChangeCodec.DecodeV2(buffer.AsSpan(0, length)));
        }
    }

    [Fact]
    public void DecodePicksTheFormatByEntryType()
    {
        byte[] v1 = ConfChangeCodec.Encode(new ConfChange(ConfChangeType.AddNode, 3));
        byte[] v2 = ConfChangeCodec.Encode(new ConfChangeV2 { Changes = [new(ConfChangeType.RemoveNode, 4)] });

        IConfChange first = ConfChangeCodec.Decode(EntryType.ConfChange, v1);
        Assert.Equal(new ConfChangeSingle(ConfChangeType.AddNode, 3), Assert.Single(first.AsV2().Changes));
        Assert.NotNull(first.AsV1());

        IConfChange second = ConfChangeCodec.Decode(EntryType.ConfChangeV2, v2);
        Assert.Equal(new ConfChangeSingle(ConfChangeType.RemoveNode, 4), Assert.Single(second.AsV2().Changes));
        Assert.Null(second.AsV1());

        Assert.Throws<ArgumentException>(() => ConfChangeCodec.Decode(EntryType.Normal, v1));
    }

    private static ulong RandomId(Random random) => random.Next(4) switch
    {
        0 => 0,
        1 => (ulong)random.Next(1, 200),
        2 => ulong.MaxValue - (ulong)random.Next(3),
        _ => (ulong)random.NextInt64() << 1,
    };

    private delegate object Decoder();

    private static void DecodesOrFormatException(Decoder decode)
    {
        try
        {
            Assert.NotNull(decode());
        }
        catch (FormatException)
        {
        }
    }
}
