using Dotcd.Api.Raft;
using Dotcd.Raft;
using Google.Protobuf;
using Walpb = Dotcd.Api.Walpb;

namespace Dotcd.Storage.WalFiles;

/// <summary>
/// Record payloads, in the protobuf encoding etcd stores in its WAL records. Entries and hard states
/// are the hot path (every Ready), so they are written and read by hand straight into and out of the
/// record buffer: no message object per entry, and the only allocation on read is the entry's data.
/// Snapshot markers are rare and go through the generated walpb message.
/// </summary>
internal static class WalCodec
{
    // raftpb.Entry, fields in number order and every scalar present, as etcd (gogoproto) writes it:
    //   [0x08 type: varint][0x10 term: varint][0x18 index: varint][0x22 length: varint][data]
    // The data field is left out when empty. The reader accepts any order, missing fields (zero) and
    // unknown fields (skipped), like any protobuf parser.
    public static int EntrySize(in Entry entry)
    {
        int size = 3 + VarintSize((ulong)entry.Type) + VarintSize(entry.Term) + VarintSize(entry.Index);
        if (!entry.Data.IsEmpty) size += 1 + VarintSize((ulong)entry.Data.Length) + entry.Data.Length;
        return size;
    }

    public static void WriteEntry(Span<byte> destination, in Entry entry)
    {
        int pos = 0;
        destination[pos++] = 0x08;
        pos += WriteVarint(destination[pos..], (ulong)entry.Type);
        destination[pos++] = 0x10;
        pos += WriteVarint(destination[pos..], entry.Term);
        destination[pos++] = 0x18;
        pos += WriteVarint(destination[pos..], entry.Index);
        if (!entry.Data.IsEmpty)
        {
            destination[pos++] = 0x22;
            pos += WriteVarint(destination[pos..], (ulong)entry.Data.Length);
            entry.Data.Span.CopyTo(destination[pos..]);
        }
    }

    public static Entry ReadEntry(ReadOnlySpan<byte> payload)
    {
        var reader = new ProtoReader(payload);
        ulong term = 0, index = 0, type = 0;
        byte[] data = [];
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 0): type = reader.ReadVarint(); break;
                case (2, 0): term = reader.ReadVarint(); break;
                case (3, 0): index = reader.ReadVarint(); break;
                case (4, 2): data = reader.ReadBytes().ToArray(); break;
                default: reader.Skip(wireType); break;
            }
        }
        if (type > (ulong)EntryType.ConfChangeV2) throw new FormatException($"unknown entry type {type}");
        return new Entry(term, index, (EntryType)type, data);
    }

    // raftpb.HardState: [0x08 term: varint][0x10 vote: varint][0x18 commit: varint], all always written.
    public static int HardStateSize(in HardState state) =>
        3 + VarintSize(state.Term) + VarintSize(state.Vote) + VarintSize(state.Commit);

    public static void WriteHardState(Span<byte> destination, in HardState state)
    {
        int pos = 0;
        destination[pos++] = 0x08;
        pos += WriteVarint(destination[pos..], state.Term);
        destination[pos++] = 0x10;
        pos += WriteVarint(destination[pos..], state.Vote);
        destination[pos++] = 0x18;
        WriteVarint(destination[pos..], state.Commit);
    }

    public static HardState ReadHardState(ReadOnlySpan<byte> payload)
    {
        var reader = new ProtoReader(payload);
        ulong term = 0, vote = 0, commit = 0;
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, 0): term = reader.ReadVarint(); break;
                case (2, 0): vote = reader.ReadVarint(); break;
                case (3, 0): commit = reader.ReadVarint(); break;
                default: reader.Skip(wireType); break;
            }
        }
        return new HardState(term, vote, commit);
    }

    // walpb.Snapshot { uint64 index = 1; uint64 term = 2; raftpb.ConfState conf_state = 3; }
    public static byte[] EncodeSnapshot(WalSnapshot snapshot)
    {
        var wire = new Walpb.Snapshot { Index = snapshot.Index, Term = snapshot.Term };
        if (snapshot.ConfState is not null) wire.ConfState = RaftWire.ToWire(snapshot.ConfState);
        return wire.ToByteArray();
    }

    public static WalSnapshot ReadSnapshot(ReadOnlySpan<byte> payload)
    {
        Walpb.Snapshot wire;
        try
        {
            wire = Walpb.Snapshot.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException(e.Message, e);
        }
        return new WalSnapshot(wire.Index, wire.Term) { ConfState = wire.ConfState is null ? null : RaftWire.FromWire(wire.ConfState) };
    }

    public static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>A bounds-checked protobuf reader; malformed input throws FormatException, never reads out of range.</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public bool TryReadTag(out int field, out int wireType)
        {
            field = 0;
            wireType = 0;
            if (_pos == _data.Length) return false;
            ulong tag = ReadVarint();
            if (tag >> 3 == 0 || tag >> 3 > int.MaxValue) throw new FormatException($"invalid field tag {tag}");
            field = (int)(tag >> 3);
            wireType = (int)(tag & 7);
            return true;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos == _data.Length) throw new FormatException("truncated varint");
                byte b = _data[_pos++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new FormatException("varint longer than 10 bytes");
        }

        public ReadOnlySpan<byte> ReadBytes()
        {
            ulong length = ReadVarint();
            if (length > (ulong)(_data.Length - _pos)) throw new FormatException("length-delimited field runs past the record");
            ReadOnlySpan<byte> bytes = _data.Slice(_pos, (int)length);
            _pos += (int)length;
            return bytes;
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case 0: ReadVarint(); break;
                case 1: Advance(8); break;
                case 2: ReadBytes(); break;
                case 5: Advance(4); break;
                default: throw new FormatException($"unsupported wire type {wireType}");
            }
        }

        private void Advance(int count)
        {
            if (_data.Length - _pos < count) throw new FormatException("fixed-size field runs past the record");
            _pos += count;
        }
    }
}
