using System.Buffers.Binary;
using Dotcd.Storage.IO;

namespace Dotcd.Storage.WalFiles;

// The record layout is drawn above WalSegmentReader, the code that parses it.
internal static class WalFormat
{
    public const int HeaderSize = 16;
    public const int Alignment = 8;
    public const int SectorSize = 512; // The unit a disk writes atomically; torn writes leave whole zero sectors.

    public static int FrameSize(int payloadLength) => Align(HeaderSize + payloadLength);

    public static int Align(int n) => (n + (Alignment - 1)) & ~(Alignment - 1);

    public static bool IsKnownType(byte type) => type >= (byte)WalRecordType.Metadata && type <= (byte)WalRecordType.Snapshot;

    /// <summary>Fills the header of a record whose payload is already in place after it; returns the record's crc.</summary>
    public static uint SealRecord(Span<byte> frame, WalRecordType type, int payloadLength, uint prevCrc)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payloadLength);
        frame[4] = (byte)type;
        frame[5] = 0;
        frame[6] = 0;
        frame[7] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(frame[8..], prevCrc);
        uint crc = Crc32C.Append(prevCrc, frame[..8]);
        crc = Crc32C.Append(crc, frame.Slice(HeaderSize, payloadLength));
        BinaryPrimitives.WriteUInt32LittleEndian(frame[12..], crc);
        frame[(HeaderSize + payloadLength)..FrameSize(payloadLength)].Clear();
        return crc;
    }

    /// <summary>
    /// Whether a checkable record starts at offset: a known type, zero reserved bytes, a payload that
    /// fits in the file and a crc that matches its own prevCrc. Says nothing about the chain.
    /// </summary>
    public static bool IsSelfValid(ReadOnlySpan<byte> file, int offset)
    {
        if (file.Length - offset < HeaderSize) return false;
        ReadOnlySpan<byte> header = file.Slice(offset, HeaderSize);
        if (!IsKnownType(header[4]) || header[5] != 0 || header[6] != 0 || header[7] != 0) return false;
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length > (uint)(file.Length - offset - HeaderSize)) return false;
        uint prevCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        uint crc = Crc32C.Append(prevCrc, header[..8]);
        crc = Crc32C.Append(crc, file.Slice(offset + HeaderSize, (int)length));
        return crc == BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
    }

    /// <summary>The offset of the first self-valid record at an aligned offset at or after from, or -1.</summary>
    public static int FindSelfValidRecord(ReadOnlySpan<byte> file, int from)
    {
        int offset = Align(from);
        while (offset <= file.Length - HeaderSize)
        {
            if (file.Slice(offset, HeaderSize).IndexOfAnyExcept((byte)0) < 0)
            {
                // Skip a zero run in one step: the preallocated tail is most of a segment.
                int next = file[offset..].IndexOfAnyExcept((byte)0);
                if (next < 0) return -1;
                offset = Math.Max(offset + Alignment, (offset + next) & ~(Alignment - 1));
                continue;
            }
            if (IsSelfValid(file, offset)) return offset;
            offset += Alignment;
        }
        return -1;
    }

    /// <summary>
    /// Whether the record's bytes [offset, offset + HeaderSize + payloadLength) include the part of
    /// some disk sector that is all zeros: the signature of a write that never reached that sector.
    /// </summary>
    public static bool HasZeroSectorPart(ReadOnlySpan<byte> file, int offset, int payloadLength)
    {
        int end = offset + HeaderSize + payloadLength;
        int start = offset;
        while (start < end)
        {
            int sectorEnd = Math.Min(end, (start / SectorSize + 1) * SectorSize);
            if (file[start..sectorEnd].IndexOfAnyExcept((byte)0) < 0) return true;
            start = sectorEnd;
        }
        return false;
    }
}
