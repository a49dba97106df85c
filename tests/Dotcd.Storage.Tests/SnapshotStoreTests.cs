using Dotcd.Raft;
using Dotcd.Storage.IO;
using Snappb = Dotcd.Api.Snappb;

namespace Dotcd.Storage.Tests;

public sealed class SnapshotStoreTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly RecordingLog _log = new();

    public void Dispose() => _tmp.Dispose();

    private string SnapDir => _tmp.Sub("snap");

    private static Snapshot Make(ulong index, ulong term, string data = "state") =>
        new(System.Text.Encoding.UTF8.GetBytes($"{data}@{index}"),
            new SnapshotMetadata(new ConfState { Voters = [1, 2, 3], Learners = [4] }, index, term));

    private static void AssertSame(Snapshot expected, Snapshot? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Metadata.Index, actual.Metadata.Index);
        Assert.Equal(expected.Metadata.Term, actual.Metadata.Term);
        Assert.True(expected.Metadata.ConfState.Equivalent(actual.Metadata.ConfState));
        Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
    }

    [Fact]
    public void ASavedSnapshotLoadsBack()
    {
        var store = new SnapshotStore(SnapDir, _log);
        Assert.Null(store.Load());
        Snapshot snapshot = Make(100, 4);
        store.Save(snapshot);

        Assert.Equal(["0000000000000004-0000000000000064.snap"], store.FileNames());
        Assert.Empty(Directory.GetFiles(SnapDir, "*.tmp"));
        AssertSame(snapshot, new SnapshotStore(SnapDir, _log).Load());
    }

    [Fact]
    public void FilesUseEtcdsSnapFormat()
    {
        var store = new SnapshotStore(SnapDir);
        store.Save(Make(7, 2));
        byte[] file = File.ReadAllBytes(Path.Combine(SnapDir, store.FileNames()[0]));
        Snappb.Snapshot container = Snappb.Snapshot.Parser.ParseFrom(file);
        Assert.Equal(Crc32C.Compute(container.Data.Span), container.Crc);
        var raft = Dotcd.Api.Raftpb.Snapshot.Parser.ParseFrom(container.Data);
        Assert.Equal(7ul, raft.Metadata.Index);
        Assert.Equal(2ul, raft.Metadata.Term);
    }

    [Fact]
    public void AnEmptySnapshotIsNotSaved()
    {
        var store = new SnapshotStore(SnapDir);
        store.Save(Snapshot.Empty);
        Assert.Empty(store.FileNames());
    }

    [Fact]
    public void ACorruptNewestSnapshotFallsBackToThePreviousOne()
    {
        var store = new SnapshotStore(SnapDir, _log);
        Snapshot older = Make(10, 1);
        store.Save(older);
        store.Save(Make(20, 2));
        string newest = Path.Combine(SnapDir, store.FileNames()[0]);
        byte[] bytes = File.ReadAllBytes(newest);
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(newest, bytes);

        AssertSame(older, store.Load());
        Assert.False(File.Exists(newest));
        Assert.True(File.Exists(newest + ".broken"));
        Assert.True(_log.Has(StorageLogLevel.Warn, "corrupt"));
    }

    [Fact]
    public void EmptyOrUndecodableFilesAreBroken()
    {
        var store = new SnapshotStore(SnapDir, _log);
        store.Save(Make(5, 1));
        File.WriteAllBytes(Path.Combine(SnapDir, SnapshotStore.FileName(1, 6)), []);
        File.WriteAllBytes(Path.Combine(SnapDir, SnapshotStore.FileName(1, 7)), [0xFF, 0xFF, 0xFF]);

        AssertSame(Make(5, 1), store.Load());
        Assert.Equal(2, Directory.GetFiles(SnapDir, "*.broken").Length);
    }

    [Fact]
    public void OnlySnapshotsTheWalRecordedAreLoaded()
    {
        var store = new SnapshotStore(SnapDir, _log);
        store.Save(Make(10, 1));
        store.Save(Make(20, 2)); // Saved, then the member crashed before the WAL marker.

        AssertSame(Make(10, 1), store.LoadNewestAvailable([WalSnapshot.Zero, new WalSnapshot(10, 1)]));
        Assert.Null(store.LoadNewestAvailable([WalSnapshot.Zero]));
        Assert.Empty(Directory.GetFiles(SnapDir, "*.broken"));
    }

    [Fact]
    public void OnlyTheNewestFilesAreKept()
    {
        var store = new SnapshotStore(SnapDir, _log, keep: 5);
        for (ulong i = 1; i <= 7; i++) store.Save(Make(i * 10, 1 + i / 3));

        Assert.Equal(
            [SnapshotStore.FileName(3, 70), SnapshotStore.FileName(3, 60), SnapshotStore.FileName(2, 50), SnapshotStore.FileName(2, 40), SnapshotStore.FileName(2, 30)],
            store.FileNames());
    }

    [Fact]
    public void ACrashLeftoverTempFileIsRemoved()
    {
        Directory.CreateDirectory(SnapDir);
        string leftover = Path.Combine(SnapDir, SnapshotStore.FileName(1, 1) + ".tmp");
        File.WriteAllBytes(leftover, [1, 2, 3]);
        var store = new SnapshotStore(SnapDir);
        Assert.False(File.Exists(leftover));
        Assert.Null(store.Load());
    }
}
