using System.Diagnostics;
using Dotcd.Raft;
using Dotcd.Storage.IO;
using Dotcd.Storage.WalFiles;
using Microsoft.Win32.SafeHandles;

namespace Dotcd.Storage;

/// <summary>
/// The write-ahead log: what a member must find again after a crash (its HardState and raft log),
/// in segment files with a chained CRC per record (format drawn in Wal/WalSegmentReader.cs).
/// </summary>
/// <remarks>
/// Life cycle: Create (a new member) or Open followed by ReadAll (a restart), then Save once per
/// Ready, SaveSnapshot after each snapshot file, ReleaseTo to drop old segments, Dispose.
/// A failed write or fsync leaves the WAL unusable: every later call throws, because after a failed
/// fsync nobody knows what reached the disk (the member must stop, never carry on).
/// Not thread-safe: the raft loop owns it.
/// </remarks>
public sealed partial class Wal : IDisposable
{
    private static readonly TimeSpan s_slowSync = TimeSpan.FromSeconds(1);

    private readonly string _dir;
    private readonly WalOptions _options;
    private readonly IStorageLog _log;
    private readonly RecordBuffer _buffer = new();
    private readonly SegmentPreparer _preparer;

    // Invariant: ascending Seq without gaps; the last one is the tail. Older ones may be released.
    private readonly List<WalSegmentName> _segments;
    private int _readFrom;              // First segment ReadAll reads (the one covering the start snapshot).
    private SafeFileHandle? _tail;      // The last segment, locked (flock) against a second writer.
    private long _tailOffset;           // Invariant: [0, _tailOffset) of the tail are whole records, the rest zeros.

    private uint _crc;                  // crc of the last record written; the next record continues it.
    private ulong _lastIndex;           // Index of the last entry written (or snapshot marked); names the next segment.
    private HardState _hardState;       // Last non-empty HardState saved; repeated at the head of each new segment.
    private byte[] _metadata = [];      // Repeated at the head of each new segment.

    private WalSnapshot? _start;        // Set between Open and ReadAll: appending is not allowed yet.
    private Exception? _failure;        // First write or fsync failure; the WAL refuses all work after it.
    private bool _disposed;

    private Wal(string dir, WalOptions options, List<WalSegmentName> segments)
    {
        if (options.SegmentSizeBytes < 4096) throw new ArgumentOutOfRangeException(nameof(options), "SegmentSizeBytes must be at least 4096");
        _dir = dir;
        _options = options;
        _log = options.Log;
        _segments = segments;
        _preparer = new SegmentPreparer(dir, options.SegmentSizeBytes, options.PrepareSegmentsInBackground);
    }

    /// <summary>The WAL's directory.</summary>
    public string Directory => _dir;

    /// <summary>Index of the last entry saved (or replayed).</summary>
    public ulong LastIndex => _lastIndex;

    /// <summary>Full paths of the segment files, oldest first.</summary>
    public IReadOnlyList<string> SegmentPaths => _segments.Select(s => Path.Combine(_dir, s.FileName)).ToArray();

    private string TailPath => Path.Combine(_dir, _segments[^1].FileName);

    /// <summary>Whether dir holds a WAL (any segment file).</summary>
    public static bool Exists(string dir) => WalSegmentName.List(dir).Count > 0;

    /// <summary>
    /// Creates a WAL in dir holding metadata and the zero snapshot marker. The first segment is built
    /// in "dir.tmp" and the directory renamed into place, so a crash leaves either no WAL or a whole one.
    /// </summary>
    public static Wal Create(string dir, ReadOnlySpan<byte> metadata, WalOptions? options = null)
    {
        options ??= new WalOptions();
        dir = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        if (Exists(dir)) throw new IOException($"wal: {dir} already holds a WAL");
        if (System.IO.Directory.Exists(dir) && System.IO.Directory.EnumerateFileSystemEntries(dir).Any())
        {
            throw new IOException($"wal: {dir} is not empty"); // etcd would delete it; we do not delete what we did not write.
        }
        string parent = Path.GetDirectoryName(dir) ?? throw new ArgumentException("the WAL cannot be a root directory", nameof(dir));
        System.IO.Directory.CreateDirectory(parent);
        string tmpDir = dir + ".tmp";
        if (System.IO.Directory.Exists(tmpDir)) System.IO.Directory.Delete(tmpDir, recursive: true);
        System.IO.Directory.CreateDirectory(tmpDir);

        var first = new WalSegmentName(0, 0);
        string tmpPath = Path.Combine(tmpDir, first.FileName);
        SafeFileHandle handle = File.OpenHandle(tmpPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        var wal = new Wal(dir, options, [first]) { _tail = handle, _metadata = metadata.ToArray() };
        try
        {
            Native.Preallocate(handle, tmpPath, options.SegmentSizeBytes);
            wal.AppendRecord(WalRecordType.Crc, []);
            wal.AppendRecord(WalRecordType.Metadata, metadata);
            wal.AppendRecord(WalRecordType.Snapshot, WalCodec.EncodeSnapshot(WalSnapshot.Zero));
            wal.WriteBuffer();
            wal.SyncTail();
            if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir); // Empty (checked above); rename needs it gone.
            System.IO.Directory.Move(tmpDir, dir);
            wal.SyncDirectory(parent);
        }
        catch
        {
            wal._failure = new IOException("wal: create failed");
            wal.Dispose();
            throw;
        }
        return wal;
    }

    /// <summary>
    /// Opens the WAL in dir to replay from the snapshot marker start (WalSnapshot.Zero: from the
    /// beginning). Locks the last segment; call ReadAll next.
    /// </summary>
    public static Wal Open(string dir, WalSnapshot start, WalOptions? options = null)
    {
        options ??= new WalOptions();
        dir = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        List<WalSegmentName> segments = WalSegmentName.List(dir);
        if (segments.Count == 0) throw new WalException($"wal: no segment files in {dir}");
        WalSegmentName.CheckConsecutive(dir, segments);
        int readFrom = SegmentCovering(segments, start.Index);
        if (readFrom < 0)
        {
            throw new WalException($"wal: no segment in {dir} covers snapshot index {start.Index} (the oldest starts at {segments[0].FirstIndex})");
        }

        var wal = new Wal(dir, options, segments) { _readFrom = readFrom, _start = start };
        try
        {
            wal._tail = File.OpenHandle(wal.TailPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            SegmentPreparer.DeleteLeftovers(dir); // Only once the lock shows no other writer is preparing one.
        }
        catch
        {
            wal.Dispose();
            throw;
        }
        return wal;
    }

    /// <summary>
    /// Appends the records of one Ready (entries, then the HardState if not empty) with one write and,
    /// when mustSync, one fdatasync. Returns once they are durable (or, without mustSync, written).
    /// When the write takes the tail past the segment size, the Save also rolls over to a new
    /// segment, which costs up to two more fsyncs (the new segment's head and the directory).
    /// </summary>
    public void Save(HardState hardState, IReadOnlyList<Entry> entries, bool mustSync)
    {
        ThrowIfUnusable();
        if (hardState.IsEmpty && entries.Count == 0) return;
        for (int i = 1; i < entries.Count; i++)
        {
            if (entries[i].Index != entries[i - 1].Index + 1)
            {
                throw new ArgumentException($"entries are not consecutive: {entries[i - 1].Index} then {entries[i].Index}", nameof(entries));
            }
        }

        try
        {
            for (int i = 0; i < entries.Count; i++) AppendEntry(entries[i]);
            if (!hardState.IsEmpty) AppendHardState(hardState);
            WriteBuffer();
            if (entries.Count > 0) _lastIndex = entries[^1].Index;
            if (!hardState.IsEmpty) _hardState = hardState;
            if (mustSync) SyncTail();
            AfterWrite(synced: mustSync);
        }
        catch (Exception e)
        {
            Fail(e);
            throw;
        }
    }

    /// <summary>Records that a snapshot file at this index and term was saved, and fsyncs.</summary>
    public void SaveSnapshot(WalSnapshot snapshot)
    {
        ThrowIfUnusable();
        try
        {
            AppendRecord(WalRecordType.Snapshot, WalCodec.EncodeSnapshot(snapshot));
            WriteBuffer();
            if (_lastIndex < snapshot.Index) _lastIndex = snapshot.Index;
            SyncTail();
            AfterWrite(synced: true);
        }
        catch (Exception e)
        {
            Fail(e);
            throw;
        }
    }

    /// <summary>fdatasyncs the tail segment (what Save does when mustSync is true).</summary>
    public void Sync()
    {
        ThrowIfUnusable();
        try
        {
            SyncTail();
        }
        catch (Exception e)
        {
            Fail(e);
            throw;
        }
    }

    /// <summary>
    /// Deletes segments that a restart from a snapshot at index no longer reads: all before the last
    /// segment whose FirstIndex is at or below index. The tail is never deleted.
    /// </summary>
    public void ReleaseTo(ulong index)
    {
        ThrowIfUnusable();
        int keep = SegmentCovering(_segments, index);
        if (keep <= 0) return;
        try
        {
            // Oldest first: a crash part way leaves a gap-free run of segments.
            for (int i = 0; i < keep; i++)
            {
                string path = Path.Combine(_dir, _segments[i].FileName);
                File.Delete(path);
                _log.Write(StorageLogLevel.Info, "removed an old WAL segment", ("path", path), ("release-index", index));
            }
            _segments.RemoveRange(0, keep);
            _readFrom = Math.Max(0, _readFrom - keep);
            SyncDirectory(_dir);
        }
        catch (Exception e)
        {
            Fail(e);
            throw;
        }
    }

    /// <summary>Syncs (unless the WAL failed) and closes the files.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (_failure is null && _start is null && _tail is not null) SyncTail();
        }
        finally
        {
            _preparer.Dispose();
            _tail?.Dispose();
            _buffer.Dispose();
        }
    }

    /// <summary>Closes the files without syncing or cleaning up, like a process killed at this instant.</summary>
    internal void Abandon()
    {
        _disposed = true;
        _tail?.Dispose();
        _preparer.Dispose();
    }

    // The last segment whose FirstIndex <= index (names are not monotonic after a conflict, hence from the end).
    private static int SegmentCovering(List<WalSegmentName> segments, ulong index)
    {
        for (int i = segments.Count - 1; i >= 0; i--)
        {
            if (segments[i].FirstIndex <= index) return i;
        }
        return -1;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure is not null) throw new WalException("wal: unusable after an earlier write or fsync failure", _failure);
        if (_start is not null) throw new InvalidOperationException("wal: call ReadAll before appending");
    }

    private void Fail(Exception e)
    {
        _failure ??= e;
        _log.Write(StorageLogLevel.Error, "WAL write failed; the WAL is unusable", ("path", _segments.Count > 0 ? TailPath : _dir), ("error", e.Message));
    }

    private void AppendEntry(in Entry entry)
    {
        int length = WalCodec.EntrySize(entry);
        Span<byte> frame = _buffer.Append(WalFormat.FrameSize(length));
        WalCodec.WriteEntry(frame.Slice(WalFormat.HeaderSize, length), entry);
        _crc = WalFormat.SealRecord(frame, WalRecordType.Entry, length, _crc);
    }

    private void AppendHardState(in HardState state)
    {
        int length = WalCodec.HardStateSize(state);
        Span<byte> frame = _buffer.Append(WalFormat.FrameSize(length));
        WalCodec.WriteHardState(frame.Slice(WalFormat.HeaderSize, length), state);
        _crc = WalFormat.SealRecord(frame, WalRecordType.State, length, _crc);
    }

    private void AppendRecord(WalRecordType type, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = _buffer.Append(WalFormat.FrameSize(payload.Length));
        payload.CopyTo(frame[WalFormat.HeaderSize..]);
        _crc = WalFormat.SealRecord(frame, type, payload.Length, _crc);
    }

    // One pwrite of everything encoded since the last call.
    private void WriteBuffer()
    {
        RandomAccess.Write(_tail!, _buffer.Written, _tailOffset);
        _tailOffset += _buffer.Length;
        _buffer.Reset();
    }

    private void SyncTail()
    {
        if (_options.UnsafeNoFsync) return;
        long started = Stopwatch.GetTimestamp();
        Native.DataSync(_tail!, TailPath);
        Observe(Stopwatch.GetElapsedTime(started), TailPath);
    }

    private void SyncDirectory(string path)
    {
        if (_options.UnsafeNoFsync) return;
        long started = Stopwatch.GetTimestamp();
        Native.SyncDirectory(path);
        Observe(Stopwatch.GetElapsedTime(started), path);
    }

    private void Observe(TimeSpan took, string path)
    {
        if (took > s_slowSync)
        {
            _log.Write(StorageLogLevel.Warn, "slow fdatasync", ("path", path), ("took", took), ("expected-duration", s_slowSync));
        }
        _options.OnFsync?.Invoke(took);
    }

    private void AfterWrite(bool synced)
    {
        long size = _options.SegmentSizeBytes;
        if (_tailOffset >= size)
        {
            Cut(synced);
        }
        else if (_preparer.Idle && _tailOffset >= size / 2)
        {
            _preparer.Start(); // Half full: allocate the next segment while this one fills.
        }
    }

    /// <summary>
    /// Closes the full tail and continues in a new segment:
    /// 1. the old tail is made durable first: a middle segment with a torn end is refused at startup;
    /// 2. the preallocated temp file gets the head records (Crc continuing the chain, Metadata, the
    ///    last HardState) and is fdatasynced;
    /// 3. it is renamed to its segment name and the directory fsynced, so a segment file that exists
    ///    always has a durable head.
    /// </summary>
    private void Cut(bool synced)
    {
        if (!synced) SyncTail();
        RandomAccess.SetLength(_tail!, _tailOffset); // Drop the unused zero tail; a crash keeping it is harmless.

        (SafeFileHandle next, string tmpPath) = _preparer.Take();
        var name = new WalSegmentName(_segments[^1].Seq + 1, _lastIndex + 1);
        string path = Path.Combine(_dir, name.FileName);
        _tail!.Dispose();
        _tail = next;
        _tailOffset = 0;
        AppendRecord(WalRecordType.Crc, []);
        AppendRecord(WalRecordType.Metadata, _metadata);
        if (!_hardState.IsEmpty) AppendHardState(_hardState);
        WriteBuffer();
        if (!_options.UnsafeNoFsync)
        {
            long started = Stopwatch.GetTimestamp();
            Native.DataSync(next, tmpPath);
            Observe(Stopwatch.GetElapsedTime(started), tmpPath);
        }
        File.Move(tmpPath, path);
        _segments.Add(name);
        SyncDirectory(_dir);
        _log.Write(StorageLogLevel.Info, "created a new WAL segment", ("path", path));
    }
}
