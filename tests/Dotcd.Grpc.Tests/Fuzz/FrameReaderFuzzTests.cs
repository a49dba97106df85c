using System.Buffers;
using System.Buffers.Binary;

namespace Dotcd.Grpc.Tests.Fuzz;

/// <summary>
/// The server's frame reader (GrpcFrame.TryRead) on random and mutated bytes, split into random
/// segments as a PipeReader hands them out, checked against the framing rule written out plainly.
/// </summary>
public sealed class FrameReaderFuzzTests
{
    public static TheoryData<int> Seeds() => FuzzSettings.Seeds();

    [Theory]
    [MemberData(nameof(Seeds))]
    public void FrameReaderAgreesWithTheFramingRuleOnAnyBytes(int seed)
    {
        var random = new Random(seed);
        int cases = FuzzSettings.Cases(2000);
        for (int n = 0; n < cases; n++)
        {
            byte[] bytes = RandomStream(random);
            long max = random.Next(4) switch
            {
                0 => 0,
                1 => random.Next(1, 64),
                2 => 4L * 1024 * 1024,
                _ => uint.MaxValue,
            };
            ReadOnlySequence<byte> buffer = Segmented(bytes, random);
            try
            {
                CheckAll(bytes, buffer, max);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}, case {n} ({Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 64)))}...): {e.Message}");
            }
        }
    }

    // Reads frames until the buffer runs dry, comparing each outcome with the rule:
    // [flags: u8][length: u32 big-endian][message], a message above max is refused before its bytes come.
    private static void CheckAll(byte[] bytes, ReadOnlySequence<byte> buffer, long max)
    {
        int offset = 0;
        while (true)
        {
            ReadOnlySequence<byte> before = buffer;
            FrameReadResult result = GrpcFrame.TryRead(ref buffer, max, out byte flags, out uint length, out ReadOnlySequence<byte> message);
            int left = bytes.Length - offset;
            if (left < GrpcFrame.HeaderLength)
            {
                Assert.Equal(FrameReadResult.NeedMoreData, result);
                AssertUnchanged(before, buffer);
                return;
            }

            uint expectedLength = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset + 1));
            Assert.Equal(bytes[offset], flags);
            Assert.Equal(expectedLength, length);
            if (expectedLength > max)
            {
                Assert.Equal(FrameReadResult.TooLarge, result);
                AssertUnchanged(before, buffer);
                return;
            }

            if (left - GrpcFrame.HeaderLength < expectedLength)
            {
                Assert.Equal(FrameReadResult.NeedMoreData, result);
                AssertUnchanged(before, buffer);
                return;
            }

            Assert.Equal(FrameReadResult.Message, result);
            Assert.Equal(bytes.AsSpan(offset + GrpcFrame.HeaderLength, (int)expectedLength).ToArray(), message.ToArray());
            offset += GrpcFrame.HeaderLength + (int)expectedLength;
            Assert.Equal(bytes.Length - offset, buffer.Length);
        }
    }

    private static void AssertUnchanged(ReadOnlySequence<byte> before, ReadOnlySequence<byte> after)
    {
        Assert.True(before.Start.Equals(after.Start) && before.Length == after.Length, "a partial or refused frame consumed bytes");
    }

    /// <summary>Well-formed frames, mutated ones and plain noise, in one stream.</summary>
    internal static byte[] RandomStream(Random random)
    {
        var stream = new List<byte>();
        int pieces = random.Next(0, 5);
        for (int i = 0; i < pieces; i++)
        {
            byte[] payload = new byte[random.Next(4) == 0 ? random.Next(0, 300) : random.Next(0, 16)];
            random.NextBytes(payload);
            var frame = new byte[5 + payload.Length];
            frame[0] = random.Next(8) == 0 ? (byte)random.Next(256) : (byte)0;
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(frame, 5);
            switch (random.Next(8))
            {
                case 0: // A length that lies.
                    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)random.Next(0, 400));
                    break;
                case 1: // A huge length.
                    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), uint.MaxValue - (uint)random.Next(0, 3));
                    break;
                case 2: // Cut short.
                    frame = frame[..random.Next(0, frame.Length)];
                    break;
                case 3: // A flipped byte anywhere.
                    frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 4: // Noise instead of a frame.
                    frame = new byte[random.Next(0, 12)];
                    random.NextBytes(frame);
                    break;
            }

            stream.AddRange(frame);
        }

        return [.. stream];
    }

    /// <summary>The bytes as a sequence of 1 to 6 segments, some of them empty.</summary>
    internal static ReadOnlySequence<byte> Segmented(byte[] bytes, Random random)
    {
        int cuts = random.Next(0, 6);
        var points = new List<int> { 0, bytes.Length };
        for (int i = 0; i < cuts; i++)
        {
            points.Add(random.Next(0, bytes.Length + 1));
        }

        points.Sort();
        if (points.Count == 2)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        Segment first = new(bytes.AsMemory(points[0], points[1] - points[0]), 0);
        Segment last = first;
        for (int i = 1; i < points.Count - 1; i++)
        {
            last = last.Append(bytes.AsMemory(points[i], points[i + 1] - points[i]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
