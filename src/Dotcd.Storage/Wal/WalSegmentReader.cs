using System.Buffers.Binary;
using Dotcd.Storage.IO;

namespace Dotcd.Storage.WalFiles;

// A WAL is a directory of segment files "%016x-%016x.wal" (sequence number, raft index of the first
// entry written after the segment was started). A segment is a run of records, each padded to a
// multiple of 8 bytes, followed by preallocated zero bytes up to the segment size:
//
//  offset 0        4      5          8          12         16
//  +---------------+------+----------+----------+----------+--------------------+-------------+
//  | length        | type | reserved | prevCrc  | crc      | payload            | padding     |
//  | u32 LE        | u8   | 3 x 0    | u32 LE   | u32 LE   | length bytes       | 0..7 x 0    |
//  +---------------+------+----------+----------+----------+--------------------+-------------+
//
//  crc     = CRC-32C continued from prevCrc over bytes [0, 8) of the header and then the payload.
//  prevCrc = the crc of the record before it, in this segment or the previous one; the first
//            record of the first segment continues 0. Every segment starts with a Crc record
//            (empty payload) whose prevCrc carries the chain across the file boundary.
//
// Why this shape:
//  - A zero header can never be a record (type 0 is not a type), so the preallocated zero tail
//    marks the end of the records without a length field in the file name or a footer.
//  - The chain (prevCrc must equal the previous record's crc) means a record from another segment,
//    another generation of the directory or a stale copy cannot be spliced in silently.
//  - Because each record also names the crc it continues, a record can be checked on its own
//    ("self-valid"). After a bad record, startup scans on for a self-valid record: finding one means
//    the damage is followed by real data (bit rot, refuse to start), finding none means a torn tail
//    (truncate). Records are 8-byte aligned so that scan only looks at every eighth offset.
//  - Payloads are protobuf bytes identical to what etcd stores in walpb.Record.data (raftpb.Entry,
//    raftpb.HardState, walpb.Snapshot), so converting to and from etcd WALs is a reframing.
//
// Segments other than the last were fsynced before the next one was named; any damage in them is
// corruption. The last segment may end in a torn write (crash before fdatasync returned); see
// IsTornTail below.
//
// Why the payloads are encoded by hand (WalCodec) rather than through generated messages: a Save
// encodes every entry of a Ready straight into one pooled buffer, with no message object per entry.

/// <summary>
/// Walks the records of one segment (format above), checking each record's crc and its
/// link to the chain. Stops at the end of the records (a zero header, or the end of the file) or at
/// the first record that does not check out, whose offset and reason it then reports.
/// </summary>
internal ref struct WalSegmentReader
{
    private readonly ReadOnlySpan<byte> _file;
    private int _offset;      // End of the last good record. Invariant: 0 <= _offset <= _file.Length, aligned.
    private uint _crc;        // crc of the last good record, or the chain value this segment must continue.
    private bool _seeded;     // False until the first Crc record fixes _crc when the chain's start is unknown.
    private bool _done;

    /// <param name="file">The whole segment file.</param>
    /// <param name="prevCrc">The crc the previous segment ended with; ignored when seeded is false.</param>
    /// <param name="seeded">False for the first segment read: it adopts the chain value its Crc record carries.</param>
    public WalSegmentReader(ReadOnlySpan<byte> file, uint prevCrc, bool seeded)
    {
        _file = file;
        _crc = prevCrc;
        _seeded = seeded;
    }

    /// <summary>End of the last good record: where appending resumes, or where a torn tail is cut.</summary>
    public readonly int Offset => _offset;

    /// <summary>Offset of the record TryNext returned last.</summary>
    public int RecordOffset { get; private set; }

    public readonly uint Crc => _crc;

    /// <summary>Why reading stopped before a clean end; null when the segment ended cleanly.</summary>
    public string? Damage { get; private set; }

    public bool TryNext(out WalRecordType type, out ReadOnlySpan<byte> payload)
    {
        type = default;
        payload = default;
        if (_done) return false;
        int remaining = _file.Length - _offset;
        ReadOnlySpan<byte> rest = _file[_offset..];
        if (remaining < WalFormat.HeaderSize || rest[..WalFormat.HeaderSize].IndexOfAnyExcept((byte)0) < 0)
        {
            // A zero header (or too few bytes for one) ends the records. Anything non-zero after it is
            // the remains of a write that did not finish.
            if (rest.IndexOfAnyExcept((byte)0) < 0) return Stop(null);
            return Stop(remaining < WalFormat.HeaderSize ? "truncated record header" : "zero record header followed by non-zero bytes");
        }

        ReadOnlySpan<byte> header = rest[..WalFormat.HeaderSize];
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        byte rawType = header[4];
        if (!WalFormat.IsKnownType(rawType)) return Stop($"unknown record type {rawType}");
        if (header[5] != 0 || header[6] != 0 || header[7] != 0) return Stop("reserved header bytes are not zero");
        if (length > (uint)(remaining - WalFormat.HeaderSize)) return Stop($"record of {length} bytes runs past the end of the file");
        int frame = WalFormat.FrameSize((int)length);
        if (frame > remaining) return Stop("record padding runs past the end of the file");

        type = (WalRecordType)rawType;
        bool first = _offset == 0;
        if (first != (type == WalRecordType.Crc))
        {
            return Stop(first ? $"segment starts with a {type} record, not a Crc record" : "Crc record in the middle of a segment");
        }
        uint prevCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (!_seeded)
        {
            _crc = prevCrc;
            _seeded = true;
        }
        else if (prevCrc != _crc)
        {
            return Stop($"record continues crc {prevCrc:x8} but the record before it ended with {_crc:x8}");
        }
        payload = rest.Slice(WalFormat.HeaderSize, (int)length);
        uint crc = Crc32C.Append(Crc32C.Append(prevCrc, header[..8]), payload);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (crc != stored) return Stop($"crc mismatch: computed {crc:x8}, stored {stored:x8}");

        _crc = stored;
        RecordOffset = _offset;
        _offset += frame;
        return true;
    }

    private bool Stop(string? damage)
    {
        Damage = damage;
        _done = true;
        return false;
    }

    /// <summary>
    /// Decides whether damage at offset in the last segment is a torn tail (safe to cut: nothing after
    /// it was ever acknowledged) or corruption of data that may have been acknowledged.
    /// </summary>
    /// <remarks>
    /// A torn tail is the last write of a crash: fdatasync never returned, so no later Save happened
    /// and nothing from offset on was acknowledged. Such a write leaves whole sectors unwritten (zero,
    /// since segments are preallocated with zeros and never reused) and sometimes a cut-short file,
    /// but the records it did write are intact. So:
    /// 1. No self-valid record anywhere after offset: a torn tail (cut-short, zeros or garbage).
    /// 2. A self-valid record after it, and the damaged record's header is zero or one of its
    ///    sectors is all zeros while the later record starts beyond its end: sectors of one unsynced
    ///    write reached the disk out of order, still a torn tail.
    /// 3. Otherwise a damaged record is followed by good ones: bit rot or a bad splice. Cutting would
    ///    drop the good records silently, so it is corruption.
    /// </remarks>
    public static bool IsTornTail(ReadOnlySpan<byte> file, int offset, out string detail)
    {
        int next = WalFormat.FindSelfValidRecord(file, offset + WalFormat.Alignment);
        if (next < 0)
        {
            detail = "no valid record follows it";
            return true;
        }
        ReadOnlySpan<byte> rest = file[offset..];
        if (rest.Length < WalFormat.HeaderSize || rest[..WalFormat.HeaderSize].IndexOfAnyExcept((byte)0) < 0)
        {
            detail = $"its header was never written; the valid record at offset {next} is from the same unsynced write";
            return true;
        }
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
        bool plausible = WalFormat.IsKnownType(rest[4]) && rest[5] == 0 && rest[6] == 0 && rest[7] == 0 &&
            (long)offset + WalFormat.HeaderSize + length <= next &&
            offset + WalFormat.FrameSize((int)length) <= next;
        if (plausible && WalFormat.HasZeroSectorPart(file, offset, (int)length))
        {
            detail = $"a sector of it was never written; the valid record at offset {next} is from the same unsynced write";
            return true;
        }
        detail = $"a valid record follows it at offset {next}";
        return false;
    }
}
