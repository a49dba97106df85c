using System.Buffers.Binary;
using System.Text;

namespace Dotcd.Raft.Tests.Harness;

/// <summary>
/// One member as a host runs it: a RawNode over its own MemoryStorage, plus a tiny state machine
/// (the list of applied proposal strings). HandleReady follows the Ready contract exactly.
/// </summary>
public sealed class TestNode
{
    private readonly IRaftLogger _logger;
    private int _restarts;

    internal TestNode(ulong id, MemoryStorage storage, NodeOptions options, ulong seed, IRaftLogger logger)
    {
        Id = id;
        Storage = storage;
        Options = options;
        Seed = seed;
        _logger = logger;
        Raw = Start();
    }

    public ulong Id { get; }
    public MemoryStorage Storage { get; }
    public NodeOptions Options { get; }
    public ulong Seed { get; }
    public RawNode Raw { get; private set; }

    /// <summary>False while the member is crashed/stopped: it neither ticks nor receives.</summary>
    public bool Running { get; internal set; } = true;

    // Invariant: every committed entry is applied exactly once, in index order:
    // AppliedIndex grows by one per applied entry, or jumps to a snapshot's index.
    public ulong AppliedIndex { get; private set; }

    /// <summary>Every committed entry applied since the last (re)start, in order (a snapshot adds none).</summary>
    public List<Entry> AppliedEntries { get; } = new();

    /// <summary>The state machine: data of applied non-empty normal entries, survives snapshots.</summary>
    public List<string> State { get; private set; } = new();

    /// <summary>Each configuration this member switched to (from ApplyConfChange or a snapshot), in order.</summary>
    public List<ConfState> ConfStates { get; } = new();

    public List<ReadState> ReadStates { get; } = new();

    /// <summary>Every SoftState a Ready reported (roles a Ready saw; transient ones may be skipped).</summary>
    public List<SoftState> SoftStates { get; } = new();

    public Status Status => Raw.Status();
    public StateType Role => Raw.Status().RaftState;
    public ulong Term => Raw.Status().Term;
    public ulong Lead => Raw.Status().Lead;
    public ulong Committed => Raw.Status().HardState.Commit;
    public ulong Vote => Raw.Status().HardState.Vote;
    public ConfState Config => Raw.Status().Config;

    /// <summary>The entries in stable storage (after the last compaction).</summary>
    public IReadOnlyList<Entry> PersistedLog()
    {
        ulong first = Storage.FirstIndex(), last = Storage.LastIndex();
        if (last < first) return Array.Empty<Entry>();
        StorageError err = Storage.TryGetEntries(first, last + 1, ulong.MaxValue, out IReadOnlyList<Entry> entries);
        if (err != StorageError.None) throw new InvalidOperationException($"node {Id}: reading its log failed: {err}");
        return entries;
    }

    /// <summary>The persisted log as comparable lines "term/index type data" (entries hold bytes by reference).</summary>
    public string[] LogSummary() => PersistedLog().Select(Summarize).ToArray();

    public static string Summarize(Entry e) => $"{e.Term}/{e.Index} {e.Type} {Encoding.UTF8.GetString(e.Data.Span)}";

    public ulong PersistedLastIndex => Storage.LastIndex();

    public ulong PersistedTerm(ulong index) =>
        Storage.TryGetTerm(index, out ulong term) == StorageError.None ? term : throw new InvalidOperationException($"node {Id}: no term for index {index}");

    /// <summary>Data of the persisted normal entries that carry a payload, in log order.</summary>
    public List<string> PersistedData() =>
        PersistedLog().Where(e => e.Type == EntryType.Normal && !e.Data.IsEmpty).Select(e => Encoding.UTF8.GetString(e.Data.Span)).ToList();

    /// <summary>Runs one Ready cycle: persist, collect messages, apply, Advance. Returns the messages to send.</summary>
    public IReadOnlyList<Message> HandleReady()
    {
        if (!Raw.HasReady()) return Array.Empty<Message>();
        Ready rd = Raw.Ready();
        if (rd.SoftState is { } soft) SoftStates.Add(soft);

        // 1. Persist: snapshot first (it replaces the log), then entries, then the hard state.
        if (rd.Snapshot is { } snap && !snap.IsEmpty)
        {
            StorageError err = Storage.ApplySnapshot(snap);
            if (err != StorageError.None) throw new InvalidOperationException($"node {Id}: ApplySnapshot {snap.Metadata.Index} failed: {err}");
        }
        Storage.Append(rd.Entries);
        if (!rd.HardState.IsEmpty) Storage.SetHardState(rd.HardState);

        // 2. Messages go out only after the persist above (the caller sends them).
        IReadOnlyList<Message> messages = rd.Messages;

        // 3. Apply the snapshot, then the committed entries, in order.
        if (rd.Snapshot is { } applied && !applied.IsEmpty)
        {
            State = DecodeState(applied.Data.Span);
            AppliedIndex = applied.Metadata.Index;
            ConfStates.Add(applied.Metadata.ConfState);
        }
        foreach (Entry e in rd.CommittedEntries)
        {
            if (e.Index != AppliedIndex + 1)
                throw new InvalidOperationException($"node {Id}: committed entry {e.Index} applied out of order after {AppliedIndex}");
            switch (e.Type)
            {
                case EntryType.Normal:
                    if (!e.Data.IsEmpty) State.Add(Encoding.UTF8.GetString(e.Data.Span));
                    break;
                case EntryType.ConfChange:
                case EntryType.ConfChangeV2:
                    IConfChange cc = ConfChangeCodec.Decode(e.Type, e.Data.Span);
                    ConfStates.Add(Raw.ApplyConfChange(cc));
                    break;
            }
            AppliedEntries.Add(e);
            AppliedIndex = e.Index;
        }
        ReadStates.AddRange(rd.ReadStates);

        // 4. Done with this Ready.
        Raw.Advance();
        return messages;
    }

    /// <summary>Takes a snapshot at AppliedIndex with the current configuration and compacts the log up to it.</summary>
    public Snapshot SnapshotAndCompact()
    {
        StorageError err = Storage.CreateSnapshot(AppliedIndex, Raw.Status().Config, EncodeState(State), out Snapshot snap);
        if (err != StorageError.None) throw new InvalidOperationException($"node {Id}: CreateSnapshot {AppliedIndex} failed: {err}");
        err = Storage.Compact(AppliedIndex);
        if (err != StorageError.None) throw new InvalidOperationException($"node {Id}: Compact {AppliedIndex} failed: {err}");
        return snap;
    }

    /// <summary>Crash and restart: volatile state is lost; a new RawNode starts from the storage's snapshot, hard state and log.</summary>
    internal void Restart()
    {
        _restarts++;
        Raw = Start();
        AppliedEntries.Clear();
        ReadStates.Clear();
        ConfStates.Clear();
    }

    private RawNode Start()
    {
        Storage.TryGetSnapshot(out Snapshot snap);
        State = DecodeState(snap.Data.Span);
        AppliedIndex = snap.Metadata.Index;
        // A restart draws a new random sequence, as a restarted process would.
        var random = new SeededRaftRandom(Seed * 7919 + (ulong)_restarts);
        return new RawNode(Options.ToConfig(Id, Storage, random, AppliedIndex, _logger));
    }

    // Snapshot data: [count: u32 BE] then count x ([length: u32 BE][utf8 bytes: length])
    internal static byte[] EncodeState(IReadOnlyList<string> state)
    {
        var bytes = new List<byte>();
        Span<byte> u32 = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(u32, (uint)state.Count);
        bytes.AddRange(u32.ToArray());
        foreach (string s in state)
        {
            byte[] data = Encoding.UTF8.GetBytes(s);
            BinaryPrimitives.WriteUInt32BigEndian(u32, (uint)data.Length);
            bytes.AddRange(u32.ToArray());
            bytes.AddRange(data);
        }
        return bytes.ToArray();
    }

    internal static List<string> DecodeState(ReadOnlySpan<byte> data)
    {
        var state = new List<string>();
        if (data.IsEmpty) return state; // The empty snapshot of a fresh storage.
        uint count = BinaryPrimitives.ReadUInt32BigEndian(data);
        int pos = 4;
        for (uint i = 0; i < count; i++)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            pos += 4;
            state.Add(Encoding.UTF8.GetString(data.Slice(pos, length)));
            pos += length;
        }
        return state;
    }

    public override string ToString()
    {
        Status s = Raw.Status();
        return $"node {Id}: {s.RaftState} term={s.Term} lead={s.Lead} vote={s.HardState.Vote} commit={s.HardState.Commit} " +
               $"applied={AppliedIndex} last={Storage.LastIndex()} running={Running}";
    }
}
