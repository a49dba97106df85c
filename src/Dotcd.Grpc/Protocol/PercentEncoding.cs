using System.Text;

namespace Dotcd.Grpc;

/// <summary>
/// The grpc-message encoding of the gRPC HTTP/2 spec, as grpc-go does it: the message's UTF-8
/// bytes, with every byte outside printable ASCII (0x20..0x7E) and '%' itself written as %XX.
/// </summary>
internal static class PercentEncoding
{
    public static string Encode(string message)
    {
        foreach (char c in message)
        {
            if (c < ' ' || c > '~' || c == '%')
            {
                return EncodeSlow(message);
            }
        }

        return message; // The common case: ASCII etcd messages go out unchanged and unallocated.
    }

    private static string EncodeSlow(string message)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(message); // Lone surrogates become U+FFFD, as Go's RuneError does.
        var builder = new StringBuilder(utf8.Length * 3);
        foreach (byte b in utf8)
        {
            if (b >= ' ' && b <= '~' && b != '%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(HexDigit(b >> 4)).Append(HexDigit(b & 0xF));
            }
        }

        return builder.ToString();
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'A' + value - 10);

    /// <summary>
    /// Decodes a grpc-message value. A '%' not followed by two hex digits stays literal (grpc-go
    /// does the same), so a message from a sloppy server still reads.
    /// </summary>
    public static string Decode(string value)
    {
        if (!value.Contains('%'))
        {
            return value;
        }

        var bytes = new List<byte>(value.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%' && i + 2 < value.Length && TryHex(value[i + 1], out int hi) && TryHex(value[i + 2], out int lo))
            {
                bytes.Add((byte)((hi << 4) | lo));
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes.Add((byte)c);
            }
            else
            {
                // Not valid in a header, but keep it rather than lose it.
                int written = new Rune(char.IsSurrogate(c) ? '\uFFFD' : c).EncodeToUtf8(utf8);
                for (int k = 0; k < written; k++)
                {
                    bytes.Add(utf8[k]);
                }
            }
        }

        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    private static bool TryHex(char c, out int value)
    {
        value = c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
        return value >= 0;
    }
}
