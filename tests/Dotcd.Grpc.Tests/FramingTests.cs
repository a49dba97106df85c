using System.Buffers;
using System.Buffers.Binary;

namespace Dotcd.Grpc.Tests;

/// <summary>The frame parser and the header codecs, without a server.</summary>
public sealed class FramingTests
{
    [Fact]
    public void FrameParserReadsConsecutiveMessagesAcrossSegments()
    {
        byte[] wire = [.. Raw.Frame("one"u8), .. Raw.Frame([]), .. Raw.Frame("three"u8)];
        ReadOnlySequence<byte> buffer = Split(wire, [1, 4, 2, 9]);

        var messages = new List<string>();
        while (GrpcFrame.TryRead(ref buffer, 100, out byte flags, out _, out ReadOnlySequence<byte> message) == FrameReadResult.Message)
        {
            Assert.Equal(0, flags);
            messages.Add(System.Text.Encoding.UTF8.GetString(message.ToArray()));
        }

        Assert.Equal(["one", "", "three"], messages);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void FrameParserWaitsForTheWholeMessageAndConsumesNothing()
    {
        byte[] wire = Raw.Frame("hello"u8);
        ReadOnlySequence<byte> partial = new(wire.AsMemory(0, wire.Length - 1));
        Assert.Equal(FrameReadResult.NeedMoreData, GrpcFrame.TryRead(ref partial, 100, out _, out _, out _));
        Assert.Equal(wire.Length - 1, partial.Length);
    }

    [Fact]
    public void FrameParserRefusesOversizeFromTheHeaderAlone()
    {
        byte[] header = [0, 0, 0, 4, 1]; // Announces 1025 bytes; none of them has arrived.
        ReadOnlySequence<byte> buffer = new(header);
        Assert.Equal(FrameReadResult.TooLarge, GrpcFrame.TryRead(ref buffer, 1024, out _, out uint length, out _));
        Assert.Equal(1025u, length);
    }

    [Fact]
    public void FrameParserAgreesWithASimpleModelOnRandomBytes()
    {
        // Seeded fuzzing: random bytes (often shaped like frames), split at random points, must
        // parse exactly as a straightforward contiguous parser does, and never throw.
        var random = new Random(424242);
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            byte[] wire = RandomWire(random);
            long limit = random.Next(0, 40);
            List<(byte Flags, byte[] Message)> expected = ModelParse(wire, limit, out FrameReadResult expectedEnd, out int expectedRest);

            ReadOnlySequence<byte> buffer = Split(wire, RandomCuts(random, wire.Length));
            var actual = new List<(byte, byte[])>();
            FrameReadResult result;
            while ((result = GrpcFrame.TryRead(ref buffer, limit, out byte flags, out _, out ReadOnlySequence<byte> message)) == FrameReadResult.Message)
            {
                actual.Add((flags, message.ToArray()));
            }

            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Flags, actual[i].Item1);
                Assert.Equal(expected[i].Message, actual[i].Item2);
            }

            Assert.Equal(expectedEnd, result);
            Assert.Equal(expectedRest, buffer.Length);
        }
    }

    [Theory]
    [InlineData("etcdserver: key not found", "etcdserver: key not found")]
    [InlineData("100%", "100%25")]
    [InlineData("é", "%C3%A9")]
    [InlineData("a\r\nb", "a%0D%0Ab")]
    [InlineData("~ !", "~ !")]
    public void PercentEncodingMatchesGrpcGo(string message, string wire)
    {
        Assert.Equal(wire, PercentEncoding.Encode(message));
        Assert.Equal(message, PercentEncoding.Decode(wire));
    }

    [Theory]
    [InlineData("50%")]
    [InlineData("%zz")]
    [InlineData("%4")]
    public void PercentDecodingKeepsBrokenEscapesLiteral(string value) =>
        Assert.Equal(value, PercentEncoding.Decode(value));

    [Fact]
    public void PercentDecodingSurvivesRandomInput()
    {
        var random = new Random(99);
        const string alphabet = "%0123456789abcdefABCDEFxyz ~\u00e9";
        for (int i = 0; i < 3000; i++)
        {
            char[] chars = new char[random.Next(0, 12)];
            for (int k = 0; k < chars.Length; k++)
            {
                chars[k] = alphabet[random.Next(alphabet.Length)];
            }

            string value = new(chars);
            string decoded = PercentEncoding.Decode(value);
            Assert.Equal(decoded, PercentEncoding.Decode(PercentEncoding.Encode(decoded)));
        }
    }

    private static byte[] RandomWire(Random random)
    {
        var wire = new List<byte>();
        int parts = random.Next(0, 4);
        for (int p = 0; p < parts; p++)
        {
            if (random.Next(3) == 0)
            {
                byte[] junk = new byte[random.Next(0, 8)];
                random.NextBytes(junk);
                wire.AddRange(junk);
            }
            else
            {
                byte[] message = new byte[random.Next(0, 30)];
                random.NextBytes(message);
                byte[] frame = Raw.Frame(message, flags: (byte)(random.Next(4) == 0 ? random.Next(256) : 0));
                if (random.Next(5) == 0)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)random.Next()); // A lying length.
                }

                wire.AddRange(frame);
            }
        }

        return wire.ToArray();
    }

    private static List<(byte, byte[])> ModelParse(byte[] wire, long limit, out FrameReadResult end, out int rest)
    {
        var messages = new List<(byte, byte[])>();
        int offset = 0;
        while (true)
        {
            if (wire.Length - offset < 5)
            {
                end = FrameReadResult.NeedMoreData;
                break;
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(wire.AsSpan(offset + 1, 4));
            if (length > limit)
            {
                end = FrameReadResult.TooLarge;
                break;
            }

            if (wire.Length - offset - 5 < length)
            {
                end = FrameReadResult.NeedMoreData;
                break;
            }

            messages.Add((wire[offset], wire.AsSpan(offset + 5, (int)length).ToArray()));
            offset += 5 + (int)length;
        }

        rest = wire.Length - offset;
        return messages;
    }

    private static int[] RandomCuts(Random random, int length)
    {
        var cuts = new List<int>();
        int remaining = length;
        while (remaining > 0)
        {
            int size = random.Next(1, Math.Min(remaining, 7) + 1);
            cuts.Add(size);
            remaining -= size;
        }

        return cuts.ToArray();
    }

    /// <summary>A multi-segment sequence over the bytes, cut into pieces of the given sizes.</summary>
    internal static ReadOnlySequence<byte> Split(byte[] bytes, int[] sizes)
    {
        Segment? first = null;
        Segment? last = null;
        int offset = 0;
        foreach (int size in sizes)
        {
            if (offset >= bytes.Length)
            {
                break;
            }

            int take = Math.Min(size, bytes.Length - offset);
            var segment = new Segment(bytes.AsMemory(offset, take));
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.Append(segment);
            }

            last = segment;
            offset += take;
        }

        if (offset < bytes.Length)
        {
            var tail = new Segment(bytes.AsMemory(offset));
            if (last is null)
            {
                first = tail;
            }
            else
            {
                last.Append(tail);
            }

            last = tail;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public void Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
        }
    }
}
