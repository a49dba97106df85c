using System.Buffers;
using System.Buffers.Binary;

namespace Dotcd.Grpc;

/// <summary>The outcome of trying to read one length-prefixed message from a buffer.</summary>
internal enum FrameReadResult
{
    /// <summary>A whole message was read and the buffer advanced past it.</summary>
    Message,

    /// <summary>The buffer holds less than a whole message; nothing was consumed.</summary>
    NeedMoreData,

    /// <summary>The header announces a message above the limit; nothing was consumed.</summary>
    TooLarge,
}

/// <summary>gRPC's length-prefixed message framing inside the HTTP/2 DATA stream.</summary>
internal static class GrpcFrame
{
    public const int HeaderLength = 5;

    public const byte FlagCompressed = 1;

    // gRPC frame: [compressed: u8][length: u32 big-endian][message: length bytes]
    //
    // The parser never copies a message: it returns a slice of the buffer, which stays valid until
    // the caller advances its PipeReader past it.
    public static FrameReadResult TryRead(
        ref ReadOnlySequence<byte> buffer,
        long maxMessageBytes,
        out byte flags,
        out uint length,
        out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderLength)
        {
            flags = 0;
            length = 0;
            return FrameReadResult.NeedMoreData;
        }

        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= HeaderLength)
        {
            flags = first[0];
            length = BinaryPrimitives.ReadUInt32BigEndian(first[1..]);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderLength];
            buffer.Slice(0, HeaderLength).CopyTo(header);
            flags = header[0];
            length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        }

        if (length > maxMessageBytes)
        {
            return FrameReadResult.TooLarge;
        }

        if (buffer.Length - HeaderLength < length)
        {
            return FrameReadResult.NeedMoreData;
        }

        message = buffer.Slice(HeaderLength, length);
        buffer = buffer.Slice(message.End);
        return FrameReadResult.Message;
    }

    public static void WriteHeader(Span<byte> destination, int length, byte flags = 0)
    {
        destination[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }
}
