using System.Buffers.Binary;
using System.Text;

namespace Dotcd.Simulation;

/// <summary>What a client asks the replicated state machine to do (reads go through ReadIndex, not the log).</summary>
public enum KvCommandKind : byte
{
    Put = 1,
    Delete = 2,
    Cas = 3,
    Probe = 4, // The simulator's own proposal after faults heal; changes nothing.
}

/// <summary>One command of a Normal log entry. (ClientId, Seq) names the request: it lets the state
/// machine apply a request at most once (a duplicated MsgProp appends it twice) and lets the member
/// that took the request find its waiter.</summary>
public readonly record struct KvCommand(KvCommandKind Kind, int ClientId, ulong Seq, string Key, string? Value, string? Expected)
{
    // Command bytes (all integers big-endian; a string is [length: u16][UTF-8 bytes]):
    //   [kind: u8][client id: i32][seq: u64][key: string][value present: u8][value: string]?
    //   [expected present: u8][expected: string]?
    public byte[] Encode()
    {
        int size = 1 + 4 + 8 + 2 + Encoding.UTF8.GetByteCount(Key) + 1 + 1;
        if (Value is not null) size += 2 + Encoding.UTF8.GetByteCount(Value);
        if (Expected is not null) size += 2 + Encoding.UTF8.GetByteCount(Expected);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        span[0] = (byte)Kind;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], ClientId);
        BinaryPrimitives.WriteUInt64BigEndian(span[5..], Seq);
        int at = 13;
        at = WriteString(span, at, Key);
        at = WriteOptional(span, at, Value);
        at = WriteOptional(span, at, Expected);
        if (at != size) throw new InvalidOperationException("command size mismatch");
        return bytes;
    }

    public static KvCommand Decode(ReadOnlySpan<byte> data)
    {
        var kind = (KvCommandKind)data[0];
        int clientId = BinaryPrimitives.ReadInt32BigEndian(data[1..]);
        ulong seq = BinaryPrimitives.ReadUInt64BigEndian(data[5..]);
        int at = 13;
        string key = ReadString(data, ref at);
        string? value = ReadOptional(data, ref at);
        string? expected = ReadOptional(data, ref at);
        if (at != data.Length) throw new FormatException("trailing bytes after a command");
        return new KvCommand(kind, clientId, seq, key, value, expected);
    }

    internal static int WriteString(Span<byte> span, int at, string s)
    {
        int n = Encoding.UTF8.GetBytes(s, span[(at + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)n);
        return at + 2 + n;
    }

    internal static string ReadString(ReadOnlySpan<byte> data, ref int at)
    {
        int n = BinaryPrimitives.ReadUInt16BigEndian(data[at..]);
        string s = Encoding.UTF8.GetString(data.Slice(at + 2, n));
        at += 2 + n;
        return s;
    }

    private static int WriteOptional(Span<byte> span, int at, string? s)
    {
        span[at] = s is null ? (byte)0 : (byte)1;
        return s is null ? at + 1 : WriteString(span, at + 1, s);
    }

    private static string? ReadOptional(ReadOnlySpan<byte> data, ref int at)
    {
        byte present = data[at++];
        return present == 0 ? null : ReadString(data, ref at);
    }

    public override string ToString() => Kind switch
    {
        KvCommandKind.Put => $"c{ClientId}#{Seq} put {Key}={Value}",
        KvCommandKind.Delete => $"c{ClientId}#{Seq} delete {Key}",
        KvCommandKind.Cas => $"c{ClientId}#{Seq} cas {Key} {Expected ?? "<absent>"}->{Value}",
        _ => $"probe#{Seq}",
    };
}

/// <summary>The answer the state machine gives to an applied command.</summary>
public readonly record struct KvApplyResult(bool Applied, bool Succeeded);
