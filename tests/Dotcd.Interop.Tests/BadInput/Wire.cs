namespace Dotcd.Interop.Tests.BadInput;

/// <summary>Hand-built protobuf bytes, so a test can write what no encoder would.</summary>
public static class Wire
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int Delimited = 2;
    public const int StartGroup = 3;
    public const int EndGroup = 4;
    public const int Fixed32 = 5;

    public static byte[] Tag(int field, int wireType) => VarintBytes(((ulong)(uint)field << 3) | (uint)wireType);

    public static byte[] VarintBytes(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    /// <summary>A varint field (int64 values are sign-extended to ten bytes, as protobuf writes them).</summary>
    public static byte[] Int(int field, long value) => [.. Tag(field, Varint), .. VarintBytes((ulong)value)];

    public static byte[] Bytes(int field, ReadOnlySpan<byte> value) =>
        [.. Tag(field, Delimited), .. VarintBytes((ulong)value.Length), .. value];

    public static byte[] Text(int field, string value) => Bytes(field, System.Text.Encoding.UTF8.GetBytes(value));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
