using Dotcd.Raft;
using Dotcd.Storage.IO;
using Dotcd.Storage.WalFiles;
using Microsoft.Win32.SafeHandles;

namespace Dotcd.Storage;

public sealed partial class Wal
{
    /// <summary>
    /// Replays the WAL from the start snapshot: the metadata, the last HardState and the entries after
    /// the snapshot. A torn tail in the last segment is cut off (logged, the damaged file copied to
    /// "segment.broken" first); any other damage throws WalCorruptException. Afterwards the WAL appends.
    /// </summary>
    public WalContents ReadAll()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_start is not WalSnapshot start) throw new InvalidOperationException("wal: ReadAll runs once, after Open");

        var replay = new Replay(start, collectEntries: true);
        TailDamage? damage = ReadSegments(_dir, _segments, _readFrom, _tail, replay, out _crc, out _tailOffset);
        if (!replay.Matched)
        {
            throw new WalException($"wal: snapshot marker {start.Index}/{start.Term} not found in {_dir}");
        }

        if (damage is { } torn) RepairTail(torn);

        _metadata = replay.Metadata!;
        _hardState = replay.HardState;
        _lastIndex = replay.LastIndex;
        _start = null;
        return new WalContents(_metadata, replay.HardState, replay.Entries);
    }

    /// <summary>
    /// The snapshot markers in the WAL, oldest first, without changing anything: a restart loads the
    /// newest snapshot file that has a marker (a file saved just before a crash may have none).
    /// Throws WalCorruptException like ReadAll; a torn tail simply ends the list.
    /// </summary>
    public static IReadOnlyList<WalSnapshot> ReadSnapshots(string dir)
    {
        dir = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
        List<WalSegmentName> segments = WalSegmentName.List(dir);
        if (segments.Count == 0) throw new WalException($"wal: no segment files in {dir}");
        WalSegmentName.CheckConsecutive(dir, segments);
        var replay = new Replay(WalSnapshot.Zero, collectEntries: false);
        ReadSegments(dir, segments, 0, tail: null, replay, out _, out _);
        return replay.Snapshots;
    }

    private readonly record struct TailDamage(string Path, int Offset, long FileLength, string Reason);

    /// <summary>
    /// Reads segments[from..] in order, feeding each record to replay. Returns where the last segment
    /// needs cutting (null if it ended cleanly), its final crc and the offset appending resumes at.
    /// </summary>
    private static TailDamage? ReadSegments(string dir, List<WalSegmentName> segments, int from, SafeFileHandle? tail,
        Replay replay, out uint crc, out long endOffset)
    {
        crc = 0;
        endOffset = 0;
        TailDamage? damage = null;
        byte[] buffer = [];
        for (int i = from; i < segments.Count; i++)
        {
            string path = Path.Combine(dir, segments[i].FileName);
            bool isLast = i == segments.Count - 1;
            int length;
            if (isLast && tail is not null)
            {
                length = ReadFile(tail, path, ref buffer);
            }
            else
            {
                using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                length = ReadFile(handle, path, ref buffer);
            }
            ReadOnlySpan<byte> file = buffer.AsSpan(0, length);

            var reader = new WalSegmentReader(file, crc, seeded: i != from);
            replay.BeginSegment(path);
            while (reader.TryNext(out WalRecordType type, out ReadOnlySpan<byte> payload))
            {
                replay.Apply(type, payload, reader.RecordOffset);
            }
            if (reader.Damage is { } reason)
            {
                // Segments before the last were fsynced before the next was named, and a segment's
                // head records before it was named: damage there is never a torn write.
                if (!isLast || reader.Offset == 0) throw new WalCorruptException(path, reader.Offset, reason);
                if (!WalSegmentReader.IsTornTail(file, reader.Offset, out string why))
                {
                    throw new WalCorruptException(path, reader.Offset, $"{reason}; {why}");
                }
                damage = new TailDamage(path, reader.Offset, length, $"{reason}; {why}");
            }
            replay.EndSegment(path, reader.Offset);
            crc = reader.Crc;
            endOffset = reader.Offset;
        }
        return damage;
    }

    private static int ReadFile(SafeFileHandle handle, string path, ref byte[] buffer)
    {
        long length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength) throw new WalException($"wal: segment {path} is too large to read ({length} bytes)");
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<byte>((int)length);
        int read = 0;
        while (read < length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(read, (int)length - read), read);
            if (n == 0) break; // Shrunk under us; parse what is there.
            read += n;
        }
        return read;
    }

    /// <summary>Cuts the torn tail off the last segment: zeros from the last good record on, then fsync.</summary>
    private void RepairTail(TailDamage damage)
    {
        _log.Write(StorageLogLevel.Warn, "WAL ends in a torn write; truncating it at the last good record",
            ("path", damage.Path), ("offset", damage.Offset), ("dropped-bytes", damage.FileLength - damage.Offset), ("reason", damage.Reason));
        string broken = damage.Path + ".broken";
        CopyTail(broken); // Keep the evidence, as etcd's repair does.

        // Truncate and preallocate again: the tail reads as zeros, so the next start sees a clean end.
        RandomAccess.SetLength(_tail!, damage.Offset);
        Native.Preallocate(_tail!, damage.Path, Math.Max(damage.FileLength, _options.SegmentSizeBytes));
        SyncTail();
        _log.Write(StorageLogLevel.Info, "repaired the WAL tail", ("path", damage.Path), ("offset", damage.Offset), ("copy", broken));
    }

    // Copies the locked tail through our own handle (opening it again would hit our own lock).
    private void CopyTail(string destination)
    {
        using SafeFileHandle copy = File.OpenHandle(destination, FileMode.Create, FileAccess.Write, FileShare.None);
        byte[] chunk = new byte[64 * 1024];
        long offset = 0;
        int n;
        while ((n = RandomAccess.Read(_tail!, chunk, offset)) > 0)
        {
            RandomAccess.Write(copy, chunk.AsSpan(0, n), offset);
            offset += n;
        }
    }

    /// <summary>
    /// Rebuilds what raft appended, record by record.
    /// The log after the start snapshot S0 (term T0) is kept as Entries (indexes S0+1, S0+2, ...).
    /// An entry at index i replaces everything from i on, as raft's append does. A snapshot marker
    /// at S either kept the log (a local snapshot: the entry at S had the marker's term) or replaced
    /// it (a snapshot received from the leader, which raft restores only when the entry at S is
    /// missing or has another term); in the second case the entries before the marker are stale.
    /// </summary>
    private sealed class Replay(WalSnapshot start, bool collectEntries)
    {
        private string _path = "";
        private bool _segmentHasMetadata;
        private ulong? _termAtStart;   // Term of the entry at S0 if the current log holds it.

        public byte[]? Metadata { get; private set; }
        public HardState HardState { get; private set; }
        public List<Entry> Entries { get; } = [];   // Invariant: Entries[k].Index == start.Index + 1 + k.
        public List<WalSnapshot> Snapshots { get; } = [];
        public ulong LastIndex { get; private set; }
        public bool Matched { get; private set; }

        public void BeginSegment(string path)
        {
            _path = path;
            _segmentHasMetadata = false;
        }

        public void EndSegment(string path, int offset)
        {
            if (!_segmentHasMetadata) throw new WalCorruptException(path, offset, "segment has no metadata record");
        }

        public void Apply(WalRecordType type, ReadOnlySpan<byte> payload, int offset)
        {
            try
            {
                switch (type)
                {
                    case WalRecordType.Crc:
                        break; // The reader checked the chain.
                    case WalRecordType.Metadata:
                        if (Metadata is not null && !payload.SequenceEqual(Metadata))
                        {
                            throw new WalCorruptException(_path, offset, "metadata differs from the earlier segments'");
                        }
                        Metadata ??= payload.ToArray();
                        _segmentHasMetadata = true;
                        break;
                    case WalRecordType.State:
                        HardState = WalCodec.ReadHardState(payload);
                        break;
                    case WalRecordType.Entry:
                        if (collectEntries) ApplyEntry(WalCodec.ReadEntry(payload), offset);
                        else LastIndex = WalCodec.ReadEntry(payload).Index;
                        break;
                    case WalRecordType.Snapshot:
                        ApplySnapshot(WalCodec.ReadSnapshot(payload), offset);
                        break;
                }
            }
            catch (FormatException e)
            {
                throw new WalCorruptException(_path, offset, $"undecodable {type} record: {e.Message}");
            }
        }

        private void ApplyEntry(Entry entry, int offset)
        {
            LastIndex = entry.Index;
            if (entry.Index <= start.Index)
            {
                // Raft rewrote the log from here: whatever followed S0 is gone.
                Entries.Clear();
                _termAtStart = entry.Index == start.Index ? entry.Term : null;
                return;
            }
            ulong position = entry.Index - start.Index - 1;
            if (position > (ulong)Entries.Count)
            {
                throw new WalCorruptException(_path, offset,
                    $"entry {entry.Index} leaves a gap after {start.Index + (ulong)Entries.Count}");
            }
            if (position < (ulong)Entries.Count) Entries.RemoveRange((int)position, Entries.Count - (int)position);
            Entries.Add(entry);
        }

        private void ApplySnapshot(WalSnapshot marker, int offset)
        {
            Snapshots.Add(marker);
            if (LastIndex < marker.Index) LastIndex = marker.Index;
            if (!collectEntries || marker.Index < start.Index) return;
            if (marker.Index == start.Index)
            {
                if (marker.Term != start.Term)
                {
                    throw new WalCorruptException(_path, offset,
                        $"snapshot marker {marker.Index}/{marker.Term} does not match the snapshot {start.Index}/{start.Term}");
                }
                Matched = true;
                if (start.Index > 0 && _termAtStart != start.Term) Entries.Clear(); // Restored from the leader.
                _termAtStart = start.Term;
                return;
            }
            ulong position = marker.Index - start.Index - 1;
            if (position >= (ulong)Entries.Count || Entries[(int)position].Term != marker.Term)
            {
                throw new WalCorruptException(_path, offset,
                    $"snapshot {marker.Index}/{marker.Term} replaced the log after the snapshot {start.Index}/{start.Term} " +
                    "replay started from; its snapshot file is needed");
            }
        }
    }
}
