using System.Buffers.Binary;

namespace Dotcd.Mvcc.Bolt;

// bbolt's on-disk format (go.etcd.io/bbolt, format version 2), as etcd's backend writes it.
// Every integer is little-endian (bbolt writes native structs; etcd ships on little-endian hosts).
//
// The file is an array of pages of PageSize bytes; a page id (pgid) is its index. A node bigger
// than one page occupies 1 + overflow consecutive pages.
//
//   page 0, page 1   meta (two copies; a reader takes the valid one with the higher txid)
//   freelist page    ids of free pages
//   other pages      branch and leaf nodes of the buckets' B+trees
//
// Page header (16 bytes), at the start of every page:
//   [id: u64][flags: u16][count: u16][overflow: u32]
//   flags: 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist
//
// Meta page: header, then at offset 16 (64 bytes):
//   [magic: u32 = 0xED0CDAED][version: u32 = 2][pageSize: u32][flags: u32]
//   [root bucket: root pgid u64, sequence u64][freelist pgid: u64]
//   [pgid: u64, the high water mark: pages in use, ids below it][txid: u64]
//   [checksum: u64, FNV-64a over the 56 bytes before it]
//
// Freelist page: header with count = number of ids, then count u64 page ids. When there are
// 0xFFFF ids or more, count is 0xFFFF and the first u64 holds the real count.
//
// Leaf page: header, count elements of 16 bytes, then the keys and values:
//   element: [flags: u32][pos: u32][ksize: u32][vsize: u32]
//   the key starts pos bytes after the start of its own element, the value right after the key.
//   flags 0x01: the value is a bucket (only in the root bucket, for etcd).
//
// Branch page: header, count elements of 16 bytes, then the keys:
//   element: [pos: u32][ksize: u32][pgid: u64]
//   the key is the first key of the child page pgid; keys ascend.
//
// Bucket value (a leaf value flagged 0x01): [root pgid: u64][sequence: u64], and when root is 0
// the bucket is inline: a leaf page image (header with id 0, elements, data) follows directly.
// The root bucket (named in the meta) holds one such value per top-level bucket, keyed by name.

/// <summary>Constants and small codecs of bbolt's file format.</summary>
internal static class BoltFormat
{
    public const uint Magic = 0xED0CDAED;
    public const uint Version = 2;
    public const int DefaultPageSize = 4096;
    public const int MinPageSize = 512;
    public const int MaxPageSize = 1 << 20;

    public const int PageHeaderSize = 16;
    public const int LeafElementSize = 16;
    public const int BranchElementSize = 16;
    public const int BucketHeaderSize = 16;
    public const int MetaOffset = PageHeaderSize;
    public const int MetaSize = 64;
    public const int MetaChecksummedBytes = 56;

    public const ushort BranchPageFlag = 0x01;
    public const ushort LeafPageFlag = 0x02;
    public const ushort MetaPageFlag = 0x04;
    public const ushort FreelistPageFlag = 0x10;
    public const uint BucketLeafFlag = 0x01;

    public const ushort FreelistCountOverflow = 0xFFFF;
    public const ulong NoFreelist = ulong.MaxValue;   // Meta freelist pgid of a file written with NoFreelistSync.

    public static void WritePageHeader(Span<byte> page, ulong id, ushort flags, ushort count, uint overflow)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(page, id);
        BinaryPrimitives.WriteUInt16LittleEndian(page[8..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(page[10..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(page[12..], overflow);
    }

    public static ulong Fnv64a(ReadOnlySpan<byte> data)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in data)
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    public static bool IsValidPageSize(long pageSize) =>
        pageSize >= MinPageSize && pageSize <= MaxPageSize && (pageSize & (pageSize - 1)) == 0;
}

/// <summary>The fields of a bbolt meta page.</summary>
public readonly record struct BoltMeta(
    uint PageSize,
    uint Flags,
    ulong RootPage,
    ulong RootSequence,
    ulong FreelistPage,
    ulong HighWaterMark,
    ulong TxId)
{
    internal void Write(Span<byte> meta)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(meta, BoltFormat.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(meta[4..], BoltFormat.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(meta[8..], PageSize);
        BinaryPrimitives.WriteUInt32LittleEndian(meta[12..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[16..], RootPage);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[24..], RootSequence);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[32..], FreelistPage);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[40..], HighWaterMark);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[48..], TxId);
        BinaryPrimitives.WriteUInt64LittleEndian(meta[56..], BoltFormat.Fnv64a(meta[..BoltFormat.MetaChecksummedBytes]));
    }

    /// <summary>Parses a meta; null with a reason when magic, version or checksum are wrong.</summary>
    internal static BoltMeta? TryRead(ReadOnlySpan<byte> meta, out string? problem)
    {
        if (meta.Length < BoltFormat.MetaSize)
        {
            problem = "meta page is truncated";
            return null;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(meta) != BoltFormat.Magic)
        {
            problem = "bad magic (not a bbolt file)";
            return null;
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(meta[4..]);
        if (version != BoltFormat.Version)
        {
            problem = $"unsupported version {version}";
            return null;
        }
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(meta[56..]);
        // bbolt accepts a zero checksum (files of old versions had none).
        if (checksum != 0 && checksum != BoltFormat.Fnv64a(meta[..BoltFormat.MetaChecksummedBytes]))
        {
            problem = "meta checksum mismatch";
            return null;
        }
        problem = null;
        return new BoltMeta(
            BinaryPrimitives.ReadUInt32LittleEndian(meta[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(meta[12..]),
            BinaryPrimitives.ReadUInt64LittleEndian(meta[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(meta[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(meta[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(meta[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(meta[48..]));
    }
}

/// <summary>A bbolt file is corrupt, truncated or not a bbolt file at all.</summary>
public sealed class BoltFormatException(string message) : IOException(message);
