namespace Dotcd.Mvcc;

/// <summary>Reads the fields of stored mvccpb.KeyValue bytes without building a message
/// (rebuilding the index at open touches every row).</summary>
internal ref struct KeyValueFields
{
    // mvccpb.KeyValue: 1 key (bytes), 2 create_revision, 3 mod_revision, 4 version (varints),
    // 5 value (bytes), 6 lease (varint). Each field: tag varint (number << 3 | wire type), then
    // a varint (wire type 0) or a length varint and that many bytes (wire type 2).
    public ReadOnlySpan<byte> Key;
    public long CreateRevision;
    public long ModRevision;
    public long Version;
    public long Lease;

    public static KeyValueFields Parse(ReadOnlySpan<byte> data)
    {
        var f = new KeyValueFields();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong tag = ReadVarint(data, ref pos);
            int field = (int)(tag >> 3);
            int wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    long v = (long)ReadVarint(data, ref pos);
                    switch (field)
                    {
                        case 2: f.CreateRevision = v; break;
                        case 3: f.ModRevision = v; break;
                        case 4: f.Version = v; break;
                        case 6: f.Lease = v; break;
                    }
                    break;
                case 2:
                    int length = checked((int)ReadVarint(data, ref pos));
                    if (field == 1)
                    {
                        f.Key = data.Slice(pos, length);
                    }
                    pos += length;
                    break;
                case 1:
                    pos += 8;
                    break;
                case 5:
                    pos += 4;
                    break;
                default:
                    throw new InvalidDataException($"unexpected wire type {wireType} in a stored KeyValue");
            }
        }
        if (pos != data.Length)
        {
            throw new InvalidDataException("truncated KeyValue");
        }
        return f;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
        throw new InvalidDataException("varint too long in a stored KeyValue");
    }
}
