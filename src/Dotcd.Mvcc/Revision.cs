using System.Buffers.Binary;

namespace Dotcd.Mvcc;

/// <summary>A point in the store's history: the main revision of a write txn and the change's
/// position inside it.</summary>
public readonly record struct Revision(long Main, long Sub) : IComparable<Revision>
{
    public int CompareTo(Revision other)
    {
        int c = Main.CompareTo(other.Main);
        return c != 0 ? c : Sub.CompareTo(other.Sub);
    }

    public static bool operator >(Revision a, Revision b) => a.CompareTo(b) > 0;
    public static bool operator <(Revision a, Revision b) => a.CompareTo(b) < 0;
    public static bool operator >=(Revision a, Revision b) => a.CompareTo(b) >= 0;
    public static bool operator <=(Revision a, Revision b) => a.CompareTo(b) <= 0;

    public override string ToString() => $"{Main}_{Sub}";
}

/// <summary>etcd's on-disk revision encoding, the primary key of the <c>key</c> bucket.</summary>
public static class RevisionBytes
{
    // Revision key: [main: u64 big-endian]['_'][sub: u64 big-endian] = 17 bytes,
    // followed by 't' (18 bytes) when the row is a tombstone (the key was deleted).
    // Byte order of these keys is revision order, which is why rows scan in history order.
    public const int Length = 17;
    public const int MarkedLength = 18;
    public const byte TombstoneMark = (byte)'t';

    public static void Write(Span<byte> destination, Revision revision)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)revision.Main);
        destination[8] = (byte)'_';
        BinaryPrimitives.WriteUInt64BigEndian(destination[9..], (ulong)revision.Sub);
    }

    public static byte[] ToBytes(Revision revision, bool tombstone = false)
    {
        var bytes = new byte[tombstone ? MarkedLength : Length];
        Write(bytes, revision);
        if (tombstone)
        {
            bytes[Length] = TombstoneMark;
        }
        return bytes;
    }

    public static Revision Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length)
        {
            throw new InvalidDataException($"revision key has {bytes.Length} bytes, want at least {Length}");
        }
        return new Revision(
            (long)BinaryPrimitives.ReadUInt64BigEndian(bytes),
            (long)BinaryPrimitives.ReadUInt64BigEndian(bytes[9..]));
    }

    public static bool IsTombstone(ReadOnlySpan<byte> bytes) =>
        bytes.Length == MarkedLength && bytes[Length] == TombstoneMark;
}
