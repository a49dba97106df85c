using System.Globalization;
using Dotcd.Api.Raft;
using Dotcd.Raft;
using Dotcd.Storage.IO;
using Google.Protobuf;
using Pb = Dotcd.Api.Raftpb;
using Snappb = Dotcd.Api.Snappb;

namespace Dotcd.Storage;

/// <summary>A snapshot file is unreadable: empty, undecodable, or its CRC does not match.</summary>
public sealed class SnapshotCorruptException(string path, string reason) : IOException($"snap: {path}: {reason}")
{
    public string Path { get; } = path;
}

/// <summary>
/// Raft snapshot files in a directory, named "%016x-%016x.snap" (term, index) like etcd's.
/// Saves are atomic (temp file, fsync, rename, directory fsync); the newest files are kept
/// (5 by default, etcd's --max-snapshots) and older ones deleted.
/// </summary>
/// <remarks>
/// File format, etcd's own (so etcd tools read ours and we read theirs):
///   snappb.Snapshot { uint32 crc = 1; bytes data = 2; }
///   data = a marshaled raftpb.Snapshot, crc = CRC-32C of data (never 0: 0 marks an empty file).
/// </remarks>
public sealed class SnapshotStore
{
    public const int DefaultKeep = 5;

    private const string Suffix = ".snap";

    private readonly string _dir;
    private readonly IStorageLog _log;
    private readonly int _keep;
    private readonly Action<TimeSpan>? _onFsync;

    /// <summary>Opens (creating it if needed) the snapshot directory; deletes temp files a crash left behind.</summary>
    public SnapshotStore(string dir, IStorageLog? log = null, int keep = DefaultKeep, Action<TimeSpan>? onFsync = null)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), "keep at least one snapshot file");
        _dir = System.IO.Path.GetFullPath(dir);
        _log = log ?? StorageLog.None;
        _keep = keep;
        _onFsync = onFsync;
        Directory.CreateDirectory(_dir);
        foreach (string tmp in Directory.EnumerateFiles(_dir, "*" + Suffix + ".tmp")) File.Delete(tmp);
    }

    public string DirectoryPath => _dir;

    /// <summary>Writes the snapshot durably (an empty snapshot is ignored) and prunes old files.</summary>
    public void Save(Snapshot snapshot)
    {
        if (snapshot.IsEmpty) return;
        string path = System.IO.Path.Combine(_dir, FileName(snapshot.Metadata.Term, snapshot.Metadata.Index));
        string tmp = path + ".tmp";
        byte[] bytes = Encode(snapshot);
        try
        {
            using (var handle = File.OpenHandle(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, bytes, 0);
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                Native.DataSync(handle, tmp);
                _onFsync?.Invoke(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            }
            File.Move(tmp, path, overwrite: true);
            Native.SyncDirectory(_dir);
        }
        catch (Exception e)
        {
            _log.Write(StorageLogLevel.Warn, "failed to write a snap file", ("path", path), ("error", e.Message));
            File.Delete(tmp);
            throw;
        }
        _log.Write(StorageLogLevel.Info, "saved snapshot", ("path", path), ("snapshot-index", snapshot.Metadata.Index));
        Prune();
    }

    /// <summary>The newest readable snapshot, or null if there is none. Unreadable files are renamed "*.broken".</summary>
    public Snapshot? Load() => LoadMatching(null);

    /// <summary>
    /// The newest readable snapshot the WAL has a marker for, or null. A snapshot file without a marker
    /// was saved just before a crash; the WAL cannot replay from it (etcd 3.5's LoadNewestAvailable).
    /// </summary>
    public Snapshot? LoadNewestAvailable(IReadOnlyList<WalSnapshot> walSnapshots)
    {
        var wanted = new HashSet<(ulong Term, ulong Index)>();
        foreach (WalSnapshot s in walSnapshots) wanted.Add((s.Term, s.Index));
        return LoadMatching(wanted);
    }

    /// <summary>Reads and checks one snapshot file.</summary>
    public static Snapshot Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new SnapshotCorruptException(path, "empty snapshot file");
        Snappb.Snapshot container;
        Pb.Snapshot raft;
        try
        {
            container = Snappb.Snapshot.Parser.ParseFrom(bytes);
            if (container.Data.IsEmpty || container.Crc == 0) throw new SnapshotCorruptException(path, "empty snapshot");
            uint crc = Crc32C.Compute(container.Data.Span);
            if (crc != container.Crc) throw new SnapshotCorruptException(path, $"crc mismatch: computed {crc:x8}, stored {container.Crc:x8}");
            raft = Pb.Snapshot.Parser.ParseFrom(container.Data);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new SnapshotCorruptException(path, $"undecodable: {e.Message}");
        }
        Snapshot snapshot = RaftWire.FromWire(raft);
        if (TryParseName(System.IO.Path.GetFileName(path), out ulong term, out ulong index) &&
            (term != snapshot.Metadata.Term || index != snapshot.Metadata.Index))
        {
            throw new SnapshotCorruptException(path, $"holds snapshot {snapshot.Metadata.Index}/{snapshot.Metadata.Term}, not what its name says");
        }
        return snapshot;
    }

    /// <summary>Snapshot file names, newest first.</summary>
    public IReadOnlyList<string> FileNames()
    {
        var names = new List<(ulong Term, ulong Index, string Name)>();
        foreach (string path in Directory.EnumerateFiles(_dir, "*" + Suffix))
        {
            string name = System.IO.Path.GetFileName(path);
            if (TryParseName(name, out ulong term, out ulong index)) names.Add((term, index, name));
        }
        names.Sort((a, b) => b.Term != a.Term ? b.Term.CompareTo(a.Term) : b.Index.CompareTo(a.Index));
        return names.Select(n => n.Name).ToArray();
    }

    internal static string FileName(ulong term, ulong index) => $"{term:x16}-{index:x16}{Suffix}";

    private static bool TryParseName(string name, out ulong term, out ulong index)
    {
        term = 0;
        index = 0;
        return name.Length == 16 + 1 + 16 + Suffix.Length && name[16] == '-' && name.EndsWith(Suffix, StringComparison.Ordinal) &&
            ulong.TryParse(name.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out term) &&
            ulong.TryParse(name.AsSpan(17, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out index);
    }

    private static byte[] Encode(Snapshot snapshot)
    {
        byte[] raft = RaftWire.ToWire(snapshot).ToByteArray();
        var container = new Snappb.Snapshot { Crc = Crc32C.Compute(raft), Data = UnsafeByteOperations.UnsafeWrap(raft) };
        return container.ToByteArray();
    }

    private Snapshot? LoadMatching(HashSet<(ulong Term, ulong Index)>? wanted)
    {
        foreach (string name in FileNames())
        {
            if (wanted is not null && TryParseName(name, out ulong term, out ulong index) && !wanted.Contains((term, index))) continue;
            string path = System.IO.Path.Combine(_dir, name);
            try
            {
                return Read(path);
            }
            catch (SnapshotCorruptException e)
            {
                string broken = path + ".broken";
                _log.Write(StorageLogLevel.Warn, "snap file is corrupt; renaming it and trying an older one", ("path", path), ("broken-path", broken), ("error", e.Message));
                File.Move(path, broken, overwrite: true);
            }
        }
        return null;
    }

    private void Prune()
    {
        IReadOnlyList<string> names = FileNames();
        for (int i = _keep; i < names.Count; i++)
        {
            string path = System.IO.Path.Combine(_dir, names[i]);
            File.Delete(path);
            _log.Write(StorageLogLevel.Info, "removed an old snap file", ("path", path));
        }
    }
}
