using System.Buffers.Binary;
using System.Text;

namespace Dotcd.Simulation;

/// <summary>
/// The replicated state machine: a key-value map applied from committed entries, plus the last
/// request applied per client (so a request applies at most once), plus a hash chained over every
/// applied entry (so two members that applied the same index agree on everything before it, even
/// across snapshots).
/// </summary>
public sealed class KvStateMachine
{
    private readonly SortedDictionary<string, string> _kv = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, ulong> _lastSeq = []; // client id -> highest Seq applied

    public ulong Applied { get; private set; }   // Invariant: every entry up to here is applied, none after.

    public ulong ChainHash { get; private set; } // Hash over all entries 1..Applied, in order.

    public IReadOnlyDictionary<string, string> Values => _kv;

    public string? Get(string key) => _kv.TryGetValue(key, out string? v) ? v : null;

    /// <summary>Applies the entry at Applied + 1; conf change entries only advance the index and hash
    /// (the host hands them to the RawNode).</summary>
    public KvApplyResult Apply(in Dotcd.Raft.Entry entry, out KvCommand? command)
    {
        if (entry.Index != Applied + 1)
            throw new SimulationException($"state machine at {Applied} was handed entry {entry.Index}");
        Applied = entry.Index;
        ChainHash = Chain(ChainHash, entry);
        command = null;
        if (entry.Type != Dotcd.Raft.EntryType.Normal || entry.Data.IsEmpty) return new KvApplyResult(false, false);

        KvCommand cmd = KvCommand.Decode(entry.Data.Span);
        command = cmd;
        if (cmd.Kind == KvCommandKind.Probe) return new KvApplyResult(true, true);
        // A request applies at most once: a duplicated proposal, or one a client gave up on and that
        // arrives after the client's next request, is skipped.
        if (_lastSeq.TryGetValue(cmd.ClientId, out ulong last) && cmd.Seq <= last) return new KvApplyResult(false, false);
        _lastSeq[cmd.ClientId] = cmd.Seq;
        switch (cmd.Kind)
        {
            case KvCommandKind.Put:
                _kv[cmd.Key] = cmd.Value!;
                return new KvApplyResult(true, true);
            case KvCommandKind.Delete:
                return new KvApplyResult(true, _kv.Remove(cmd.Key));
            case KvCommandKind.Cas:
                string? current = Get(cmd.Key);
                if (!string.Equals(current, cmd.Expected, StringComparison.Ordinal)) return new KvApplyResult(true, false);
                _kv[cmd.Key] = cmd.Value!;
                return new KvApplyResult(true, true);
            default:
                throw new SimulationException($"unknown command kind {cmd.Kind}");
        }
    }

    public static ulong Chain(ulong previous, in Dotcd.Raft.Entry entry)
    {
        ulong h = previous ^ 0x9E3779B97F4A7C15UL;
        h = MixIn(h, entry.Index);
        h = MixIn(h, entry.Term);
        h = MixIn(h, (ulong)entry.Type);
        foreach (byte b in entry.Data.Span) h = (h ^ b) * 1099511628211UL;
        return MixIn(h, (ulong)entry.Data.Length);
    }

    private static ulong MixIn(ulong h, ulong v)
    {
        h ^= v + 0x9E3779B97F4A7C15UL + (h << 6) + (h >> 2);
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9UL;
        return h ^ (h >> 29);
    }

    // Snapshot data (integers big-endian, strings as in KvCommand: [length: u16][UTF-8]):
    //   ["DKV1"][applied: u64][chain hash: u64][pairs: u32]([key][value])*[clients: u32]([client id: i32][seq: u64])*
    public byte[] Serialize()
    {
        int size = 4 + 8 + 8 + 4 + 4 + _lastSeq.Count * 12;
        foreach (var (k, v) in _kv) size += 4 + Encoding.UTF8.GetByteCount(k) + Encoding.UTF8.GetByteCount(v);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        "DKV1"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt64BigEndian(span[4..], Applied);
        BinaryPrimitives.WriteUInt64BigEndian(span[12..], ChainHash);
        BinaryPrimitives.WriteInt32BigEndian(span[20..], _kv.Count);
        int at = 24;
        foreach (var (k, v) in _kv)
        {
            at = KvCommand.WriteString(span, at, k);
            at = KvCommand.WriteString(span, at, v);
        }
        BinaryPrimitives.WriteInt32BigEndian(span[at..], _lastSeq.Count);
        at += 4;
        foreach (var (client, seq) in _lastSeq)
        {
            BinaryPrimitives.WriteInt32BigEndian(span[at..], client);
            BinaryPrimitives.WriteUInt64BigEndian(span[(at + 4)..], seq);
            at += 12;
        }
        if (at != size) throw new InvalidOperationException("snapshot size mismatch");
        return bytes;
    }

    public static KvStateMachine Deserialize(ReadOnlySpan<byte> data)
    {
        var sm = new KvStateMachine();
        if (data.IsEmpty) return sm; // An empty snapshot (a fresh member's) is the empty state.
        if (!data[..4].SequenceEqual("DKV1"u8)) throw new FormatException("not a state machine snapshot");
        sm.Applied = BinaryPrimitives.ReadUInt64BigEndian(data[4..]);
        sm.ChainHash = BinaryPrimitives.ReadUInt64BigEndian(data[12..]);
        int pairs = BinaryPrimitives.ReadInt32BigEndian(data[20..]);
        int at = 24;
        for (int i = 0; i < pairs; i++)
        {
            string k = KvCommand.ReadString(data, ref at);
            string v = KvCommand.ReadString(data, ref at);
            sm._kv[k] = v;
        }
        int clients = BinaryPrimitives.ReadInt32BigEndian(data[at..]);
        at += 4;
        for (int i = 0; i < clients; i++)
        {
            sm._lastSeq[BinaryPrimitives.ReadInt32BigEndian(data[at..])] = BinaryPrimitives.ReadUInt64BigEndian(data[(at + 4)..]);
            at += 12;
        }
        if (at != data.Length) throw new FormatException("trailing bytes after a state machine snapshot");
        return sm;
    }

    /// <summary>The applied index a snapshot's data was taken at, without decoding it all.</summary>
    public static (ulong Applied, ulong ChainHash) PeekPosition(ReadOnlySpan<byte> data) =>
        data.IsEmpty ? (0, 0) : (BinaryPrimitives.ReadUInt64BigEndian(data[4..]), BinaryPrimitives.ReadUInt64BigEndian(data[12..]));
}

/// <summary>The simulator itself broke an assumption (as opposed to a checked invariant failing).</summary>
public sealed class SimulationException(string message) : Exception(message);
