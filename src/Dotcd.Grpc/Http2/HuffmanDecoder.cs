namespace Dotcd.Grpc;

/// <summary>
/// Decodes HPACK's Huffman-coded strings (RFC 7541 section 5.2, code in Appendix B). The code is
/// canonical, so the code lengths alone define it; codes are rebuilt from them at startup.
/// </summary>
internal static class HuffmanDecoder
{
    // RFC 7541 Appendix B: code length in bits of symbols 0..255. EOS (256) is 30 bits of ones.
    private static ReadOnlySpan<byte> CodeLengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    ];

    private const int MaxCodeLength = 30;

    // Canonical decoding tables, per code length L: the first code of that length, how many codes
    // have it, and where their symbols start in s_symbols (sorted by length, then symbol).
    private static readonly uint[] s_firstCode = new uint[MaxCodeLength + 1];
    private static readonly int[] s_count = new int[MaxCodeLength + 1];
    private static readonly int[] s_firstIndex = new int[MaxCodeLength + 1];
    private static readonly short[] s_symbols = new short[257];

    static HuffmanDecoder()
    {
        ReadOnlySpan<byte> lengths = CodeLengths;
        for (int symbol = 0; symbol < 256; symbol++)
        {
            s_count[lengths[symbol]]++;
        }

        s_count[MaxCodeLength]++; // EOS

        uint code = 0;
        int index = 0;
        for (int length = 1; length <= MaxCodeLength; length++)
        {
            s_firstCode[length] = code;
            s_firstIndex[length] = index;
            for (int symbol = 0; symbol <= 256; symbol++)
            {
                int symbolLength = symbol == 256 ? MaxCodeLength : lengths[symbol];
                if (symbolLength == length)
                {
                    s_symbols[index++] = (short)symbol;
                }
            }

            code = (code + (uint)s_count[length]) << 1;
        }
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="output"/> (when not empty) and returns
    /// the decoded length, or -1 when the input is not valid HPACK Huffman: an EOS symbol, padding
    /// longer than 7 bits or not all ones, or an output buffer too small.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> encoded, Span<byte> output, bool countOnly)
    {
        int written = 0;
        uint code = 0;
        int length = 0;
        foreach (byte b in encoded)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                code = (code << 1) | (uint)((b >> bit) & 1);
                length++;
                uint offset = code - s_firstCode[length];
                if (offset < (uint)s_count[length])
                {
                    int symbol = s_symbols[s_firstIndex[length] + (int)offset];
                    if (symbol == 256)
                    {
                        return -1; // EOS must not appear inside a string.
                    }

                    if (!countOnly)
                    {
                        if (written >= output.Length)
                        {
                            return -1;
                        }

                        output[written] = (byte)symbol;
                    }

                    written++;
                    code = 0;
                    length = 0;
                }
                else if (length == MaxCodeLength)
                {
                    return -1;
                }
            }
        }

        // What is left must be a prefix of EOS (all ones) shorter than a byte.
        return length < 8 && code == (1u << length) - 1 ? written : -1;
    }
}
