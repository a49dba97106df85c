using System.Buffers;
using System.Buffers.Binary;

namespace Dotcd.Mvcc.Bolt;

/// <summary>Writes a bbolt file from buckets given as ascending (key, value) sequences, building
/// each B+tree bottom-up as the pairs stream in (memory: one pending page per tree level).</summary>
/// <remarks>
/// Layout of the file it writes (see BoltFormat.cs for the page formats):
/// <code>
///   page 0, 1   meta, written last (same content, same txid, like bbolt's Tx.WriteTo)
///   page 2      freelist, empty: nothing is free in a fresh file
///   page 3..    each bucket's leaf pages in key order, its branch pages interleaved as they
///               fill, then the root bucket's pages; pgid (high water mark) = pages written
/// </code>
/// Pages are packed full (bbolt's fill percent only matters when it splits pages it writes).
/// A bucket whose single leaf fits in a quarter page is stored inline in the root bucket, as
/// bbolt does. Use: BeginBucket, Add..., EndBucket for each bucket, then Complete.
/// </remarks>
public sealed class BoltWriter
{
    private const ulong MetaPage0 = 0;
    private const ulong FreelistPage = 2;
    private const ulong FirstDataPage = 3;

    private readonly Stream _output;
    private readonly long _base;
    private readonly int _pageSize;
    private ulong _nextPage = FirstDataPage;   // Invariant: every page below it is written or reserved (0..2).
    private TreeBuilder? _bucket;              // The open bucket, if any.
    private byte[]? _bucketName;
    private readonly List<(byte[] Name, byte[] Value)> _rootEntries = [];
    private bool _completed;

    /// <summary>Writes at the stream's current position; the stream must be writable and seekable.</summary>
    public BoltWriter(Stream output, int pageSize = BoltFormat.DefaultPageSize)
    {
        if (!output.CanSeek || !output.CanWrite)
        {
            throw new ArgumentException("the output must be writable and seekable", nameof(output));
        }
        if (!BoltFormat.IsValidPageSize(pageSize))
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "a power of two from 512 to 1 MiB");
        }
        _output = output;
        _base = output.Position;
        _pageSize = pageSize;
    }

    public int PageSize => _pageSize;

    /// <summary>Starts a top-level bucket; names must be distinct and not empty.</summary>
    public void BeginBucket(ReadOnlySpan<byte> name)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_bucket is not null)
        {
            throw new InvalidOperationException("the previous bucket is still open");
        }
        if (name.IsEmpty)
        {
            throw new ArgumentException("a bucket name cannot be empty", nameof(name));
        }
        foreach ((byte[] existing, _) in _rootEntries)
        {
            if (name.SequenceEqual(existing))
            {
                throw new ArgumentException($"bucket {System.Text.Encoding.UTF8.GetString(name)} was already written", nameof(name));
            }
        }
        _bucketName = name.ToArray();
        _bucket = new TreeBuilder(this, allowInline: true);
    }

    /// <summary>Adds a pair to the open bucket; keys must be non-empty and strictly ascending.</summary>
    public void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        TreeBuilder bucket = _bucket ?? throw new InvalidOperationException("no bucket is open");
        bucket.Add(key, value, flags: 0);
    }

    public void EndBucket()
    {
        TreeBuilder bucket = _bucket ?? throw new InvalidOperationException("no bucket is open");
        _rootEntries.Add((_bucketName!, bucket.FinishAsBucketValue()));
        _bucket = null;
        _bucketName = null;
    }

    /// <summary>Writes the root bucket, the freelist and both metas; returns the file's length.</summary>
    public long Complete(ulong txId = 1)
    {
        ArgumentOutOfRangeException.ThrowIfZero(txId);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_bucket is not null)
        {
            throw new InvalidOperationException("a bucket is still open");
        }
        _rootEntries.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        var root = new TreeBuilder(this, allowInline: false);
        foreach ((byte[] name, byte[] value) in _rootEntries)
        {
            root.Add(name, value, BoltFormat.BucketLeafFlag);
        }
        ulong rootPage = root.FinishAsPage();

        byte[] page = new byte[_pageSize];
        BoltFormat.WritePageHeader(page, FreelistPage, BoltFormat.FreelistPageFlag, count: 0, overflow: 0);
        WritePages(FreelistPage, page);

        // Like bbolt's Tx.WriteTo: meta 1 repeats meta 0 with the previous txid, so meta 0 is current.
        var meta = new BoltMeta((uint)_pageSize, Flags: 0, rootPage, RootSequence: 0, FreelistPage, _nextPage, txId);
        for (ulong id = MetaPage0; id <= MetaPage0 + 1; id++)
        {
            Array.Clear(page);
            BoltFormat.WritePageHeader(page, id, BoltFormat.MetaPageFlag, count: 0, overflow: 0);
            (meta with { TxId = txId - id }).Write(page.AsSpan(BoltFormat.MetaOffset, BoltFormat.MetaSize));
            WritePages(id, page);
        }
        long length = checked((long)_nextPage * _pageSize);
        _output.Position = _base + length;
        _output.Flush();
        _completed = true;
        return length;
    }

    // Reserves pages for a node of `bytes` bytes; returns its first pgid and its overflow count.
    private ulong Allocate(int bytes, out uint overflow)
    {
        int pages = (bytes + _pageSize - 1) / _pageSize;
        overflow = (uint)(pages - 1);
        ulong id = _nextPage;
        _nextPage += (ulong)pages;
        return id;
    }

    private void WritePages(ulong id, ReadOnlySpan<byte> pages)
    {
        long position = _base + checked((long)id * _pageSize);
        if (_output.Position != position)
        {
            _output.Position = position; // Only the metas go back; a seek would flush the buffer.
        }
        _output.Write(pages);
    }

    /// <summary>One B+tree under construction: a pending node per level, leaves at level 0.</summary>
    private sealed class TreeBuilder(BoltWriter writer, bool allowInline)
    {
        private readonly List<NodeBuilder> _levels = [new NodeBuilder(isLeaf: true)];
        private readonly List<int> _pagesWritten = [0];   // Pages emitted per level.

        public void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags)
        {
            NodeBuilder leaf = _levels[0];
            if (key.IsEmpty)
            {
                throw new ArgumentException("bbolt keys cannot be empty", nameof(key));
            }
            if (leaf.HasLastKey && key.SequenceCompareTo(leaf.LastKey) <= 0)
            {
                throw new ArgumentException("keys must be added in strictly ascending byte order", nameof(key));
            }
            AddAt(0, key, value, flags, childPage: 0);
        }

        // Adds an item to a level, writing the level's pending node first when the item would
        // overflow its page (a node holding one item may still span overflow pages).
        private void AddAt(int level, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, ulong childPage)
        {
            NodeBuilder node = _levels[level];
            if (node.Count > 0 && node.SizeWith(key.Length, value.Length) > writer._pageSize)
            {
                EmitAndPromote(level);
            }
            node.Add(key, value, flags, childPage);
            if (node.Count >= ushort.MaxValue - 1)
            {
                EmitAndPromote(level);
            }
        }

        private void EmitAndPromote(int level)
        {
            NodeBuilder node = _levels[level];
            byte[] firstKey = node.FirstKey.ToArray();
            ulong page = Emit(node);
            _pagesWritten[level]++;
            if (_levels.Count == level + 1)
            {
                _levels.Add(new NodeBuilder(isLeaf: false));
                _pagesWritten.Add(0);
            }
            AddAt(level + 1, firstKey, ReadOnlySpan<byte>.Empty, flags: 0, childPage: page);
        }

        private ulong Emit(NodeBuilder node)
        {
            int size = node.Size;
            ulong id = writer.Allocate(size, out uint overflow);
            int bytes = checked((int)(overflow + 1) * writer._pageSize);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(bytes);
            try
            {
                Span<byte> pages = buffer.AsSpan(0, bytes);
                pages.Clear();
                node.WritePage(pages, id, overflow);
                writer.WritePages(id, pages);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            node.Clear();
            return id;
        }

        /// <summary>Ends the tree; returns the pgid of its root page.</summary>
        public ulong FinishAsPage()
        {
            for (int level = 0; ; level++)
            {
                bool top = level == _levels.Count - 1;
                if (top && _pagesWritten[level] == 0)
                {
                    // Everything below hangs under this level's one pending node: the root.
                    return Emit(_levels[level]);
                }
                // Pages were emitted at this level, so a pending item follows them (a node is only
                // emitted when the next item arrives) and the level above exists.
                if (_levels[level].Count > 0)
                {
                    EmitAndPromote(level);
                }
            }
        }

        /// <summary>Ends the tree; returns the bucket value for the root bucket (inline when small).</summary>
        public byte[] FinishAsBucketValue()
        {
            NodeBuilder leaf = _levels[0];
            byte[] value;
            if (allowInline && _levels.Count == 1 && leaf.Size <= writer._pageSize / 4)
            {
                // Inline: the bucket header with root 0, then the leaf's page image with id 0.
                value = new byte[BoltFormat.BucketHeaderSize + leaf.Size];
                leaf.WritePage(value.AsSpan(BoltFormat.BucketHeaderSize), id: 0, overflow: 0);
                return value;
            }
            ulong root = FinishAsPage();
            value = new byte[BoltFormat.BucketHeaderSize];
            BinaryPrimitives.WriteUInt64LittleEndian(value, root);
            return value;
        }
    }

    /// <summary>The items of one node not yet written: element fields plus their bytes.</summary>
    private sealed class NodeBuilder(bool isLeaf)
    {
        private readonly List<(uint Flags, int KeyLength, int ValueLength, ulong Child)> _items = [];
        private byte[] _data = new byte[256];  // Keys and values back to back, in item order.
        private int _dataLength;
        private int _lastKeyOffset = -1;       // Of the newest pending key; -1 when none is pending.
        private byte[]? _writtenLastKey;        // The newest key of the pages already written.

        public int Count => _items.Count;

        // Page header + elements + data: the bytes this node needs when written.
        public int Size => BoltFormat.PageHeaderSize + (_items.Count * BoltFormat.LeafElementSize) + _dataLength;

        public int SizeWith(int keyLength, int valueLength) =>
            Size + BoltFormat.LeafElementSize + keyLength + valueLength;

        public ReadOnlySpan<byte> FirstKey => _data.AsSpan(0, _items[0].KeyLength);

        // The newest key added, pending or already written (ordering is checked across pages).
        public bool HasLastKey => _lastKeyOffset >= 0 || _writtenLastKey is not null;

        public ReadOnlySpan<byte> LastKey =>
            _lastKeyOffset >= 0 ? _data.AsSpan(_lastKeyOffset, _items[^1].KeyLength) : _writtenLastKey;

        public void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, ulong child)
        {
            int needed = _dataLength + key.Length + value.Length;
            if (needed > _data.Length)
            {
                Array.Resize(ref _data, Math.Max(needed, _data.Length * 2));
            }
            _lastKeyOffset = _dataLength;
            key.CopyTo(_data.AsSpan(_dataLength));
            _dataLength += key.Length;
            value.CopyTo(_data.AsSpan(_dataLength));
            _dataLength += value.Length;
            _items.Add((flags, key.Length, value.Length, child));
        }

        public void Clear()
        {
            if (_items.Count > 0)
            {
                _writtenLastKey = LastKey.ToArray();
                _items.Clear();
                _dataLength = 0;
                _lastKeyOffset = -1;
            }
        }

        public void WritePage(Span<byte> page, ulong id, uint overflow)
        {
            BoltFormat.WritePageHeader(page, id, isLeaf ? BoltFormat.LeafPageFlag : BoltFormat.BranchPageFlag,
                (ushort)_items.Count, overflow);
            int elementOffset = BoltFormat.PageHeaderSize;
            int dataOffset = BoltFormat.PageHeaderSize + (_items.Count * BoltFormat.LeafElementSize);
            int source = 0;
            foreach ((uint flags, int keyLength, int valueLength, ulong child) in _items)
            {
                Span<byte> element = page[elementOffset..];
                uint pos = (uint)(dataOffset - elementOffset);
                if (isLeaf)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(element, flags);
                    BinaryPrimitives.WriteUInt32LittleEndian(element[4..], pos);
                    BinaryPrimitives.WriteUInt32LittleEndian(element[8..], (uint)keyLength);
                    BinaryPrimitives.WriteUInt32LittleEndian(element[12..], (uint)valueLength);
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(element, pos);
                    BinaryPrimitives.WriteUInt32LittleEndian(element[4..], (uint)keyLength);
                    BinaryPrimitives.WriteUInt64LittleEndian(element[8..], child);
                }
                int length = keyLength + valueLength;
                _data.AsSpan(source, length).CopyTo(page[dataOffset..]);
                source += length;
                dataOffset += length;
                elementOffset += BoltFormat.LeafElementSize;
            }
        }
    }
}
