using Google.Protobuf;

namespace Dotcd.Client;

/// <summary>Range ends as etcd reads them: [key, rangeEnd), with "\0" meaning "no end".</summary>
public static class KeyRange
{
    /// <summary>A range end of a single zero byte: every key at or after the start key.</summary>
    public static ReadOnlySpan<byte> NoEnd => [0];

    /// <summary>
    /// The smallest key greater than every key that starts with <paramref name="prefix"/>: the
    /// prefix with its last byte below 0xff incremented and the rest dropped; "\0" (no end) when
    /// every byte is 0xff or the prefix is empty.
    /// </summary>
    public static byte[] PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        for (int i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] < 0xff)
            {
                byte[] end = prefix[..(i + 1)].ToArray();
                end[i]++;
                return end;
            }
        }

        return [0];
    }

    // clientv3's convention: an empty prefix or from-key start means "all keys", written as key "\0".
    internal static ByteString StartOf(ReadOnlySpan<byte> key) =>
        key.IsEmpty ? ByteString.CopyFrom(NoEnd) : ByteString.CopyFrom(key);

    internal static ByteString Bytes(ReadOnlySpan<byte> value) => ByteString.CopyFrom(value);

    internal static ByteString Bytes(string value) => ByteString.CopyFromUtf8(value);

    internal static byte[] Utf8(string value) => System.Text.Encoding.UTF8.GetBytes(value);
}
