using Dotcd.Raft;
using Dotcd.Storage.WalFiles;

namespace Dotcd.Storage.Tests;

public sealed class WalRepairTests : IDisposable
{
    private static readonly byte[] s_metadata = "node=1 cluster=2"u8.ToArray();

    private readonly TempDir _tmp = new();
    private readonly RecordingLog _log = new();

    public void Dispose() => _tmp.Dispose();

    private string WalDir => _tmp.Sub("wal");

    // Fast: these tests reopen a WAL thousands of times and test parsing, not the disk.
    private WalOptions Options(long segmentBytes) => new()
    {
        SegmentSizeBytes = segmentBytes,
        Log = _log,
        PrepareSegmentsInBackground = false,
        UnsafeNoFsync = true,
    };

    private WalContents Reopen(long segmentBytes)
    {
        using Wal wal = Wal.Open(WalDir, WalSnapshot.Zero, Options(segmentBytes));
        return wal.ReadAll();
    }

    /// <summary>Where each record of an undamaged segment starts and ends (after its padding), in order.</summary>
    private static List<(int Start, int End, WalRecordType Type)> Records(byte[] file) =>
        RecordsWithPayloadEnd(file).Select(r => (r.Start, r.End, r.Type)).ToList();

    private static List<(int Start, int PayloadEnd, int End, WalRecordType Type)> RecordsWithPayloadEnd(byte[] file)
    {
        var records = new List<(int, int, int, WalRecordType)>();
        var reader = new WalSegmentReader(file, 0, seeded: false);
        while (reader.TryNext(out WalRecordType type, out ReadOnlySpan<byte> payload))
        {
            records.Add((reader.RecordOffset, reader.RecordOffset + WalFormat.HeaderSize + payload.Length, reader.Offset, type));
        }
        Assert.Null(reader.Damage);
        return records;
    }

    public enum TornKind
    {
        Truncated, // The file ends at the cut (a copy or a filesystem that lost the size).
        Zeroed,    // The sectors after the cut never reached the disk.
        Garbage,   // Whatever the device returns for them.
    }

    [Theory]
    [InlineData(TornKind.Truncated)]
    [InlineData(TornKind.Zeroed)]
    [InlineData(TornKind.Garbage)]
    public void ATornTailAtEveryByteIsCutAtTheLastCompleteRecord(TornKind kind)
    {
        const long segmentBytes = 8192;
        Entry[] first = Entries.Range(1, 5, 1);
        Entry[] second = Entries.Range(6, 7, 1, dataBytes: 40);
        Entry third = Entries.Make(8, 1, dataBytes: 300);
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes)))
        {
            wal.Save(new HardState(1, 1, 5), first, mustSync: true);
            wal.Save(new HardState(1, 1, 7), second, mustSync: true);
            wal.Save(new HardState(1, 1, 8), [third], mustSync: true);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Single();
        byte[] pristine = File.ReadAllBytes(path);
        List<(int Start, int PayloadEnd, int End, WalRecordType Type)> records = RecordsWithPayloadEnd(pristine);
        // crc, metadata, snapshot, e1..e5, state, e6, e7, state, e8, state
        Assert.Equal(14, records.Count);
        int cutFrom = records[9].Start;
        int end = records[^1].End;
        // What each record after cutFrom adds to the replay when it survives.
        var tail = new (Entry? Entry, HardState? State)[]
        {
            (second[0], null), (second[1], null), (null, new HardState(1, 1, 7)), (third, null), (null, new HardState(1, 1, 8)),
        };
        var random = new Random(42);

        for (int cut = cutFrom; cut <= end + 8; cut++)
        {
            byte[] damaged = kind switch
            {
                TornKind.Truncated => pristine[..Math.Min(cut, pristine.Length)],
                TornKind.Zeroed => [.. pristine[..cut], .. new byte[pristine.Length - cut]],
                _ => [.. pristine[..cut], .. RandomBytes(random, pristine.Length - cut)],
            };
            File.WriteAllBytes(path, damaged);
            _log.Clear();

            var expected = new List<Entry>(first);
            HardState expectedState = new(1, 1, 5);
            // Padding is not checked: zeros or garbage there leave the record whole, a missing end does not.
            int survivingEnd = records[8].End;
            for (int r = 0; r < tail.Length && (kind == TornKind.Truncated ? records[9 + r].End : records[9 + r].PayloadEnd) <= cut; r++)
            {
                if (tail[r].Entry is { } e) expected.Add(e);
                if (tail[r].State is { } s) expectedState = s;
                survivingEnd = records[9 + r].End;
            }

            WalContents contents = Reopen(segmentBytes);
            Entries.AssertEqual(expected, contents.Entries);
            Assert.Equal(expectedState, contents.HardState);
            // A repair is due when anything but zeros follows the last whole record.
            bool expectRepair = damaged.AsSpan(Math.Min(survivingEnd, damaged.Length)).IndexOfAnyExcept((byte)0) >= 0;
            Assert.True(expectRepair == _log.Has(StorageLogLevel.Warn, "torn"), $"cut at {cut}: repair logged = {!expectRepair}");

            // The repaired WAL appends after the last good record and replays cleanly.
            Entry next = Entries.Make(expected[^1].Index + 1, 2);
            using (Wal wal = Wal.Open(WalDir, WalSnapshot.Zero, Options(segmentBytes)))
            {
                wal.ReadAll();
                wal.Save(new HardState(2, 1, next.Index), [next], mustSync: true);
            }
            _log.Clear();
            Entries.AssertEqual([.. expected, next], Reopen(segmentBytes).Entries);
            Assert.DoesNotContain(_log.Lines, l => l.Level != StorageLogLevel.Info);
        }
    }

    [Fact]
    public void TheRepairKeepsACopyOfTheDamagedSegment()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(8192)))
        {
            wal.Save(new HardState(1, 1, 3), Entries.Range(1, 3, 1), mustSync: true);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Single();
        byte[] bytes = File.ReadAllBytes(path);
        var records = Records(bytes);
        bytes[records[^1].End - 10] ^= 0xFF; // Inside the last record (the HardState).
        File.WriteAllBytes(path, bytes);

        WalContents contents = Reopen(8192);
        Entries.AssertEqual(Entries.Range(1, 3, 1), contents.Entries);
        Assert.True(contents.HardState.IsEmpty);
        Assert.Equal(bytes, File.ReadAllBytes(path + ".broken"));
        Assert.Contains(_log.Lines, l => l.Level == StorageLogLevel.Warn && l.Fields.Contains($"offset={records[^2].End}", StringComparison.Ordinal));
    }

    [Fact]
    public void ThePreallocatedZeroTailIsNotARepair()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(1 << 16)))
        {
            wal.Save(new HardState(1, 1, 3), Entries.Range(1, 3, 1), mustSync: true);
        }
        Assert.Equal(1 << 16, new FileInfo(Directory.GetFiles(WalDir, "*.wal").Single()).Length);
        Reopen(1 << 16);
        Assert.Empty(_log.Lines);
        Assert.Empty(Directory.GetFiles(WalDir, "*.broken"));
    }

    [Fact]
    public void SectorsOfOneUnsyncedWriteLandingOutOfOrderAreATornTail()
    {
        Entry big = Entries.Make(4, 1, dataBytes: 2000);
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(8192)))
        {
            wal.Save(new HardState(1, 1, 3), Entries.Range(1, 3, 1), mustSync: true);
            wal.Save(new HardState(1, 1, 6), [big, Entries.Make(5, 1), Entries.Make(6, 1)], mustSync: true);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Single();
        byte[] bytes = File.ReadAllBytes(path);
        var records = Records(bytes);
        int bigStart = records[7].Start; // crc, metadata, snapshot, e1..e3, state, e4
        int sector = (bigStart / 512 + 1) * 512;
        Array.Clear(bytes, sector, 512); // This sector of e4 never made it; e5, e6 and the state did.
        File.WriteAllBytes(path, bytes);

        WalContents contents = Reopen(8192);
        Entries.AssertEqual(Entries.Range(1, 3, 1), contents.Entries);
        Assert.True(_log.Has(StorageLogLevel.Warn, "torn"));
    }

    [Fact]
    public void ACrcMismatchFollowedByValidRecordsIsRefused()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(8192)))
        {
            for (ulong i = 1; i <= 10; i++) wal.Save(new HardState(1, 1, i), [Entries.Make(i, 1)], mustSync: true);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Single();
        byte[] pristine = File.ReadAllBytes(path);
        var records = Records(pristine);
        (int start, int end, _) = records[5]; // e2, with e3..e10 after it.

        foreach (int offset in new[] { start, start + 1, start + 4, start + 8, start + 12, start + 16, end - 9 })
        {
            byte[] bytes = (byte[])pristine.Clone();
            bytes[offset] ^= 0x01;
            File.WriteAllBytes(path, bytes);
            WalCorruptException e = Assert.Throws<WalCorruptException>(() => Reopen(8192));
            Assert.Equal(path, e.Path);
            Assert.Equal(start, e.Offset);
        }
        // The length grown so the record swallows the next ones: still refused, not cut.
        byte[] grown = (byte[])pristine.Clone();
        grown[start + 1] ^= 0x04;
        File.WriteAllBytes(path, grown);
        Assert.Throws<WalCorruptException>(() => Reopen(8192));
        Assert.Empty(Directory.GetFiles(WalDir, "*.broken"));
    }

    [Fact]
    public void DamageInASegmentBeforeTheLastIsRefused()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(4096)))
        {
            for (ulong i = 1; i <= 200; i += 5) wal.Save(new HardState(1, 1, i), Entries.Range(i, i + 4, 1, dataBytes: 80), mustSync: false);
            Assert.True(wal.SegmentPaths.Count >= 3);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Order().ElementAt(1);
        byte[] pristine = File.ReadAllBytes(path);
        var records = Records(pristine);
        Assert.Equal(pristine.Length, records[^1].End); // Closed segments are cut to their records.

        foreach (int offset in new[] { 0, 9, records[1].Start + 20, records[records.Count / 2].Start + 3, records[^1].Start + 17, pristine.Length - 9 })
        {
            byte[] bytes = (byte[])pristine.Clone();
            bytes[offset] ^= 0x20;
            File.WriteAllBytes(path, bytes);
            WalCorruptException e = Assert.Throws<WalCorruptException>(() => Reopen(4096));
            Assert.Equal(path, e.Path);
        }

        // A closed segment cut short (a lost write) is refused too, as is a missing one.
        File.WriteAllBytes(path, pristine[..(pristine.Length - 30)]);
        Assert.Throws<WalCorruptException>(() => Reopen(4096));
        File.Delete(path);
        Assert.Throws<WalCorruptException>(() => Reopen(4096));
    }

    [Fact]
    public void ASegmentFromAnotherWalCannotBeSplicedIn()
    {
        string other = _tmp.Sub("other");
        foreach (string dir in new[] { WalDir, other })
        {
            using Wal wal = Wal.Create(dir, s_metadata, Options(4096));
            for (ulong i = 1; i <= 100; i += 5) wal.Save(new HardState(1, 1, i), Entries.Range(i, i + 4, 1, dataBytes: dir == other ? 81 : 80), mustSync: false);
        }
        string[] ours = Directory.GetFiles(WalDir, "*.wal").Order().ToArray();
        string[] theirs = Directory.GetFiles(other, "*.wal").Order().ToArray();
        File.Copy(theirs[1], ours[1], overwrite: true);
        if (Path.GetFileName(theirs[1]) != Path.GetFileName(ours[1])) File.Move(ours[1], Path.Combine(WalDir, Path.GetFileName(theirs[1])));

        Assert.Throws<WalCorruptException>(() => Reopen(4096));
    }

    [Fact]
    public void RandomByteFlipsEitherLeaveAValidPrefixOrAreReportedAsCorruption()
    {
        const long segmentBytes = 4096;
        var all = new List<Entry>();
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(segmentBytes)))
        {
            var sizes = new Random(3);
            for (ulong i = 1; i <= 120; i += 4)
            {
                Entry[] batch = Entries.Range(i, i + 3, 1 + i / 40, dataBytes: sizes.Next(0, 120));
                all.AddRange(batch);
                wal.Save(new HardState(1 + i / 40, 1, i), batch, mustSync: false);
            }
            Assert.True(wal.SegmentPaths.Count >= 3);
        }
        string[] paths = Directory.GetFiles(WalDir, "*.wal").Order().ToArray();
        byte[][] pristine = paths.Select(File.ReadAllBytes).ToArray();
        int[] used = pristine.Select(b => Records(b)[^1].End).ToArray();

        var random = new Random(20240601);
        int prefixes = 0, refused = 0;
        for (int iteration = 0; iteration < 300; iteration++)
        {
            for (int f = 0; f < paths.Length; f++) File.WriteAllBytes(paths[f], pristine[f]);
            foreach (string broken in Directory.GetFiles(WalDir, "*.broken")) File.Delete(broken);

            int flips = random.Next(1, 4);
            for (int k = 0; k < flips; k++)
            {
                int f = random.Next(paths.Length);
                byte[] bytes = File.ReadAllBytes(paths[f]);
                int offset = random.Next(Math.Min(bytes.Length, used[f] + 64));
                if (random.Next(2) == 0) bytes[offset] ^= (byte)(1 << random.Next(8));
                else bytes[offset] = (byte)random.Next(256);
                File.WriteAllBytes(paths[f], bytes);
            }

            try
            {
                WalContents contents = Reopen(segmentBytes);
                Assert.True(contents.Entries.Count <= all.Count);
                Entries.AssertEqual(all.Take(contents.Entries.Count).ToList(), contents.Entries);
                prefixes++;
            }
            catch (WalCorruptException)
            {
                refused++;
            }
        }
        Assert.True(prefixes > 0 && refused > 0, $"prefixes={prefixes} refused={refused}");
    }

    [Fact]
    public void DamageInTheHeadOfTheLastSegmentIsRefused()
    {
        using (Wal wal = Wal.Create(WalDir, s_metadata, Options(8192)))
        {
            wal.Save(new HardState(1, 1, 3), Entries.Range(1, 3, 1), mustSync: true);
        }
        string path = Directory.GetFiles(WalDir, "*.wal").Single();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..10]);
        Assert.Throws<WalCorruptException>(() => Reopen(8192));
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
