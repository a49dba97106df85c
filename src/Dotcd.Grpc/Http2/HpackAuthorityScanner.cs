namespace Dotcd.Grpc;

/// <summary>
/// Follows one HTTP/2 connection's request header blocks (HPACK, RFC 7541) just closely enough to
/// find :authority (or host) values that Kestrel would refuse, and to keep a mirror of the
/// client's dynamic table so later blocks can be read. Values are not kept, only what the table
/// needs: each entry's size and whether its name is :authority or host.
/// </summary>
internal sealed class HpackAuthorityScanner
{
    /// <summary>A string literal in a header block to replace: its bytes and its decoded length.</summary>
    internal readonly record struct Patch(int Start, int End, int DecodedLength);

    private const int StaticTableLength = 61;
    private const int EntryOverhead = 32; // RFC 7541 section 4.1.
    private const int AuthorityIndex = 1;  // Static table: ":authority".
    private const int HostIndex = 38;      // Static table: "host".

    // RFC 7541 Appendix A: name lengths of the static table entries 1..61 (indexed names only
    // need their length, for the size of the dynamic entry they end up in).
    private static ReadOnlySpan<byte> StaticNameLengths =>
    [
        10, 7, 7, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 14, 15, 15, 13, 6, 27, 3, 5, 13, 13, 19, 16, 16, 14, 16, 13,
        12, 6, 4, 4, 6, 7, 4, 4, 8, 17, 13, 8, 19, 13, 4, 8, 12, 18, 19, 5, 7, 7, 11, 6, 10, 25, 17, 10, 4, 3, 16,
    ];

    // Invariant: _size == sum of entry sizes <= _maxSize <= _settingsMaxSize. Oldest entry first.
    private readonly List<Entry> _entries = [];
    private readonly int _settingsMaxSize;
    private int _maxSize;
    private int _size;
    private byte[] _scratch = new byte[256]; // The last decoded name or :authority value.

    private readonly record struct Entry(bool IsAuthority, int NameLength, int Size);

    /// <param name="settingsMaxSize">The SETTINGS_HEADER_TABLE_SIZE the server advertised.</param>
    public HpackAuthorityScanner(int settingsMaxSize)
    {
        _settingsMaxSize = settingsMaxSize;
        _maxSize = Math.Min(4096, settingsMaxSize); // The protocol's initial size.
    }

    public int DynamicTableSize => _size;

    public int DynamicTableCount => _entries.Count;

    /// <summary>
    /// Reads a complete header block, updating the dynamic table as the server's decoder will,
    /// and lists the :authority/host string literals Kestrel would reject. False when the block is
    /// not valid HPACK (the caller then stops interpreting the connection).
    /// </summary>
    public bool TryScan(ReadOnlySpan<byte> block, List<Patch> patches)
    {
        int position = 0;
        while (position < block.Length)
        {
            byte first = block[position];
            if ((first & 0x80) != 0)
            {
                // Indexed header field: nothing changes.
                if (!TryReadInteger(block, ref position, 7, out int index) || index == 0 || !TryGetName(index, out _, out _))
                {
                    return false;
                }
            }
            else if ((first & 0xC0) == 0x40)
            {
                // Literal with incremental indexing: the entry is added to the table.
                if (!TryReadLiteral(block, ref position, 6, patches, out bool isAuthority, out int nameLength, out int valueLength))
                {
                    return false;
                }

                _entries.Add(new Entry(isAuthority, nameLength, nameLength + valueLength + EntryOverhead));
                _size += _entries[^1].Size;
                Evict(); // An entry larger than the table leaves it empty (RFC 7541 section 4.4).
            }
            else if ((first & 0xE0) == 0x20)
            {
                // Dynamic table size update.
                if (!TryReadInteger(block, ref position, 5, out int size) || size > _settingsMaxSize)
                {
                    return false;
                }

                _maxSize = size;
                Evict();
            }
            else if (!TryReadLiteral(block, ref position, 4, patches, out _, out _, out _))
            {
                // Literal without indexing (0000) or never indexed (0001) was malformed.
                return false;
            }
        }

        return true;
    }

    private bool TryReadLiteral(ReadOnlySpan<byte> block, ref int position, int prefixBits, List<Patch> patches,
        out bool isAuthority, out int nameLength, out int valueLength)
    {
        isAuthority = false;
        nameLength = 0;
        valueLength = 0;
        if (!TryReadInteger(block, ref position, prefixBits, out int nameIndex))
        {
            return false;
        }

        if (nameIndex == 0)
        {
            if (!TryReadString(block, ref position, decode: true, out _, out _, out nameLength))
            {
                return false;
            }

            ReadOnlySpan<byte> name = _scratch.AsSpan(0, nameLength);
            isAuthority = name.SequenceEqual(":authority"u8) || name.SequenceEqual("host"u8);
        }
        else if (!TryGetName(nameIndex, out isAuthority, out nameLength))
        {
            return false;
        }

        if (!TryReadString(block, ref position, decode: isAuthority, out int start, out int end, out valueLength))
        {
            return false;
        }

        if (isAuthority && !IsAcceptableAuthority(_scratch.AsSpan(0, valueLength)))
        {
            patches.Add(new Patch(start, end, valueLength));
        }

        return true;
    }

    private bool TryGetName(int index, out bool isAuthority, out int nameLength)
    {
        if (index <= StaticTableLength)
        {
            isAuthority = index is AuthorityIndex or HostIndex;
            nameLength = StaticNameLengths[index - 1];
            return true;
        }

        int fromNewest = index - StaticTableLength - 1;
        if (fromNewest >= _entries.Count)
        {
            isAuthority = false;
            nameLength = 0;
            return false;
        }

        Entry entry = _entries[_entries.Count - 1 - fromNewest];
        isAuthority = entry.IsAuthority;
        nameLength = entry.NameLength;
        return true;
    }

    private void Evict()
    {
        int evict = 0;
        while (_size > _maxSize)
        {
            _size -= _entries[evict].Size;
            evict++;
        }

        if (evict > 0)
        {
            _entries.RemoveRange(0, evict);
        }
    }

    private bool TryReadString(ReadOnlySpan<byte> block, ref int position, bool decode, out int start, out int end, out int length)
    {
        start = position;
        end = position;
        length = 0;
        if (position >= block.Length)
        {
            return false;
        }

        bool huffman = (block[position] & 0x80) != 0;
        if (!TryReadInteger(block, ref position, 7, out int encodedLength) || encodedLength > block.Length - position)
        {
            return false;
        }

        ReadOnlySpan<byte> encoded = block.Slice(position, encodedLength);
        position += encodedLength;
        end = position;
        if (!huffman)
        {
            length = encodedLength;
            if (decode)
            {
                EnsureScratch(length);
                encoded.CopyTo(_scratch);
            }

            return true;
        }

        if (decode)
        {
            EnsureScratch(encodedLength * 8 / 5 + 1); // The shortest code is 5 bits.
        }

        length = HuffmanDecoder.Decode(encoded, _scratch, countOnly: !decode);
        return length >= 0;
    }

    private void EnsureScratch(int length)
    {
        if (_scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
        }
    }

    // RFC 7541 section 5.1: an integer with an N-bit prefix, then 7 bits per continuation byte.
    internal static bool TryReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits, out int value)
    {
        int mask = (1 << prefixBits) - 1;
        value = block[position++] & mask;
        if (value < mask)
        {
            return true;
        }

        int shift = 0;
        while (position < block.Length)
        {
            byte b = block[position++];
            value += (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                return true;
            }

            if (shift > 21)
            {
                return false; // Beyond 2^28: no header block needs it.
            }
        }

        return false;
    }

    /// <summary>
    /// True for authorities Kestrel certainly accepts: empty, or host[:port] where host is an IPv6
    /// literal in brackets or letters, digits, '.' and '-'. Stricter than Kestrel on purpose:
    /// replacing a value Kestrel would have taken costs nothing, missing one breaks the call.
    /// </summary>
    internal static bool IsAcceptableAuthority(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return true;
        }

        int i = 0;
        if (value[0] == (byte)'[')
        {
            int close = value.IndexOf((byte)']');
            if (close < 2)
            {
                return false;
            }

            foreach (byte c in value[1..close])
            {
                if (!(char.IsAsciiHexDigit((char)c) || c == ':' || c == '.'))
                {
                    return false;
                }
            }

            i = close + 1;
        }
        else
        {
            while (i < value.Length && (char.IsAsciiLetterOrDigit((char)value[i]) || value[i] == '.' || value[i] == '-'))
            {
                i++;
            }

            if (i == 0)
            {
                return false;
            }
        }

        if (i == value.Length)
        {
            return true;
        }

        if (value[i] != ':' || i + 1 == value.Length || value.Length - i - 1 > 5)
        {
            return false;
        }

        foreach (byte c in value[(i + 1)..])
        {
            if (!char.IsAsciiDigit((char)c))
            {
                return false;
            }
        }

        return true;
    }
}
