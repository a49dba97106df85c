using Dotcd.Raft;

namespace Dotcd.Simulation;

/// <summary>
/// One member's simulated disk, modelled as an append-only journal like a WAL: writes go to an
/// unsynced tail that Sync makes durable. A crash loses the unsynced tail, or with a torn write
/// keeps a prefix of it (as a WAL whose last records never reached the platter, cut at a record
/// boundary because a torn record fails its CRC).
/// Records of one Ready are written in the order etcd's WAL uses: entries, then the hard state, so
/// any prefix that keeps a commit index also keeps the entries it covers. A received snapshot is
/// one record together with its Ready's hard state, so no prefix has a commit below the snapshot.
/// The state machine's checkpoint follows the entries it applied, so a surviving checkpoint never
/// claims more than the surviving commit index.
/// </summary>
public sealed class SimDisk
{
    private readonly List<DiskRecord> _unsynced = [];

    // The durable state. Invariant: _entries are contiguous and start after the snapshot's index;
    // the hard state's commit <= last durable index; the checkpoint's applied <= that commit.
    private HardState _hardState;
    private Snapshot _snapshot = Snapshot.Empty;
    private readonly List<Entry> _entries = [];
    private StateCheckpoint _checkpoint = StateCheckpoint.Empty;

    public int UnsyncedCount => _unsynced.Count;

    public bool IsEmpty => _hardState.IsEmpty && _snapshot.IsEmpty && _entries.Count == 0;

    public HardState HardState => _hardState;

    public Snapshot Snapshot => _snapshot;

    public IReadOnlyList<Entry> Entries => _entries;

    public StateCheckpoint Checkpoint => _checkpoint;

    public ulong LastIndex => _entries.Count > 0 ? _entries[^1].Index : _snapshot.Metadata.Index;

    public void WriteEntries(IReadOnlyList<Entry> entries)
    {
        foreach (Entry e in entries) _unsynced.Add(new DiskRecord(DiskRecordKind.Entry, e, default, null, null));
    }

    public void WriteHardState(HardState hs) => _unsynced.Add(new DiskRecord(DiskRecordKind.HardState, default, hs, null, null));

    /// <summary>A snapshot received from the leader, with the hard state of the same Ready; it replaces the log.</summary>
    public void WriteReceivedSnapshot(Snapshot snapshot, HardState hs) =>
        _unsynced.Add(new DiskRecord(DiskRecordKind.ReceivedSnapshot, default, hs, snapshot, null));

    /// <summary>A snapshot the member made of its own state: entries up to it are dropped.</summary>
    public void WriteCompaction(Snapshot snapshot) =>
        _unsynced.Add(new DiskRecord(DiskRecordKind.Compaction, default, default, snapshot, null));

    public void WriteCheckpoint(StateCheckpoint checkpoint) =>
        _unsynced.Add(new DiskRecord(DiskRecordKind.Checkpoint, default, default, null, checkpoint));

    public void Sync()
    {
        foreach (DiskRecord r in _unsynced) MakeDurable(r);
        _unsynced.Clear();
    }

    /// <summary>Power loss: the unsynced tail is lost, except the first <paramref name="keep"/> records of it.</summary>
    public void Crash(int keep)
    {
        for (int i = 0; i < keep && i < _unsynced.Count; i++) MakeDurable(_unsynced[i]);
        _unsynced.Clear();
    }

    /// <summary>Wipes the disk (a member replaced by a fresh one).</summary>
    public void Erase()
    {
        _unsynced.Clear();
        _hardState = default;
        _snapshot = Snapshot.Empty;
        _entries.Clear();
        _checkpoint = StateCheckpoint.Empty;
    }

    private void MakeDurable(DiskRecord r)
    {
        switch (r.Kind)
        {
            case DiskRecordKind.Entry:
                AppendDurable(r.Entry);
                break;
            case DiskRecordKind.HardState:
                _hardState = r.HardState;
                break;
            case DiskRecordKind.ReceivedSnapshot:
                if (r.Snapshot!.Metadata.Index <= _snapshot.Metadata.Index) break;
                _snapshot = r.Snapshot;
                _entries.Clear();
                if (!r.HardState.IsEmpty) _hardState = r.HardState;
                break;
            case DiskRecordKind.Compaction:
                if (r.Snapshot!.Metadata.Index <= _snapshot.Metadata.Index) break;
                _snapshot = r.Snapshot;
                int drop = 0;
                while (drop < _entries.Count && _entries[drop].Index <= r.Snapshot.Metadata.Index) drop++;
                _entries.RemoveRange(0, drop);
                break;
            case DiskRecordKind.Checkpoint:
                _checkpoint = r.Checkpoint!;
                break;
        }
        if (_hardState.Commit > LastIndex && !_hardState.IsEmpty)
            throw new SimulationException($"durable commit {_hardState.Commit} beyond durable last index {LastIndex}");
        if (_checkpoint.Applied > Math.Max(_hardState.Commit, _snapshot.Metadata.Index))
            throw new SimulationException($"durable applied {_checkpoint.Applied} beyond durable commit {_hardState.Commit}");
    }

    private void AppendDurable(Entry e)
    {
        if (e.Index <= _snapshot.Metadata.Index) return; // covered by the snapshot
        ulong first = _entries.Count > 0 ? _entries[0].Index : _snapshot.Metadata.Index + 1;
        if (e.Index > first + (ulong)_entries.Count)
            throw new SimulationException($"durable log gap: appending {e.Index} after {LastIndex}");
        // A WAL replays an entry at index i as "truncate from i, then append": the new entry wins.
        int at = (int)(e.Index - first);
        if (at < _entries.Count) _entries.RemoveRange(at, _entries.Count - at);
        _entries.Add(e);
    }

    /// <summary>The raft storage a restarting member reads: the durable snapshot, entries and hard state.</summary>
    public MemoryStorage BuildStorage()
    {
        var storage = new MemoryStorage();
        if (!_snapshot.IsEmpty) storage.ApplySnapshot(_snapshot);
        storage.Append(_entries);
        if (!_hardState.IsEmpty) storage.SetHardState(_hardState);
        return storage;
    }
}

public enum DiskRecordKind : byte
{
    Entry,
    HardState,
    ReceivedSnapshot,
    Compaction,
    Checkpoint,
}

public readonly record struct DiskRecord(DiskRecordKind Kind, Entry Entry, HardState HardState, Snapshot? Snapshot, StateCheckpoint? Checkpoint);

/// <summary>What the state machine persisted: its data (the snapshot format) at Applied, and the
/// configuration as of Applied, which a restart hands to raft as a snapshot of the same index.</summary>
public sealed record StateCheckpoint(ulong Applied, ConfState ConfState, byte[] Data)
{
    public static readonly StateCheckpoint Empty = new(0, ConfState.Empty, []);
}
