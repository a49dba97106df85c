namespace Dotcd.Raft;

/// <summary>
/// Encodes and decodes conf changes in raftpb's protobuf wire format, byte for byte what etcd 3.4
/// writes, so the data of conf change entries is interchangeable with etcd's.
/// </summary>
/// <remarks>
/// Protobuf wire format used here:
/// <code>
/// field     := tag value
/// tag       := varint (field_number &lt;&lt; 3 | wire_type)
/// wire_type := 0 varint | 1 fixed64 (8 bytes LE) | 2 length-delimited (varint length, bytes)
///            | 3 start group ... 4 end group | 5 fixed32 (4 bytes LE)
/// varint    := 1..10 bytes, 7 bits each, least significant first, high bit = more follows
///
/// ConfChange       { 1: id varint | 2: type varint | 3: node_id varint | 4: context bytes }
/// ConfChangeSingle { 1: type varint | 2: node_id varint }
/// ConfChangeV2     { 1: transition varint | 2: changes ConfChangeSingle (repeated) | 3: context bytes }
/// </code>
/// etcd (proto2, gogoproto nullable=false) always writes the scalar fields, even when zero, in
/// field order; we do the same and leave out an empty context. The decoder takes fields in any
/// order, keeps the last value of a repeated scalar, skips unknown fields and defaults missing ones.
/// Enum values are taken as the int32 they encode, like gogoproto; the consumer rejects unknown ones.
/// </remarks>
public static class ConfChangeCodec
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireBytes = 2;
    private const int WireStartGroup = 3;
    private const int WireEndGroup = 4;
    private const int WireFixed32 = 5;
    private const int MaxGroupDepth = 64; // Bounds the recursion on nested unknown groups.

    /// <summary>Encodes a ConfChange (v1) as etcd does.</summary>
    public static byte[] Encode(ConfChange cc)
    {
        ArgumentNullException.ThrowIfNull(cc);
        ulong type = EnumValue((int)cc.Type);
        int size = 1 + VarintSize(cc.Id) + 1 + VarintSize(type) + 1 + VarintSize(cc.NodeId);
        if (!cc.Context.IsEmpty)
        {
            size += 1 + VarintSize((ulong)cc.Context.Length) + cc.Context.Length;
        }

        var buffer = new byte[size];
        int pos = 0;
        WriteTagAndVarint(buffer, ref pos, 1, cc.Id);
        WriteTagAndVarint(buffer, ref pos, 2, type);
        WriteTagAndVarint(buffer, ref pos, 3, cc.NodeId);
        if (!cc.Context.IsEmpty)
        {
            WriteTagAndBytes(buffer, ref pos, 4, cc.Context.Span);
        }
        EnsureFilled(buffer, pos);
        return buffer;
    }

    /// <summary>Encodes a ConfChangeV2 as etcd does.</summary>
    public static byte[] Encode(ConfChangeV2 cc)
    {
        ArgumentNullException.ThrowIfNull(cc);
        ulong transition = EnumValue((int)cc.Transition);
        int size = 1 + VarintSize(transition);
        foreach (var single in cc.Changes)
        {
            int singleSize = SingleSize(single);
            size += 1 + VarintSize((ulong)singleSize) + singleSize;
        }
        if (!cc.Context.IsEmpty)
        {
            size += 1 + VarintSize((ulong)cc.Context.Length) + cc.Context.Length;
        }

        var buffer = new byte[size];
        int pos = 0;
        WriteTagAndVarint(buffer, ref pos, 1, transition);
        foreach (var single in cc.Changes)
        {
            WriteVarint(buffer, ref pos, (2 << 3) | WireBytes);
            WriteVarint(buffer, ref pos, (ulong)SingleSize(single));
            WriteTagAndVarint(buffer, ref pos, 1, EnumValue((int)single.Type));
            WriteTagAndVarint(buffer, ref pos, 2, single.NodeId);
        }
        if (!cc.Context.IsEmpty)
        {
            WriteTagAndBytes(buffer, ref pos, 3, cc.Context.Span);
        }
        EnsureFilled(buffer, pos);
        return buffer;
    }

    /// <summary>Decodes a ConfChange (v1); throws FormatException on malformed input.</summary>
    public static ConfChange DecodeV1(ReadOnlySpan<byte> data)
    {
        ulong id = 0, type = 0, nodeId = 0;
        byte[] context = Array.Empty<byte>();
        int pos = 0;
        while (pos < data.Length)
        {
            var (field, wireType) = ReadTag(data, ref pos);
            switch (field)
            {
                case 1:
                    id = ReadVarintField(data, ref pos, wireType, "ConfChange.id");
                    break;
                case 2:
                    type = ReadVarintField(data, ref pos, wireType, "ConfChange.type");
                    break;
                case 3:
                    nodeId = ReadVarintField(data, ref pos, wireType, "ConfChange.node_id");
                    break;
                case 4:
                    context = ReadBytesField(data, ref pos, wireType, "ConfChange.context").ToArray();
                    break;
                default:
                    SkipField(data, ref pos, field, wireType, 0);
                    break;
            }
        }
        return new ConfChange((ConfChangeType)EnumFromWire(type), nodeId, context, id);
    }

    /// <summary>Decodes a ConfChangeV2; throws FormatException on malformed input.</summary>
    public static ConfChangeV2 DecodeV2(ReadOnlySpan<byte> data)
    {
        ulong transition = 0;
        var changes = new List<ConfChangeSingle>();
        byte[] context = Array.Empty<byte>();
        int pos = 0;
        while (pos < data.Length)
        {
            var (field, wireType) = ReadTag(data, ref pos);
            switch (field)
            {
                case 1:
                    transition = ReadVarintField(data, ref pos, wireType, "ConfChangeV2.transition");
                    break;
                case 2:
                    changes.Add(DecodeSingle(ReadBytesField(data, ref pos, wireType, "ConfChangeV2.changes")));
                    break;
                case 3:
                    context = ReadBytesField(data, ref pos, wireType, "ConfChangeV2.context").ToArray();
                    break;
                default:
                    SkipField(data, ref pos, field, wireType, 0);
                    break;
            }
        }
        return new ConfChangeV2
        {
            Transition = (ConfChangeTransition)EnumFromWire(transition),
            Changes = changes.ToArray(),
            Context = context,
        };
    }

    /// <summary>Decodes the data of a committed conf change entry of either kind.</summary>
    public static IConfChange Decode(EntryType type, ReadOnlySpan<byte> data) => type switch
    {
        EntryType.ConfChange => DecodeV1(data),
        EntryType.ConfChangeV2 => DecodeV2(data),
        _ => throw new ArgumentException($"entry type {type} carries no conf change", nameof(type)),
    };

    private static ConfChangeSingle DecodeSingle(ReadOnlySpan<byte> data)
    {
        ulong type = 0, nodeId = 0;
        int pos = 0;
        while (pos < data.Length)
        {
            var (field, wireType) = ReadTag(data, ref pos);
            switch (field)
            {
                case 1:
                    type = ReadVarintField(data, ref pos, wireType, "ConfChangeSingle.type");
                    break;
                case 2:
                    nodeId = ReadVarintField(data, ref pos, wireType, "ConfChangeSingle.node_id");
                    break;
                default:
                    SkipField(data, ref pos, field, wireType, 0);
                    break;
            }
        }
        return new ConfChangeSingle((ConfChangeType)EnumFromWire(type), nodeId);
    }

    // An int32 enum is written as its sign-extended 64-bit value (negative values take 10 bytes).
    private static ulong EnumValue(int value) => unchecked((ulong)(long)value);

    // gogoproto keeps the low 32 bits of the varint as the enum's int32.
    private static int EnumFromWire(ulong value) => unchecked((int)value);

    private static (int Field, int WireType) ReadTag(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong tag = ReadVarint(data, ref pos);
        ulong field = tag >> 3;
        if (field == 0 || field > int.MaxValue)
        {
            throw new FormatException($"protobuf: illegal field number {field}");
        }
        return ((int)field, (int)(tag & 7));
    }

    private static ulong ReadVarintField(ReadOnlySpan<byte> data, ref int pos, int wireType, string name)
    {
        if (wireType != WireVarint)
        {
            throw new FormatException($"protobuf: wrong wire type {wireType} for {name}");
        }
        return ReadVarint(data, ref pos);
    }

    private static ReadOnlySpan<byte> ReadBytesField(ReadOnlySpan<byte> data, ref int pos, int wireType, string name)
    {
        if (wireType != WireBytes)
        {
            throw new FormatException($"protobuf: wrong wire type {wireType} for {name}");
        }
        return ReadLengthDelimited(data, ref pos);
    }

    private static ReadOnlySpan<byte> ReadLengthDelimited(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong length = ReadVarint(data, ref pos);
        if (length > (ulong)(data.Length - pos))
        {
            throw new FormatException("protobuf: length-delimited field runs past the end of the message");
        }
        var value = data.Slice(pos, (int)length);
        pos += (int)length;
        return value;
    }

    // Skips an unknown field of any wire type; groups are skipped up to their matching end tag.
    private static void SkipField(ReadOnlySpan<byte> data, ref int pos, int field, int wireType, int depth)
    {
        switch (wireType)
        {
            case WireVarint:
                ReadVarint(data, ref pos);
                break;
            case WireFixed64:
                Advance(data, ref pos, 8);
                break;
            case WireBytes:
                ReadLengthDelimited(data, ref pos);
                break;
            case WireFixed32:
                Advance(data, ref pos, 4);
                break;
            case WireStartGroup:
                if (depth >= MaxGroupDepth)
                {
                    throw new FormatException("protobuf: groups nested too deeply");
                }
                while (true)
                {
                    if (pos >= data.Length)
                    {
                        throw new FormatException("protobuf: unterminated group");
                    }
                    var (innerField, innerWire) = ReadTag(data, ref pos);
                    if (innerWire == WireEndGroup)
                    {
                        if (innerField != field)
                        {
                            throw new FormatException("protobuf: mismatched end group");
                        }
                        return;
                    }
                    SkipField(data, ref pos, innerField, innerWire, depth + 1);
                }
            case WireEndGroup:
                throw new FormatException("protobuf: end group without start group");
            default:
                throw new FormatException($"protobuf: illegal wire type {wireType}");
        }
    }

    private static void Advance(ReadOnlySpan<byte> data, ref int pos, int count)
    {
        if (count > data.Length - pos)
        {
            throw new FormatException("protobuf: fixed-size field runs past the end of the message");
        }
        pos += count;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= data.Length)
            {
                throw new FormatException("protobuf: truncated varint");
            }
            byte b = data[pos++];
            // The tenth byte holds only bit 63; anything more overflows 64 bits.
            if (shift == 63 && b > 1)
            {
                throw new FormatException("protobuf: varint overflows 64 bits");
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new FormatException("protobuf: varint overflows 64 bits");
    }

    private static int SingleSize(ConfChangeSingle single) =>
        1 + VarintSize(EnumValue((int)single.Type)) + 1 + VarintSize(single.NodeId);

    private static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private static void WriteTagAndVarint(byte[] buffer, ref int pos, int field, ulong value)
    {
        WriteVarint(buffer, ref pos, (ulong)((field << 3) | WireVarint));
        WriteVarint(buffer, ref pos, value);
    }

    private static void WriteTagAndBytes(byte[] buffer, ref int pos, int field, ReadOnlySpan<byte> value)
    {
        WriteVarint(buffer, ref pos, (ulong)((field << 3) | WireBytes));
        WriteVarint(buffer, ref pos, (ulong)value.Length);
        value.CopyTo(buffer.AsSpan(pos));
        pos += value.Length;
    }

    private static void WriteVarint(byte[] buffer, ref int pos, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[pos++] = (byte)value;
    }

    private static void EnsureFilled(byte[] buffer, int pos)
    {
        if (pos != buffer.Length)
        {
            throw new InvalidOperationException($"conf change encoder wrote {pos} bytes into a buffer of {buffer.Length}");
        }
    }
}
