using Dotcd.Raft;

namespace Dotcd.Storage;

/// <summary>Where a member keeps its raft state and how often it snapshots.</summary>
public sealed record DurableRaftLogOptions
{
    /// <summary>The WAL directory (etcd: data-dir/member/wal).</summary>
    public required string WalDir { get; init; }

    /// <summary>The snapshot directory (etcd: data-dir/member/snap).</summary>
    public required string SnapDir { get; init; }

    /// <summary>etcd's --snapshot-count: applied entries since the last snapshot that trigger the next one.</summary>
    public ulong SnapshotCount { get; init; } = 100_000;

    /// <summary>Entries kept in memory below a snapshot so slow followers catch up without a snapshot (etcd: 5000).</summary>
    public ulong CatchUpEntries { get; init; } = 5_000;

    /// <summary>etcd's --max-snapshots.</summary>
    public int MaxSnapshotFiles { get; init; } = SnapshotStore.DefaultKeep;

    /// <summary>WAL settings; its Log and OnFsync serve the snapshot files too.</summary>
    public WalOptions Wal { get; init; } = new();
}

/// <summary>
/// A member's durable raft log: the WAL and snapshot files behind the MemoryStorage raft reads.
/// Open rebuilds the MemoryStorage from the newest snapshot and the WAL; Save persists each Ready
/// before the host sends its messages; CreateSnapshot saves a snapshot and lets old segments go.
/// </summary>
/// <remarks>
/// Call everything from the raft loop: MemoryStorage is not thread-safe. Any exception from Save or
/// CreateSnapshot means the disk state is unknown: the member must stop.
/// WAL segments are released up to the previous snapshot, not the newest: if the newest snapshot
/// file turns out unreadable at restart, the one before it still replays.
/// </remarks>
public sealed class DurableRaftLog : IDisposable
{
    private readonly DurableRaftLogOptions _options;
    private readonly Wal _wal;
    private readonly SnapshotStore _snapshots;
    private readonly MemoryStorage _storage;
    private readonly IStorageLog _log;
    private ulong _snapshotIndex;          // Newest snapshot saved or loaded (0: none).
    private Snapshot _snapshot;

    private DurableRaftLog(DurableRaftLogOptions options, Wal wal, SnapshotStore snapshots, MemoryStorage storage,
        ReadOnlyMemory<byte> metadata, HardState hardState, Snapshot snapshot)
    {
        _options = options;
        _wal = wal;
        _snapshots = snapshots;
        _storage = storage;
        _log = options.Wal.Log;
        Metadata = metadata;
        HardState = hardState;
        _snapshot = snapshot;
        _snapshotIndex = snapshot.Metadata.Index;
    }

    /// <summary>What raft reads: pass it as the RawNode's storage.</summary>
    public MemoryStorage Storage => _storage;

    /// <summary>The metadata given to Create (node id, cluster id).</summary>
    public ReadOnlyMemory<byte> Metadata { get; }

    /// <summary>The HardState found at Open (Empty after Create).</summary>
    public HardState HardState { get; }

    /// <summary>The newest snapshot (loaded at Open, received in a Ready, or created); Snapshot.Empty if none.</summary>
    public Snapshot Snapshot => _snapshot;

    /// <summary>Whether the member has raft state on disk (a restart rather than a first start).</summary>
    public static bool Exists(DurableRaftLogOptions options) => Wal.Exists(options.WalDir);

    /// <summary>Creates the WAL (with metadata) and snapshot directory of a new member.</summary>
    public static DurableRaftLog Create(DurableRaftLogOptions options, ReadOnlySpan<byte> metadata)
    {
        var snapshots = new SnapshotStore(options.SnapDir, options.Wal.Log, options.MaxSnapshotFiles, options.Wal.OnFsync);
        Wal wal = Wal.Create(options.WalDir, metadata, options.Wal);
        return new DurableRaftLog(options, wal, snapshots, new MemoryStorage(), metadata.ToArray(), HardState.Empty, Snapshot.Empty);
    }

    /// <summary>
    /// Restarts from disk: the newest snapshot file the WAL has a marker for, then the WAL after it
    /// (repairing a torn tail; refusing other damage with WalCorruptException).
    /// </summary>
    public static DurableRaftLog Open(DurableRaftLogOptions options)
    {
        var snapshots = new SnapshotStore(options.SnapDir, options.Wal.Log, options.MaxSnapshotFiles, options.Wal.OnFsync);
        IReadOnlyList<WalSnapshot> markers = Wal.ReadSnapshots(options.WalDir);
        Snapshot snapshot = snapshots.LoadNewestAvailable(markers) ?? Snapshot.Empty;
        WalSnapshot start = snapshot.IsEmpty ? WalSnapshot.Zero : WalSnapshot.Of(snapshot);

        Wal wal = Wal.Open(options.WalDir, start, options.Wal);
        WalContents contents;
        try
        {
            contents = wal.ReadAll();
        }
        catch
        {
            wal.Dispose();
            throw;
        }

        var storage = new MemoryStorage();
        if (!snapshot.IsEmpty && storage.ApplySnapshot(snapshot) != StorageError.None)
        {
            throw new InvalidOperationException($"cannot apply snapshot {snapshot.Metadata.Index} to an empty storage");
        }
        HardState hardState = CoverSnapshot(contents.HardState, snapshot.Metadata);
        if (!hardState.IsEmpty) storage.SetHardState(hardState);
        storage.Append(contents.Entries);

        options.Wal.Log.Write(StorageLogLevel.Info, "loaded raft state from disk",
            ("snapshot-index", snapshot.Metadata.Index), ("snapshot-term", snapshot.Metadata.Term),
            ("entries", contents.Entries.Count), ("last-index", storage.LastIndex()),
            ("term", hardState.Term), ("commit", hardState.Commit));
        return new DurableRaftLog(options, wal, snapshots, storage, contents.Metadata, hardState, snapshot);
    }

    /// <summary>
    /// Persists a Ready (step 1 of its contract): a snapshot first (file, then WAL marker), then its
    /// entries and HardState with one fdatasync when MustSync, then hands them to the MemoryStorage.
    /// Messages may be sent once this returns.
    /// </summary>
    public void Save(Ready ready)
    {
        Snapshot? snapshot = ready.Snapshot is { IsEmpty: false } s ? s : null;
        if (snapshot is not null)
        {
            // The file before the marker: a marker must never name a snapshot that is not on disk.
            _snapshots.Save(snapshot);
            _wal.SaveSnapshot(WalSnapshot.Of(snapshot));
        }
        _wal.Save(ready.HardState, ready.Entries, ready.MustSync);

        if (snapshot is not null)
        {
            StorageError error = _storage.ApplySnapshot(snapshot);
            if (error != StorageError.None) throw new InvalidOperationException($"raft handed an out-of-date snapshot {snapshot.Metadata.Index}: {error}");
        }
        if (!ready.HardState.IsEmpty) _storage.SetHardState(ready.HardState);
        _storage.Append(ready.Entries);
        if (snapshot is not null) Advanced(snapshot);
    }

    /// <summary>Whether enough entries were applied since the last snapshot to take the next one.</summary>
    public bool ShouldSnapshot(ulong appliedIndex) => appliedIndex > _snapshotIndex && appliedIndex - _snapshotIndex > _options.SnapshotCount;

    /// <summary>
    /// Takes a snapshot at appliedIndex (which the state machine has applied) with the configuration
    /// as of that index: saves the file and the WAL marker, compacts the in-memory log (keeping
    /// CatchUpEntries) and deletes WAL segments no restart needs. Null if a newer snapshot exists.
    /// </summary>
    public Snapshot? CreateSnapshot(ulong appliedIndex, ConfState confState, ReadOnlyMemory<byte> data)
    {
        StorageError error = _storage.CreateSnapshot(appliedIndex, confState, data, out Snapshot snapshot);
        if (error == StorageError.SnapshotOutOfDate) return null;
        if (error != StorageError.None) throw new InvalidOperationException($"cannot snapshot at {appliedIndex}: {error}");

        _snapshots.Save(snapshot);
        _wal.SaveSnapshot(WalSnapshot.Of(snapshot));
        if (appliedIndex > _options.CatchUpEntries)
        {
            // Compacted means an earlier snapshot already dropped more; nothing to do.
            _ = _storage.Compact(appliedIndex - _options.CatchUpEntries);
        }
        Advanced(snapshot);
        _log.Write(StorageLogLevel.Info, "saved snapshot and compacted the raft log",
            ("snapshot-index", appliedIndex), ("compact-index", appliedIndex > _options.CatchUpEntries ? appliedIndex - _options.CatchUpEntries : 0));
        return snapshot;
    }

    /// <summary>Syncs and closes the WAL.</summary>
    public void Dispose() => _wal.Dispose();

    internal Wal Wal => _wal;

    private void Advanced(Snapshot snapshot)
    {
        ulong previous = _snapshotIndex;
        _snapshot = snapshot;
        _snapshotIndex = snapshot.Metadata.Index;
        if (previous > 0) _wal.ReleaseTo(previous);
    }

    // A snapshot holds committed entries only, so raft may start with commit at least its index and a
    // term at least its term. The WAL can be behind the snapshot when a crash came between saving a
    // received snapshot and the HardState of the same Ready; raft refuses a commit below its log.
    private static HardState CoverSnapshot(HardState state, SnapshotMetadata snapshot)
    {
        if (snapshot.Index == 0) return state;
        if (snapshot.Term > state.Term) state = new HardState(snapshot.Term, 0, state.Commit);
        return state.Commit < snapshot.Index ? state with { Commit = snapshot.Index } : state;
    }
}
