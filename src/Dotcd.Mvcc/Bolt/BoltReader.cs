using System.Buffers.Binary;

namespace Dotcd.Mvcc.Bolt;

/// <summary>Reads a bbolt file (etcd's backend or snapshot, or one of <see cref="BoltWriter"/>):
/// top-level buckets and their pairs in key order. Page formats: BoltFormat.cs.</summary>
/// <remarks>
/// Never trusts the file: every page id is checked against the high water mark and the file
/// length, every element against its page, trees against cycles and depth, keys for strict
/// order; anything wrong throws <see cref="BoltFormatException"/>. Pages are read on demand
/// with positioned reads, so a large file is never held in memory.
/// </remarks>
public sealed class BoltReader : IDisposable
{
    // bbolt's trees stay shallow (fan-out of at least 2 per branch); deeper means a corrupt file.
    private const int MaxTreeDepth = 64;

    private readonly Stream _input;
    private readonly bool _leaveOpen;
    private readonly long _length;

    public BoltMeta Meta { get; }

    public int PageSize => (int)Meta.PageSize;

    private BoltReader(Stream input, bool leaveOpen)
    {
        if (!input.CanRead || !input.CanSeek)
        {
            throw new ArgumentException("the input must be readable and seekable", nameof(input));
        }
        _input = input;
        _leaveOpen = leaveOpen;
        _length = input.Length;
        Meta = ReadMeta();
    }

    /// <summary>Opens a bbolt file read-only.</summary>
    public static BoltReader Open(string path) =>
        Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1), leaveOpen: false);

    /// <summary>Reads a bbolt file from a seekable stream starting at offset 0.</summary>
    public static BoltReader Open(Stream input, bool leaveOpen = true)
    {
        try
        {
            return new BoltReader(input, leaveOpen);
        }
        catch when (!leaveOpen)
        {
            input.Dispose();
            throw;
        }
    }

    // bbolt's choice: both metas are checked; the valid one with the higher txid wins. Meta 1
    // sits one page in, so its place depends on the page size meta 0 names (or 4096 if meta 0
    // is damaged, which is what bbolt assumes too).
    private BoltMeta ReadMeta()
    {
        if (_length < BoltFormat.PageHeaderSize + BoltFormat.MetaSize)
        {
            throw new BoltFormatException($"not a bbolt file: {_length} bytes is too short for a meta page");
        }
        BoltMeta? meta0 = ReadMetaAt(0, out string? problem0);
        if (meta0 is { } m0 && !BoltFormat.IsValidPageSize(m0.PageSize))
        {
            (meta0, problem0) = (null, $"invalid page size {m0.PageSize}");
        }
        long page1 = meta0?.PageSize ?? BoltFormat.DefaultPageSize;
        BoltMeta? meta1 = null;
        string? problem1 = "file ends before meta page 1";
        if (_length >= page1 + BoltFormat.PageHeaderSize + BoltFormat.MetaSize)
        {
            meta1 = ReadMetaAt(page1, out problem1);
            if (meta1 is { } m1 && m1.PageSize != page1)
            {
                (meta1, problem1) = (null, $"meta page 1 names page size {m1.PageSize}");
            }
        }
        BoltMeta? chosen = (meta0, meta1) switch
        {
            ({ } a, { } b) => b.TxId > a.TxId ? b : a,
            ({ } a, null) => a,
            (null, { } b) => b,
            _ => null,
        };
        if (chosen is not { } meta)
        {
            throw new BoltFormatException($"not a valid bbolt file: meta 0: {problem0}; meta 1: {problem1}");
        }
        if (meta.HighWaterMark < 3 || meta.HighWaterMark > (ulong)(long.MaxValue / meta.PageSize))
        {
            throw new BoltFormatException($"invalid high water mark {meta.HighWaterMark}");
        }
        long needed = (long)meta.HighWaterMark * meta.PageSize;
        if (_length < needed)
        {
            throw new BoltFormatException(
                $"bbolt file is truncated: its meta uses {meta.HighWaterMark} pages of {meta.PageSize} bytes ({needed} bytes), the file has {_length}");
        }
        if (meta.RootPage < 2 || meta.RootPage >= meta.HighWaterMark)
        {
            throw new BoltFormatException($"root bucket page {meta.RootPage} is outside the file's {meta.HighWaterMark} pages");
        }
        if (meta.FreelistPage != BoltFormat.NoFreelist && (meta.FreelistPage < 2 || meta.FreelistPage >= meta.HighWaterMark))
        {
            throw new BoltFormatException($"freelist page {meta.FreelistPage} is outside the file's {meta.HighWaterMark} pages");
        }
        return meta;
    }

    private BoltMeta? ReadMetaAt(long offset, out string? problem)
    {
        Span<byte> page = stackalloc byte[BoltFormat.PageHeaderSize + BoltFormat.MetaSize];
        ReadExactly(offset, page);
        if ((BinaryPrimitives.ReadUInt16LittleEndian(page[8..]) & BoltFormat.MetaPageFlag) == 0)
        {
            problem = "not a meta page";
            return null;
        }
        return BoltMeta.TryRead(page[BoltFormat.MetaOffset..], out problem);
    }

    /// <summary>Names of the top-level buckets in key order.</summary>
    public IReadOnlyList<byte[]> BucketNames()
    {
        var names = new List<byte[]>();
        foreach (Element e in WalkTree(new TreeSource(Meta.RootPage, null), "root bucket"))
        {
            RequireBucket(e);
            names.Add(e.Key);
        }
        return names;
    }

    /// <summary>The pairs of a top-level bucket in key order, read lazily; null when the file has
    /// no such bucket.</summary>
    public IEnumerable<KeyValuePair<byte[], byte[]>>? ReadBucket(ReadOnlySpan<byte> name)
    {
        foreach (Element e in WalkTree(new TreeSource(Meta.RootPage, null), "root bucket"))
        {
            if (e.Key.AsSpan().SequenceEqual(name))
            {
                RequireBucket(e);
                return ReadPairs(e);
            }
        }
        return null;
    }

    /// <summary>Every top-level bucket with its pairs, buckets and pairs in key order.</summary>
    public IEnumerable<(byte[] Name, IEnumerable<KeyValuePair<byte[], byte[]>> Pairs)> Buckets()
    {
        foreach (Element e in WalkTree(new TreeSource(Meta.RootPage, null), "root bucket"))
        {
            RequireBucket(e);
            yield return (e.Key, ReadPairs(e));
        }
    }

    private IEnumerable<KeyValuePair<byte[], byte[]>> ReadPairs(Element bucket)
    {
        string what = $"bucket {Describe(bucket.Key)}";
        foreach (Element e in WalkTree(BucketSource(bucket), what))
        {
            if ((e.Flags & BoltFormat.BucketLeafFlag) != 0)
            {
                throw new BoltFormatException($"{what} holds a nested bucket {Describe(e.Key)}; etcd files have none");
            }
            yield return new(e.Key, e.Value);
        }
    }

    private static void RequireBucket(Element e)
    {
        if ((e.Flags & BoltFormat.BucketLeafFlag) == 0)
        {
            throw new BoltFormatException($"root bucket holds a plain value under {Describe(e.Key)}, not a bucket");
        }
        if (e.Value.Length < BoltFormat.BucketHeaderSize)
        {
            throw new BoltFormatException($"bucket {Describe(e.Key)}: its header is {e.Value.Length} bytes, not {BoltFormat.BucketHeaderSize}");
        }
    }

    // Bucket value: [root pgid: u64][sequence: u64], then an inline leaf page when root is 0.
    private TreeSource BucketSource(Element bucket)
    {
        ulong root = BinaryPrimitives.ReadUInt64LittleEndian(bucket.Value);
        if (root != 0)
        {
            return new TreeSource(root, null);
        }
        byte[] inline = bucket.Value[BoltFormat.BucketHeaderSize..];
        if (inline.Length < BoltFormat.PageHeaderSize)
        {
            throw new BoltFormatException($"inline bucket {Describe(bucket.Key)} is {inline.Length} bytes, shorter than a page header");
        }
        return new TreeSource(0, inline);
    }

    private readonly record struct TreeSource(ulong Root, byte[]? InlinePage);

    private readonly record struct Element(uint Flags, byte[] Key, byte[] Value);

    // Depth-first walk of a B+tree yielding leaf elements in order; checks keys strictly ascend.
    private IEnumerable<Element> WalkTree(TreeSource source, string what)
    {
        var visited = new HashSet<ulong>();
        var stack = new Stack<(Page Page, int Next)>();
        Page rootPage = source.InlinePage is { } inline ? Page.Parse(inline, 0, what) : ReadNode(source.Root, visited, what);
        if (source.InlinePage is not null && !rootPage.IsLeaf)
        {
            throw new BoltFormatException($"{what}: inline bucket page has flags 0x{rootPage.Flags:x2}, not a leaf");
        }
        stack.Push((rootPage, 0));
        byte[]? previous = null;
        while (stack.Count > 0)
        {
            (Page page, int next) = stack.Pop();
            if (next >= page.Count)
            {
                continue;
            }
            stack.Push((page, next + 1));
            if (page.IsLeaf)
            {
                Element e = page.LeafElement(next);
                if (previous is not null && e.Key.AsSpan().SequenceCompareTo(previous) <= 0)
                {
                    throw new BoltFormatException($"{what}: keys out of order at page {page.Id}");
                }
                previous = e.Key;
                yield return e;
            }
            else
            {
                if (stack.Count >= MaxTreeDepth)
                {
                    throw new BoltFormatException($"{what}: tree deeper than {MaxTreeDepth} levels (corrupt)");
                }
                ulong child = page.BranchChild(next);
                stack.Push((ReadNode(child, visited, what), 0));
            }
        }
    }

    private Page ReadNode(ulong id, HashSet<ulong> visited, string what)
    {
        if (!visited.Add(id))
        {
            throw new BoltFormatException($"{what}: page {id} is referenced twice (corrupt tree)");
        }
        Page page = ReadPage(id, what);
        if (!page.IsLeaf && !page.IsBranch)
        {
            throw new BoltFormatException($"{what}: page {id} has flags 0x{page.Flags:x2}, not a branch or leaf page");
        }
        return page;
    }

    private Page ReadPage(ulong id, string what)
    {
        if (id < 2 || id >= Meta.HighWaterMark)
        {
            throw new BoltFormatException($"{what}: page id {id} is outside the file's {Meta.HighWaterMark} pages");
        }
        Span<byte> header = stackalloc byte[BoltFormat.PageHeaderSize];
        long offset = (long)id * PageSize;
        ReadExactly(offset, header);
        ulong storedId = BinaryPrimitives.ReadUInt64LittleEndian(header);
        uint overflow = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (storedId != id)
        {
            throw new BoltFormatException($"{what}: page {id} says it is page {storedId}");
        }
        if (id + overflow >= Meta.HighWaterMark || (long)(overflow + 1UL) * PageSize > Array.MaxLength)
        {
            throw new BoltFormatException($"{what}: page {id} claims {overflow} overflow pages, past the file's {Meta.HighWaterMark} pages");
        }
        byte[] bytes = new byte[(long)(overflow + 1UL) * PageSize];
        ReadExactly(offset, bytes);
        return Page.Parse(bytes, id, what);
    }

    private void ReadExactly(long offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > _length)
        {
            throw new BoltFormatException($"bbolt file is truncated: needs bytes {offset}..{offset + destination.Length}, has {_length}");
        }
        _input.Position = offset;
        _input.ReadExactly(destination);
    }

    /// <summary>bbolt's consistency check (Tx.Check, which `etcdctl snapshot status` runs): every
    /// page below the high water mark is reachable exactly once or free, never both.</summary>
    /// <returns>The problems found, empty for a consistent file.</returns>
    public IReadOnlyList<string> Check()
    {
        var problems = new List<string>();
        var free = new HashSet<ulong>();
        foreach (ulong id in ReadFreelist())
        {
            if (!free.Add(id))
            {
                problems.Add($"page {id}: already freed");
            }
        }
        var reachable = new HashSet<ulong> { 0, 1 };
        if (Meta.FreelistPage != BoltFormat.NoFreelist)
        {
            Page freelist = ReadPage(Meta.FreelistPage, "freelist");
            for (ulong i = 0; i <= freelist.Overflow; i++)
            {
                reachable.Add(Meta.FreelistPage + i);
            }
        }
        void Visit(TreeSource source, string what)
        {
            if (source.InlinePage is not null)
            {
                return;
            }
            var stack = new Stack<(ulong Id, int Depth)>();
            stack.Push((source.Root, 0));
            while (stack.Count > 0)
            {
                (ulong id, int depth) = stack.Pop();
                if (depth > MaxTreeDepth)
                {
                    throw new BoltFormatException($"{what}: tree deeper than {MaxTreeDepth} levels (corrupt)");
                }
                Page page = ReadPage(id, what);
                for (ulong i = 0; i <= page.Overflow; i++)
                {
                    if (!reachable.Add(id + i))
                    {
                        problems.Add($"page {id + i}: multiple references");
                        goto nextPage; // Do not walk a shared subtree twice (it may be a cycle).
                    }
                }
                if (free.Contains(id))
                {
                    problems.Add($"page {id}: reachable freed");
                }
                if (page.IsBranch)
                {
                    for (int i = 0; i < page.Count; i++)
                    {
                        stack.Push((page.BranchChild(i), depth + 1));
                    }
                }
                else if (!page.IsLeaf)
                {
                    problems.Add($"page {id}: invalid type: flags 0x{page.Flags:x2}");
                }
            nextPage:;
            }
        }
        Visit(new TreeSource(Meta.RootPage, null), "root bucket");
        foreach (Element bucket in WalkTree(new TreeSource(Meta.RootPage, null), "root bucket"))
        {
            RequireBucket(bucket);
            Visit(BucketSource(bucket), $"bucket {Describe(bucket.Key)}");
        }
        // Without a saved freelist (etcd runs bbolt with NoFreelistSync) bbolt derives the free
        // pages as the unreachable ones, so only saved freelists can disagree.
        for (ulong id = 0; id < Meta.HighWaterMark && Meta.FreelistPage != BoltFormat.NoFreelist; id++)
        {
            if (!reachable.Contains(id) && !free.Contains(id))
            {
                problems.Add($"page {id}: unreachable unfreed");
            }
        }
        return problems;
    }

    /// <summary>Page ids on the freelist page (bbolt's free and pending ids, as saved).</summary>
    public IReadOnlyList<ulong> ReadFreelist()
    {
        if (Meta.FreelistPage == BoltFormat.NoFreelist)
        {
            return []; // Written with NoFreelistSync: bbolt rebuilds the list by scanning.
        }
        Page page = ReadPage(Meta.FreelistPage, "freelist");
        if ((page.Flags & BoltFormat.FreelistPageFlag) == 0)
        {
            throw new BoltFormatException($"freelist page {Meta.FreelistPage} has flags 0x{page.Flags:x2}");
        }
        return page.FreelistIds();
    }

    private static string Describe(byte[] key) =>
        key.All(b => b is >= 0x20 and < 0x7f) ? $"\"{System.Text.Encoding.ASCII.GetString(key)}\"" : Convert.ToHexString(key);

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _input.Dispose();
        }
    }

    /// <summary>One node's bytes (a page and its overflow, or an inline page) with checked accessors.</summary>
    private sealed class Page
    {
        private readonly byte[] _bytes;
        private readonly string _what;

        public ulong Id { get; }
        public ushort Flags { get; }
        public int Count { get; }
        public uint Overflow { get; }
        public bool IsLeaf => (Flags & BoltFormat.LeafPageFlag) != 0;
        public bool IsBranch => (Flags & BoltFormat.BranchPageFlag) != 0;

        private Page(byte[] bytes, ulong id, string what)
        {
            _bytes = bytes;
            _what = what;
            Id = id;
            Flags = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            Count = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10));
            Overflow = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        }

        public static Page Parse(byte[] bytes, ulong id, string what)
        {
            var page = new Page(bytes, id, what);
            if ((page.IsLeaf || page.IsBranch) &&
                BoltFormat.PageHeaderSize + ((long)page.Count * BoltFormat.LeafElementSize) > bytes.Length)
            {
                throw new BoltFormatException($"{what}: page {id} claims {page.Count} elements, more than fit in {bytes.Length} bytes");
            }
            return page;
        }

        // Leaf element i: [flags: u32][pos: u32][ksize: u32][vsize: u32]; pos counts from the element.
        public Element LeafElement(int i)
        {
            int at = BoltFormat.PageHeaderSize + (i * BoltFormat.LeafElementSize);
            ReadOnlySpan<byte> e = _bytes.AsSpan(at, BoltFormat.LeafElementSize);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(e);
            long start = at + (long)BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            long keyLength = BinaryPrimitives.ReadUInt32LittleEndian(e[8..]);
            long valueLength = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
            if (start + keyLength + valueLength > _bytes.Length)
            {
                throw new BoltFormatException($"{_what}: page {Id} element {i} points past the page's {_bytes.Length} bytes");
            }
            if (keyLength == 0)
            {
                throw new BoltFormatException($"{_what}: page {Id} element {i} has an empty key");
            }
            byte[] key = _bytes.AsSpan((int)start, (int)keyLength).ToArray();
            byte[] value = _bytes.AsSpan((int)(start + keyLength), (int)valueLength).ToArray();
            return new Element(flags, key, value);
        }

        // Branch element i: [pos: u32][ksize: u32][pgid: u64].
        public ulong BranchChild(int i)
        {
            int at = BoltFormat.PageHeaderSize + (i * BoltFormat.BranchElementSize);
            ReadOnlySpan<byte> e = _bytes.AsSpan(at, BoltFormat.BranchElementSize);
            long start = at + (long)BinaryPrimitives.ReadUInt32LittleEndian(e);
            long keyLength = BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            if (start + keyLength > _bytes.Length)
            {
                throw new BoltFormatException($"{_what}: page {Id} branch element {i} points past the page's {_bytes.Length} bytes");
            }
            return BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
        }

        // Freelist: count u64 ids after the header; count 0xFFFF means the first u64 is the count.
        public List<ulong> FreelistIds()
        {
            long first = BoltFormat.PageHeaderSize;
            long count = Count;
            if (Count == BoltFormat.FreelistCountOverflow)
            {
                if (first + 8 > _bytes.Length)
                {
                    throw new BoltFormatException($"freelist page {Id} is truncated");
                }
                count = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan((int)first)), long.MaxValue / 8);
                first += 8;
            }
            if (first + (count * 8) > _bytes.Length)
            {
                throw new BoltFormatException($"freelist page {Id} claims {count} ids, more than fit in {_bytes.Length} bytes");
            }
            var ids = new List<ulong>((int)count);
            for (long i = 0; i < count; i++)
            {
                ids.Add(BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan((int)(first + (i * 8)))));
            }
            return ids;
        }
    }
}
