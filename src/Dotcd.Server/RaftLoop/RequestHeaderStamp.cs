namespace Dotcd.Server.RaftLoop;

/// <summary>Writes the request ID into an encoded etcdserverpb.InternalRaftRequest.</summary>
/// <remarks>
/// Appends one more header field to the message; protobuf merges repeated occurrences of an
/// embedded message field, so a header the caller already wrote (username, auth revision) keeps
/// its fields and takes this ID:
/// <code>
/// [0xA2 0x06]  tag: field 100 (header), wire type 2  = varint(100 &lt;&lt; 3 | 2)
/// [length]     varint: 1 + size of the ID varint
/// [0x08]       tag: RequestHeader field 1 (ID), wire type 0
/// [id]         varint
/// </code>
/// </remarks>
internal static class RequestHeaderStamp
{
    public static byte[] Append(ReadOnlySpan<byte> request, ulong id)
    {
        int idSize = VarintSize(id);
        var data = new byte[request.Length + 4 + idSize];
        request.CopyTo(data);
        int pos = request.Length;
        data[pos++] = 0xA2;
        data[pos++] = 0x06;
        data[pos++] = (byte)(1 + idSize); // At most 11: one byte.
        data[pos++] = 0x08;
        while (id >= 0x80)
        {
            data[pos++] = (byte)(id | 0x80);
            id >>= 7;
        }
        data[pos] = (byte)id;
        return data;
    }

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
}
